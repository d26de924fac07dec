"""What a page is made of, resolved: every sentence, link and table row it will show.

A :class:`PagePlan` holds everything its page's rendering reads (the text of each quoted
sentence and where it is cited, the titles and paths of the pages it links to), so the
page is a pure function of its plan: equal plans, equal pages. That is what makes
regeneration incremental: a page whose plan's :func:`stamp` did not change is not
rendered again. Plans hold only tuples, strings and numbers (their ``repr`` is their
identity).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from wikisaga.content.generator._mermaid import Diagram

__all__ = [
    "Citation",
    "EntityBody",
    "EntityRef",
    "GlossaryBody",
    "IndexBody",
    "PageBody",
    "PageLink",
    "PagePlan",
    "RelationRow",
    "RelationshipsBody",
    "SourceBody",
    "SourceRef",
    "Statement",
    "TopicBody",
    "stamp",
]


@dataclass(frozen=True, slots=True)
class SourceRef:
    """A document a page draws on: its id, source path and content hash (the SHA-256 of
    the file it was read from, so a reader can tell which version a page was made from)."""

    doc_id: str
    path: str
    content_hash: str


@dataclass(frozen=True, slots=True)
class Citation:
    """Where a statement comes from: a passage of a document, and the wiki path (with
    anchor) of that passage on the document's own page."""

    doc_id: str
    title: str
    passage: int
    target: str


@dataclass(frozen=True, slots=True)
class Statement:
    """A sentence of a source, verbatim, with its citation."""

    text: str
    citation: Citation


@dataclass(frozen=True, slots=True)
class PageLink:
    """A link to another page of the wiki."""

    title: str
    path: str


@dataclass(frozen=True, slots=True)
class EntityRef:
    """An entity, by name, and its page when it has one."""

    name: str
    path: str | None


@dataclass(frozen=True, slots=True)
class RelationRow:
    """One relation, shown as a row: subject, predicate (the words), object, citation."""

    subject: EntityRef
    predicate: str
    object: EntityRef
    citation: Citation
    support: int
    """How many sentences state it."""


@dataclass(frozen=True, slots=True)
class IndexBody:
    project: str
    about: tuple[Statement, ...]
    topics: tuple[tuple[PageLink, int], ...]
    entities: tuple[tuple[PageLink, Statement | None], ...]
    documents: tuple[PageLink, ...]
    document_count: int
    glossary: PageLink | None
    relationships: PageLink | None


@dataclass(frozen=True, slots=True)
class TopicBody:
    overview: tuple[Statement, ...]
    documents: tuple[tuple[PageLink, Statement | None], ...]
    entities: tuple[EntityRef, ...]
    relations: tuple[RelationRow, ...]
    diagram: Diagram | None
    related: tuple[PageLink, ...]


@dataclass(frozen=True, slots=True)
class EntityBody:
    name: str
    aliases: tuple[str, ...]
    definition: Statement | None
    statements: tuple[Statement, ...]
    outgoing: tuple[RelationRow, ...]
    incoming: tuple[RelationRow, ...]
    related: tuple[RelationRow, ...]
    mentioned_in: tuple[PageLink, ...]
    topics: tuple[PageLink, ...]
    diagram: Diagram | None


@dataclass(frozen=True, slots=True)
class GlossaryBody:
    entries: tuple[tuple[EntityRef, Statement], ...]


@dataclass(frozen=True, slots=True)
class RelationshipsBody:
    diagram: Diagram | None
    rows: tuple[RelationRow, ...]
    shown_in_diagram: int


@dataclass(frozen=True, slots=True)
class SourceBody:
    source_path: str
    format: str
    summary: tuple[Statement, ...]
    outline: tuple[tuple[str, int, str], ...]
    """``(heading, level, wiki path of its passage)``."""
    passages: tuple[tuple[int, str, Statement | None], ...]
    """``(number, section, opening statement)`` for every passage."""
    code_languages: tuple[str, ...]
    topic: PageLink | None
    entities: tuple[PageLink, ...]
    related: tuple[PageLink, ...]


PageBody = IndexBody | TopicBody | EntityBody | GlossaryBody | RelationshipsBody | SourceBody


@dataclass(frozen=True, slots=True)
class PagePlan:
    """One page of the plan: where it goes, what it is, what it draws on, what it shows.

    ``path`` is relative to the wiki's root (``entities/fastapi.md``); ``importance`` is in
    ``[0, 1]``; ``related`` are the wiki paths of the pages it points readers to.
    """

    path: str
    kind: str
    title: str
    importance: float
    sources: tuple[SourceRef, ...]
    related: tuple[str, ...]
    body: PageBody


def stamp(plan: PagePlan, version: str) -> str:
    """The identity of what ``plan`` renders to under generator ``version``."""
    return hashlib.sha256(f"{version}\0{plan!r}".encode("utf-8", "surrogatepass")).hexdigest()
