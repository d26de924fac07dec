"""What the content tests share: documents made to order, and an interruption."""

from __future__ import annotations

import socket
from collections.abc import Callable

from wikisaga.content.chunking import ChunkingPolicy
from wikisaga.content.documents import DocumentStore
from wikisaga.content.ingest import make_document
from wikisaga.content.records import Chunk, Document, document_id

OpenStore = Callable[..., DocumentStore]
"""Opens a store on a test's one location; keyword arguments go to the backend."""


def free_port() -> int:
    """A loopback port nobody listens on (now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Interrupted(Exception):
    """Raised at a fault point: the write stops there, as if the process had died."""


def interrupt_at(point: str, *, after: int = 0) -> Callable[[str], None]:
    """A fault hook that raises :class:`Interrupted` the ``after + 1``-th time a write
    reaches ``point``."""
    seen = 0

    def hook(reached: str) -> None:
        nonlocal seen
        if reached == point:
            if seen == after:
                raise Interrupted(point)
            seen += 1

    return hook


def markdown(project: str, path: str, body: str, policy: ChunkingPolicy | None = None) -> Document:
    """The document of a Markdown file ``path`` holding ``body``."""
    if policy is None:
        return make_document(project, path, body.encode())
    return make_document(project, path, body.encode(), policy=policy)


def many_chunks(project: str, path: str, count: int) -> Document:
    """A document of ``count`` one-word chunks, made without the parser (fast)."""
    words = [f"w{n}" for n in range(count)]
    text = " ".join(words)
    doc_id = document_id(project, path)
    chunks: list[Chunk] = []
    offset = 0
    for index, word in enumerate(words):
        chunks.append(Chunk(doc_id, index, offset, offset + len(word), word))
        offset += len(word) + 1
    return Document(
        project_id=project,
        doc_id=doc_id,
        source_path=path,
        title=path,
        format="text",
        content_hash=f"hash-{count}",
        text=text,
        chunks=tuple(chunks),
        ingest_version="test",
    )
