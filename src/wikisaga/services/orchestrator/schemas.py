"""Request and response bodies of the orchestrator service.

A document travels as the store gives it (:class:`~wikisaga.content.records.Document`,
field for field, so ``dataclasses.asdict(document)`` is a valid item): its text, outline,
chunk spans and code block languages. A chunk's ``text`` may be left out (it is
``text[start:end]``; sending it only doubles the body) and code blocks' ``text`` is never
read, so a caller that wants a small body sends spans only.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from wikisaga.ids import PROJECT_ID_PATTERN

__all__ = [
    "ChunkIn",
    "CodeBlockIn",
    "DocumentIn",
    "DocumentRelationsBody",
    "EntityBody",
    "GenerateRequest",
    "GenerateResponse",
    "GeneratedFile",
    "HeadingIn",
    "PageEntryBody",
    "RelationsBody",
    "SourceMapBody",
    "TripleBody",
]

_Kind = Literal["name", "code", "phrase"]
_Predicate = Literal[
    "is_a",
    "uses",
    "depends_on",
    "part_of",
    "provides",
    "alternative_to",
    "extends",
    "implements",
    "supports",
    "written_in",
    "created_by",
    "related_to",
]
# The vocabularies of wikisaga.content.relations (EntityKind, Predicate), spelt out for
# the OpenAPI document; a test checks that they stay the same.


class HeadingIn(BaseModel):
    """One heading of a document's outline."""

    text: str = Field(max_length=2000)
    level: int = Field(ge=1, le=6)
    offset: int = Field(ge=0)


class ChunkIn(BaseModel):
    """A passage: ``text[start:end]`` of its document (``text``, if sent, must be it)."""

    model_config = ConfigDict(extra="ignore")
    index: int = Field(ge=0)
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    text: str | None = None
    doc_id: str | None = None


class CodeBlockIn(BaseModel):
    """A code block; only its language is read."""

    model_config = ConfigDict(extra="ignore")
    language: str = Field(default="", max_length=100)
    offset: int = Field(default=0, ge=0)


class DocumentIn(BaseModel):
    """One document, as the document store gives it."""

    model_config = ConfigDict(extra="ignore")
    doc_id: str = Field(min_length=1, max_length=200)
    source_path: str = Field(min_length=1, max_length=1024)
    title: str = Field(max_length=2000)
    format: str = Field(default="text", max_length=40)
    content_hash: str = Field(min_length=1, max_length=200)
    text: str
    outline: list[HeadingIn] = Field(default_factory=list)
    chunks: list[ChunkIn] = Field(default_factory=list)
    code_blocks: list[CodeBlockIn] = Field(default_factory=list)
    project_id: str | None = Field(
        default=None, description="If given, it must be the request's project_id."
    )


class EntityBody(BaseModel):
    """An entity, as the relation extractor gives it."""

    key: str
    name: str
    kind: _Kind
    type: str | None = None
    mentions: int = Field(ge=0)
    aliases: list[str] = Field(default_factory=list)
    doc_ids: list[str] = Field(default_factory=list)


class TripleBody(BaseModel):
    """A relation with its provenance, as the relation extractor gives it."""

    subject: str
    predicate: _Predicate
    object: str
    doc_id: str
    source: str
    sentence: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    method: str
    confidence: float = Field(gt=0, le=1)


class DocumentRelationsBody(BaseModel):
    """One document's relations, kept from an earlier answer (``relations.documents``)."""

    doc_id: str
    fingerprint: str
    extractor: str = Field(
        default="",
        description="The version of the extraction rules that found them; relations of "
        "another version (or of none) are extracted again.",
    )
    entities: list[EntityBody]
    triples: list[TripleBody]


class PageEntryBody(BaseModel):
    """One page of the plan: path, kind, title, importance, its stamp, its sources."""

    file_path: str
    kind: str
    title: str
    importance: float
    stamp: str
    sources: list[str]
    related: list[str]


class SourceMapBody(BaseModel):
    """Which pages draw on which document (``sources``), each page's stamp and each
    document's fingerprint; hand it back to regenerate only what changed."""

    model_config = ConfigDict(extra="ignore")
    generator: str
    documents: dict[str, str]
    pages: list[PageEntryBody]
    sources: dict[str, list[str]] = Field(default_factory=dict)


class GenerateRequest(BaseModel):
    """The documents of a project; optionally what an earlier answer returned."""

    project_id: str = Field(
        description="Project id: [A-Za-z0-9][A-Za-z0-9._-]{0,127}, no '..'.",
        json_schema_extra={"pattern": PROJECT_ID_PATTERN},
    )
    documents: list[DocumentIn] = Field(min_length=1)
    relations: list[DocumentRelationsBody] = Field(
        default_factory=list,
        description="Per-document relations of an earlier answer (its relations.documents): "
        "those whose fingerprint still matches are used instead of extracting again.",
    )
    source_map: SourceMapBody | None = Field(
        default=None,
        description="The source map of an earlier answer: pages whose plan did not change "
        "are then listed in 'unchanged' instead of being sent again.",
    )


class GeneratedFile(BaseModel):
    """One page: its path under ``wiki/`` and its Markdown."""

    file_path: str
    content: str


class RelationsBody(BaseModel):
    """The corpus's merged relations, and each document's (to hand back next time)."""

    entities: list[EntityBody]
    triples: list[TripleBody]
    documents: list[DocumentRelationsBody]


class GenerateResponse(BaseModel):
    """A generation: the pages to write, the pages still right, the pages to delete, the
    plan, the relations and the source map."""

    project_id: str
    generator: str
    files: list[GeneratedFile]
    unchanged: list[str]
    deleted: list[str]
    changed_documents: list[str]
    plan: list[PageEntryBody]
    relations: RelationsBody
    source_map: SourceMapBody
    rewritten: list[str] = Field(
        default_factory=list,
        description="Pages whose summary a language model rephrased (WIKISAGA_LLM_*).",
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="Why pages kept their offline summary when rewriting was on.",
    )
    analysed_documents: list[str] = Field(
        default_factory=list,
        description="Documents analysed for this request; the others' analyses were kept "
        "from an earlier one.",
    )
