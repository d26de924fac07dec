"""The records of content: what parsing makes, what the document store keeps and gives back.

All are frozen dataclasses, so a reader (the page generator, relation extraction) can hold
and share them freely. Offsets are character offsets (Python ``str`` indices) into a
document's :attr:`~Document.text`, the prose that parsing kept: a heading's offset is where
its line starts, a chunk is ``text[start:end]``, and a code block's offset is where in the
prose it stood, so a citation can point at a passage and a page can put code back in place.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = [
    "Chunk",
    "CodeBlock",
    "Document",
    "DocumentInfo",
    "Heading",
    "ParsedDocument",
    "document_id",
]


@dataclass(frozen=True)
class Heading:
    """One heading of a document's outline: its text, level (1 to 6) and offset."""

    text: str
    level: int
    offset: int


@dataclass(frozen=True)
class CodeBlock:
    """A block of code, kept apart from the prose; ``language`` is ``""`` when not given."""

    text: str
    language: str
    offset: int


@dataclass(frozen=True)
class ParsedDocument:
    """What a parser makes of one file: title, prose, outline and code, nothing stored yet.

    ``text`` is the prose in reading order: headings and paragraphs, one block per line
    group, blocks separated by a blank line. Code, scripts, styles and markup are not in
    it.
    """

    title: str
    text: str
    outline: tuple[Heading, ...] = ()
    code_blocks: tuple[CodeBlock, ...] = ()


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: ``document.text[start:end] == text``.

    Chunks are about 350 words, cut at headings and paragraphs; neighbours within a section
    overlap, so ``start`` of one may be before ``end`` of the previous.
    """

    doc_id: str
    index: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class DocumentInfo:
    """What the store knows of a document without reading its text or chunks.

    ``revision`` counts the document's stored versions (1 for the first); ``ingest_version``
    names the parsing and chunking rules it was made with, so that new rules re-ingest it;
    ``user_id`` is the user whose ingest wrote it.
    """

    project_id: str
    doc_id: str
    source_path: str
    title: str
    content_hash: str
    format: str
    revision: int
    chunk_count: int
    ingest_version: str
    user_id: str


@dataclass(frozen=True)
class Document:
    """One source document, whole: its identity, prose, outline, code blocks and chunks.

    ``doc_id`` is :func:`document_id` of project and source path, so it is stable across
    ingests; ``content_hash`` is the SHA-256 of the file's bytes. ``revision`` is 0 for a
    document not stored yet; the store sets it.
    """

    project_id: str
    doc_id: str
    source_path: str
    title: str
    format: str
    content_hash: str
    text: str
    outline: tuple[Heading, ...] = ()
    code_blocks: tuple[CodeBlock, ...] = ()
    chunks: tuple[Chunk, ...] = ()
    ingest_version: str = ""
    revision: int = 0


def document_id(project_id: str, source_path: str) -> str:
    """The stable id of the document at ``source_path`` in ``project_id``: ``doc-`` and 32
    hex digits of a SHA-256 over both (unambiguous: they are joined by a NUL)."""
    digest = hashlib.sha256(f"{project_id}\0{source_path}".encode()).hexdigest()
    return f"doc-{digest[:32]}"
