"""``POST /generate``: a project's documents in; pages, relations, plan and source map out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from wikisaga.content.generator import (
    GENERATOR_VERSION,
    DocumentRelations,
    Generation,
    Graph,
    PageFile,
    SourceMap,
    generate_wiki,
    rewrite_pages,
)
from wikisaga.content.records import Chunk, CodeBlock, Document, Heading
from wikisaga.ids import validate_project_id
from wikisaga.services._common import (
    ERROR_RESPONSES,
    ErrorBody,
    PayloadTooLarge,
    Unprocessable,
    UserId,
)
from wikisaga.services._common.deps import internal_token
from wikisaga.services.orchestrator.config import OrchestratorLimits, generator_mark
from wikisaga.services.orchestrator.deps import Analyses, Limits, Rewriting
from wikisaga.services.orchestrator.schemas import (
    DocumentIn,
    GenerateRequest,
    GenerateResponse,
    SourceMapBody,
)

__all__ = ["router"]

router = APIRouter(
    tags=["generate"],
    dependencies=[Depends(internal_token)],
    responses={
        **ERROR_RESPONSES,
        503: {"model": ErrorBody, "description": "Busy with other generations: retry later"},
    },
)


def _document(project_id: str, item: DocumentIn, limits: OrchestratorLimits) -> Document:
    """The record of one document of the request, its spans checked against its text."""
    where = f"document {item.doc_id!r}"
    if len(item.text) > limits.max_document_chars:
        raise PayloadTooLarge(
            f"{where} has {len(item.text)} characters of text, more than "
            f"{limits.max_document_chars}",
            code="document_too_large",
        )
    if item.project_id is not None and item.project_id != project_id:
        raise Unprocessable(
            f"{where} belongs to project {item.project_id!r}, not {project_id!r}",
            code="invalid_documents",
        )
    size = len(item.text)
    chunks = []
    for chunk in item.chunks:
        if not chunk.start <= chunk.end <= size:
            raise Unprocessable(
                f"{where}: chunk {chunk.index} spans [{chunk.start}, {chunk.end}) of a text "
                f"of {size} characters",
                code="invalid_chunk",
            )
        text = item.text[chunk.start : chunk.end]
        if chunk.text is not None and chunk.text != text:
            raise Unprocessable(
                f"{where}: the text of chunk {chunk.index} is not text[start:end]",
                code="invalid_chunk",
            )
        chunks.append(Chunk(item.doc_id, chunk.index, chunk.start, chunk.end, text))
    if len({chunk.index for chunk in chunks}) != len(chunks):
        raise Unprocessable(f"{where}: two chunks have the same index", code="invalid_chunk")
    for heading in item.outline:
        if heading.offset > size:
            raise Unprocessable(
                f"{where}: a heading starts at {heading.offset}, past the text's end",
                code="invalid_outline",
            )
    return Document(
        project_id=project_id,
        doc_id=item.doc_id,
        source_path=item.source_path,
        title=item.title,
        format=item.format,
        content_hash=item.content_hash,
        text=item.text,
        outline=tuple(Heading(h.text, h.level, h.offset) for h in item.outline),
        code_blocks=tuple(CodeBlock("", c.language, c.offset) for c in item.code_blocks),
        chunks=tuple(chunks),
    )


def _answer(
    project_id: str,
    generation: Generation,
    files: Sequence[PageFile],
    mark: str,
    rewritten: Sequence[str],
    warnings: Sequence[str],
    analysed: Sequence[str],
) -> dict[str, Any]:
    return {
        "project_id": project_id,
        "generator": GENERATOR_VERSION,
        "files": [{"file_path": f.file_path, "content": f.content} for f in files],
        "unchanged": list(generation.unchanged),
        "deleted": list(generation.deleted),
        "changed_documents": list(generation.changed_documents),
        "plan": [page.to_json() for page in generation.plan],
        "relations": {
            **generation.graph.to_json(),
            "documents": [relations.to_json() for relations in generation.relations],
        },
        "source_map": {**generation.source_map.to_json(), "generator": mark},
        "rewritten": list(rewritten),
        "warnings": list(warnings),
        "analysed_documents": list(analysed),
    }


def _previous(body: SourceMapBody, mark: str) -> SourceMap:
    """The source map handed back; one of another mark (another generator version or
    rewriting setup) keeps a generator name that matches none, so no page is reused."""
    data = body.model_dump()
    if data["generator"] == mark:
        data["generator"] = GENERATOR_VERSION
    elif data["generator"] == GENERATOR_VERSION:
        data["generator"] = f"{GENERATOR_VERSION}+offline"
    return SourceMap.from_json(data)


@router.post("/generate", response_model=GenerateResponse)
def generate(
    body: GenerateRequest,
    _user_id: UserId,
    limits: Limits,
    rewrite: Rewriting,
    analyses: Analyses,
) -> JSONResponse:
    """Generate the wiki of a project's documents.

    Every page is Markdown with YAML front matter under ``wiki/``; its prose is sentences
    of the documents, each with a citation to its passage. ``relations`` holds the merged
    entities and triples (for the graph) and each document's own (``documents``: send
    them back next time, with ``source_map``, and only changed documents are read again
    and only pages whose plan changed are sent; the others are listed in ``unchanged``,
    and pages no longer planned in ``deleted``). With rewriting on (``WIKISAGA_LLM_*``),
    the summaries of the pages sent are rephrased (``rewritten``); a page whose rewrite
    fails keeps its offline text and ``warnings`` says why. A source map is reused only by
    the setup that made it (its ``generator`` names the rewriting model, if any).

    422 ``validation_error`` for a body that does not match the schema (no documents, say),
    422 ``invalid_documents`` for a document given twice or of another project, 422
    ``invalid_chunk`` / ``invalid_outline`` for spans outside a document's text, 413
    ``too_many_documents`` / ``document_too_large`` / ``payload_too_large`` past the
    limits, 503 ``busy`` when the service is generating already and the turn did not come.
    """
    project_id = validate_project_id(body.project_id)
    if len(body.documents) > limits.max_documents:
        raise PayloadTooLarge(
            f"{len(body.documents)} documents, more than {limits.max_documents} per request",
            code="too_many_documents",
        )
    documents = [_document(project_id, item, limits) for item in body.documents]
    relations = [DocumentRelations.from_json(item.model_dump()) for item in body.relations]
    mark = generator_mark(rewrite)
    kept = analyses.snapshot()
    # The previous generation as generate_wiki takes one in process: the source map
    # handed back (or one that matches no page), and the analyses kept from earlier
    # requests; the relations come from the request.
    previous = Generation(
        files=(),
        unchanged=(),
        deleted=(),
        source_map=(
            _previous(body.source_map, mark)
            if body.source_map is not None
            else SourceMap(generator="", documents=(), pages=())
        ),
        relations=(),
        graph=Graph(entities=(), triples=()),
        changed_documents=(),
        analyses=kept,
    )
    generation = generate_wiki(
        documents, previous=previous, relations=relations, project=project_id
    )
    analysed = [a.doc_id for key, a in generation.analyses.items() if kept.get(key) is not a]
    analyses.keep(generation.analyses, {d.doc_id: len(d.text) for d in documents})
    files: Sequence[PageFile] = generation.files
    rewritten: Sequence[str] = ()
    warnings: Sequence[str] = ()
    if rewrite is not None and files:
        result = rewrite_pages(files, rewrite)
        files, rewritten, warnings = result.files, result.rewritten, result.warnings
    return JSONResponse(_answer(project_id, generation, files, mark, rewritten, warnings, analysed))
