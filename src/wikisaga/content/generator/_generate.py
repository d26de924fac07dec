"""One generation: documents in; pages, relations, the plan and the source map out.

:func:`generate_wiki` analyses every document (reusing the analysis of a document whose
fingerprint did not change, when the previous :class:`Generation` is at hand), takes each
document's relations from those handed in when their fingerprint matches and extracts
the others, merges them, plans every page and renders those whose plan changed.

Given the previous generation's :class:`SourceMap`, a page whose stamp (a hash of its
plan, which holds everything it shows) is unchanged is not rendered again: its path is
listed in :attr:`Generation.unchanged`, and the previous file stands. The pages that draw
on a changed document have a changed plan (their sources' content hashes are part of it),
and so do the pages whose plan changed for any other reason; those are rendered. Laying
:attr:`Generation.files` over the previous files and removing :attr:`Generation.deleted`
gives, byte for byte, what a full generation of the same documents writes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wikisaga.content.generator._analysis import DocumentAnalysis, analyse, fingerprint
from wikisaga.content.generator._corpus import Corpus
from wikisaga.content.generator._model import stamp
from wikisaga.content.generator._plan import plan_pages
from wikisaga.content.generator._relations import (
    DocumentRelations,
    Graph,
    document_relations,
    merge_relations,
)
from wikisaga.content.generator._render import render_page
from wikisaga.content.records import Document
from wikisaga.content.relations import EXTRACTOR_VERSION

__all__ = [
    "GENERATOR_VERSION",
    "WIKI_ROOT",
    "Generation",
    "InvalidDocuments",
    "PageEntry",
    "PageFile",
    "SourceMap",
    "generate_wiki",
]

GENERATOR_VERSION = "wikisaga-generator/1"
"""Changes whenever the pages made of the same documents change; part of every stamp."""

WIKI_ROOT = "wiki"
"""The folder every page's file path starts with."""


class InvalidDocuments(ValueError):
    """The documents cannot make a wiki: none at all, one given twice, or documents of
    several projects. The message says which."""


@dataclass(frozen=True, slots=True)
class PageFile:
    """One page to write: ``file_path`` under :data:`WIKI_ROOT`, ``content`` Markdown."""

    file_path: str
    content: str


@dataclass(frozen=True, slots=True)
class PageEntry:
    """One page of the plan, as the source map keeps it."""

    file_path: str
    kind: str
    title: str
    importance: float
    stamp: str
    sources: tuple[str, ...]
    """The ids of the documents the page draws on, sorted."""
    related: tuple[str, ...]
    """File paths of the pages it points readers to."""

    def to_json(self) -> dict[str, Any]:
        return {
            "file_path": self.file_path,
            "kind": self.kind,
            "title": self.title,
            "importance": self.importance,
            "stamp": self.stamp,
            "sources": list(self.sources),
            "related": list(self.related),
        }


@dataclass(frozen=True, slots=True)
class SourceMap:
    """Which pages draw on which document, with each page's stamp and each document's
    fingerprint: what the next generation needs to regenerate only what changed."""

    generator: str
    documents: tuple[tuple[str, str], ...]
    """``(doc_id, fingerprint)`` of every document, sorted."""
    pages: tuple[PageEntry, ...]
    """Every page of the plan, sorted by file path."""

    def pages_of(self, doc_id: str) -> tuple[str, ...]:
        """The file paths of the pages that draw on document ``doc_id``."""
        return tuple(page.file_path for page in self.pages if doc_id in page.sources)

    def to_json(self) -> dict[str, Any]:
        by_source: dict[str, list[str]] = {doc_id: [] for doc_id, _ in self.documents}
        for page in self.pages:
            for doc_id in page.sources:
                by_source.setdefault(doc_id, []).append(page.file_path)
        return {
            "generator": self.generator,
            "documents": dict(self.documents),
            "sources": by_source,
            "pages": [page.to_json() for page in self.pages],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SourceMap:
        """The map :meth:`to_json` wrote (``sources`` is derived, so it is not read)."""
        return cls(
            generator=str(data["generator"]),
            documents=tuple(sorted((str(k), str(v)) for k, v in data["documents"].items())),
            pages=tuple(
                PageEntry(
                    file_path=str(page["file_path"]),
                    kind=str(page["kind"]),
                    title=str(page["title"]),
                    importance=float(page["importance"]),
                    stamp=str(page["stamp"]),
                    sources=tuple(str(s) for s in page["sources"]),
                    related=tuple(str(r) for r in page["related"]),
                )
                for page in data["pages"]
            ),
        )


@dataclass(frozen=True)
class Generation:
    """What one generation made (see the module docstring)."""

    files: tuple[PageFile, ...]
    """The pages rendered this time, sorted by path: all of them, unless a previous
    source map let unchanged ones be skipped."""
    unchanged: tuple[str, ...]
    """File paths of pages whose previous file is still right."""
    deleted: tuple[str, ...]
    """File paths of the previous plan that this plan no longer has."""
    source_map: SourceMap
    relations: tuple[DocumentRelations, ...]
    """Each document's relations, sorted by document id: hand them to the next one."""
    graph: Graph
    """The merged relations of the corpus."""
    changed_documents: tuple[str, ...]
    """Ids of the documents that are new or changed since the previous generation."""
    analyses: Mapping[str, DocumentAnalysis] = field(default_factory=dict, repr=False)
    """Each document's analysis by fingerprint, for the next in-process generation."""

    @property
    def plan(self) -> tuple[PageEntry, ...]:
        return self.source_map.pages


def _project(documents: Sequence[Document]) -> str:
    projects = Counter(document.project_id for document in documents)
    if len(projects) > 1:
        raise InvalidDocuments(
            "documents of several projects cannot make one wiki: " + ", ".join(sorted(projects))
        )
    return next(iter(projects))


def _checked(documents: Iterable[Document]) -> list[Document]:
    ordered = sorted(documents, key=lambda d: d.doc_id)
    if not ordered:
        raise InvalidDocuments("no documents: a wiki is generated from at least one document")
    seen: set[str] = set()
    for document in ordered:
        if document.doc_id in seen:
            raise InvalidDocuments(f"document {document.doc_id!r} is given twice")
        seen.add(document.doc_id)
    return ordered


def generate_wiki(
    documents: Iterable[Document],
    *,
    previous: Generation | SourceMap | None = None,
    relations: Iterable[DocumentRelations] = (),
    project: str | None = None,
) -> Generation:
    """The wiki of ``documents`` (see the module docstring).

    ``previous`` is the last generation (in process) or its source map (from a caller that
    kept it); ``relations`` are per-document relations kept from before, used for each
    document whose fingerprint they carry when the same extraction rules made them
    (:data:`~wikisaga.content.relations.EXTRACTOR_VERSION`). ``project`` names the wiki
    (default: the documents' project id). Raises :class:`InvalidDocuments` (a
    ``ValueError``) when there is no document, a document is given twice, or the
    documents belong to several projects.
    """
    ordered = _checked(documents)
    name = project or _project(ordered)
    previous_map = previous.source_map if isinstance(previous, Generation) else previous
    known = dict(previous.analyses) if isinstance(previous, Generation) else {}
    offered = [*relations, *(previous.relations if isinstance(previous, Generation) else ())]
    pool = {(r.doc_id, r.fingerprint): r for r in offered if r.extractor == EXTRACTOR_VERSION}

    analyses = []
    for document in ordered:
        analysis = known.get(fingerprint(document))
        if analysis is None or analysis.doc_id != document.doc_id:
            analysis = analyse(document)
        analyses.append(analysis)
    per_document = []
    for document, analysis in zip(ordered, analyses, strict=True):
        kept = pool.get((analysis.doc_id, analysis.fingerprint))
        per_document.append(kept or document_relations(analysis, document.text))
    graph = merge_relations(per_document, topics={a.title_key for a in analyses if a.title_key})
    plans = plan_pages(Corpus(analyses, per_document, graph), name)

    old_stamps: dict[str, str] = {}
    old_documents: dict[str, str] = {}
    if previous_map is not None and previous_map.generator == GENERATOR_VERSION:
        old_stamps = {page.file_path: page.stamp for page in previous_map.pages}
        old_documents = dict(previous_map.documents)
    files, unchanged, entries = [], [], []
    for plan in plans:
        file_path = f"{WIKI_ROOT}/{plan.path}"
        page_stamp = stamp(plan, GENERATOR_VERSION)
        if old_stamps.get(file_path) == page_stamp:
            unchanged.append(file_path)
        else:
            files.append(PageFile(file_path, render_page(plan, GENERATOR_VERSION)))
        entries.append(
            PageEntry(
                file_path=file_path,
                kind=plan.kind,
                title=plan.title,
                importance=plan.importance,
                stamp=page_stamp,
                sources=tuple(source.doc_id for source in plan.sources),
                related=tuple(f"{WIKI_ROOT}/{path}" for path in plan.related),
            )
        )
    planned = {entry.file_path for entry in entries}
    before = {page.file_path for page in previous_map.pages} if previous_map else set()
    deleted = sorted(before - planned)
    return Generation(
        files=tuple(files),
        unchanged=tuple(unchanged),
        deleted=tuple(deleted),
        source_map=SourceMap(
            generator=GENERATOR_VERSION,
            documents=tuple((a.doc_id, a.fingerprint) for a in analyses),
            pages=tuple(entries),
        ),
        relations=tuple(per_document),
        graph=graph,
        changed_documents=tuple(
            a.doc_id for a in analyses if old_documents.get(a.doc_id) != a.fingerprint
        ),
        analyses={a.fingerprint: a for a in analyses},
    )
