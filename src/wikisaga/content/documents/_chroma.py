"""The document store on Chroma, written once for both clients (embedded and server).

Two collections, shared by every project (each record names its project):

``<prefix>-chunks``
    one record per chunk: the chunk's text (embedded), id ``<doc_id>@<version>#<index>``,
    metadata ``project_id, doc_id, source_path, title, content_hash, chunk_index, start,
    end, version, revision``;
``<prefix>-documents``
    one record per document version, written after its chunks: id ``<doc_id>@<version>``,
    the embedding of the whole prose, metadata ``project_id, doc_id, source_path, title,
    content_hash, format, revision, version, chunk_count, ingest_version, user_id,
    written_at``, the prose itself (``text``) and the outline and code blocks as JSON
    (``outline``, ``code_blocks``). The prose is metadata, not the record's document,
    because Chroma indexes documents for full-text search, which costs about three times
    the rest of a write, and the chunks are what a search should find.

A version is a fresh random token per write, so a write that was cut off never shares an
id with the next one; ``revision`` orders the versions of one document. Which version is
newest and complete is decided from the records themselves (``chunk_count`` against the
chunks found), as the contract in :mod:`._base` says.

Chroma's limits are kept here: a ``get`` asks for at most :attr:`page_size` records (no more
than the client's ``get_max_batch_size()``), a filter or a delete names at most
:data:`MAX_IDS_PER_CALL` ids (SQLite refuses more than 32,766 variables in a statement),
``get`` pages come in insertion order and are sorted here. Chroma's errors are translated
into :class:`~wikisaga.errors.DocumentStoreError` at every call (:meth:`ChromaStore._calling`).
A backend gives the client, its URL, the errors that mean "unavailable", and how to close.

Tests interrupt a write through one seam, the ``fault`` option: a function called with the
name of each point in :data:`FAULT_POINTS` as a write passes it; raising there (or dying)
leaves the store as an interrupted write would.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, ClassVar, cast

from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection as ChromaCollection
from chromadb.api.types import Include, Metadata, Where
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import ChromaError

from wikisaga.content.documents._base import DocumentStore
from wikisaga.content.documents.embedding import LexicalEmbedding, SemanticEmbedding
from wikisaga.content.records import Chunk, CodeBlock, Document, DocumentInfo, Heading, document_id
from wikisaga.errors import DocumentStoreError, DocumentStoreUnavailable, WikisagaError
from wikisaga.ids import validate_project_id, validate_user_id

__all__ = [
    "DEFAULT_PREFIX",
    "FAULT_POINTS",
    "MAX_IDS_PER_CALL",
    "ChromaStore",
    "FaultHook",
    "client_settings",
]

CLIENTS = threading.Lock()
"""Held while a Chroma client of this process is opened or closed.

Chroma shares one engine between the clients of a process that name the same directory
or server, counting them, and neither opening nor closing is safe against the other: a
client opened while another closes can find the engine stopped ("Could not connect to
tenant") or gone (``KeyError``). The backend opens a store per request and per job, from
several threads, so every store here opens and closes its client holding this lock (the
work in between does not need it: the engine stays up while a client counts on it)."""


DEFAULT_PREFIX = "wikisaga"
MAX_IDS_PER_CALL = 1000
"""The most ids one filter or delete names: far below SQLite's limit of variables."""

FAULT_POINTS = ("chunks_written", "records_written", "records_deleted")
"""Where a write can be interrupted: ``put_documents`` after the new chunks of a batch and
after their document records (old versions still there); ``delete_documents`` after the
document records (chunks still there)."""

FaultHook = Callable[[str], None]

_IDS_ONLY: Include = []
_METADATA: Include = ["metadatas"]


def client_settings() -> ChromaSettings:
    """Chroma's settings for our clients: no telemetry, and no ``.env`` file read from the
    working directory (pydantic-settings would, and it is not ours)."""
    return cast(Any, ChromaSettings)(_env_file=None, anonymized_telemetry=False)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class _Record:
    id: str
    metadata: Mapping[str, Any]


def _slices(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for first in range(0, len(items), size):
        yield list(items[first : first + size])


def _version_of(chunk_id: str) -> str:
    """The document record id a chunk id belongs to (``<doc_id>@<version>``)."""
    return chunk_id.rpartition("#")[0]


def _check(document: Document) -> None:
    validate_project_id(document.project_id)
    if document.doc_id != document_id(document.project_id, document.source_path):
        raise ValueError(f"{document.source_path}: doc_id is not document_id(project, path)")
    for index, chunk in enumerate(document.chunks):
        if chunk.index != index or chunk.doc_id != document.doc_id:
            raise ValueError(f"{document.source_path}: chunk {index} is out of order")
        if not 0 <= chunk.start <= chunk.end <= len(document.text):
            raise ValueError(f"{document.source_path}: chunk {index} is outside the text")
        if document.text[chunk.start : chunk.end] != chunk.text:
            raise ValueError(f"{document.source_path}: chunk {index} is not its span")


class ChromaStore(DocumentStore):
    """The contract on a Chroma client; subclasses open and close the client."""

    unavailable_errors: ClassVar[tuple[type[BaseException], ...]] = ()
    """Errors of the client that mean the store cannot be reached (not that it refused)."""

    def __init__(
        self,
        client: ClientAPI,
        *,
        url: str,
        prefix: str = DEFAULT_PREFIX,
        page_size: int | None = None,
        embedding: LexicalEmbedding | SemanticEmbedding | None = None,
        fault: FaultHook | None = None,
    ) -> None:
        self.url = url
        self._fault = fault
        self._client = client
        self._closed = False
        self._embedding = embedding or LexicalEmbedding()
        with self._calling("opening the collections"):
            limit = client.get_max_batch_size()
            self._chunks = self._collection(f"{prefix}-chunks")
            self._documents = self._collection(f"{prefix}-documents")
        self.page_size = min(page_size or limit, limit)
        if self.page_size < 1:
            raise ValueError("page_size must be positive")

    def _collection(self, name: str) -> ChromaCollection:
        # The protocol's generic parameter is wider than the texts we embed.
        embedding = cast(Any, self._embedding)
        return self._client.get_or_create_collection(
            name, embedding_function=embedding, metadata={"wikisaga": "1"}
        )

    def _reached(self, point: str) -> None:
        if self._fault is not None:
            self._fault(point)

    # -- the boundary ------------------------------------------------------------------

    @contextmanager
    def _calling(self, what: str) -> Iterator[None]:
        """Chroma's errors as ours: unavailable, or failed (``what`` says what was tried)."""
        try:
            yield
        except WikisagaError:
            raise
        except self.unavailable_errors as exc:
            raise DocumentStoreUnavailable(
                f"document store {self.url} is unavailable ({what}): {exc}"
            ) from exc
        except (ChromaError, ValueError) as exc:
            raise DocumentStoreError(f"document store {self.url}: {what} failed: {exc}") from exc

    def _page(
        self, collection: ChromaCollection, where: Where, include: Include
    ) -> Iterator[_Record]:
        """Every record matching ``where``, a page at a time."""
        offset = 0
        while True:
            with self._calling("reading"):
                got = collection.get(
                    where=where, limit=self.page_size, offset=offset, include=include
                )
            ids = got["ids"]
            metadatas = got.get("metadatas") or [{}] * len(ids)
            for record_id, metadata in zip(ids, metadatas, strict=True):
                yield _Record(record_id, metadata or {})
            if len(ids) < self.page_size:
                return
            offset += len(ids)

    def _delete(self, collection: ChromaCollection, ids: Sequence[str]) -> None:
        for part in _slices(ids, min(self.page_size, MAX_IDS_PER_CALL)):
            with self._calling("deleting"):
                collection.delete(ids=part)

    @staticmethod
    def _where(project_id: str, doc_ids: Sequence[str] | None = None) -> Where:
        if doc_ids is None:
            return {"project_id": project_id}
        return cast(
            Where, {"$and": [{"project_id": project_id}, {"doc_id": {"$in": list(doc_ids)}}]}
        )

    # -- which version readers see -----------------------------------------------------

    def _current(
        self, project_id: str, doc_ids: Sequence[str] | None, *, spans: bool
    ) -> tuple[dict[str, _Record], list[_Record], list[str]]:
        """The newest complete version of each document, the chunks read (their ids, and
        with ``spans`` their metadata), and the ids of every record that is not part of a
        newest complete version."""
        records: list[_Record] = []
        chunks: list[_Record] = []
        for part in self._doc_id_parts(doc_ids):
            where = self._where(project_id, part)
            records.extend(self._page(self._documents, where, _METADATA))
            chunks.extend(self._page(self._chunks, where, _METADATA if spans else _IDS_ONLY))
        found = Counter(_version_of(chunk.id) for chunk in chunks)
        current: dict[str, _Record] = {}
        for record in records:
            if found[record.id] != record.metadata["chunk_count"]:
                continue  # incomplete: its write was cut off, or a delete of it was
            doc_id = str(record.metadata["doc_id"])
            best = current.get(doc_id)
            if best is None or _newer(record, best):
                current[doc_id] = record
        keep = {record.id for record in current.values()}
        stale = [record.id for record in records if record.id not in keep]
        stale += [chunk.id for chunk in chunks if _version_of(chunk.id) not in keep]
        return current, chunks, stale

    @staticmethod
    def _doc_id_parts(doc_ids: Sequence[str] | None) -> Iterator[Sequence[str] | None]:
        if doc_ids is None:
            yield None
        else:
            yield from _slices(doc_ids, MAX_IDS_PER_CALL)

    # -- writing -----------------------------------------------------------------------

    def put_documents(self, documents: Sequence[Document], *, user_id: str) -> list[Document]:
        user_id = validate_user_id(user_id)
        for document in documents:
            _check(document)
        by_project: dict[str, list[Document]] = {}
        for document in documents:
            by_project.setdefault(document.project_id, []).append(document)
        stored: dict[tuple[str, str], Document] = {}
        for project_id, batch in by_project.items():
            for document in self._put_project(project_id, batch, user_id):
                stored[(project_id, document.doc_id)] = document
        return [stored[(document.project_id, document.doc_id)] for document in documents]

    def _put_project(
        self, project_id: str, documents: list[Document], user_id: str
    ) -> list[Document]:
        latest = {document.doc_id: document for document in documents}  # the last one wins
        doc_ids = sorted(latest)
        revisions: Counter[str] = Counter()
        for part in _slices(doc_ids, MAX_IDS_PER_CALL):
            for record in self._page(self._documents, self._where(project_id, part), _METADATA):
                doc_id = str(record.metadata["doc_id"])
                revisions[doc_id] = max(revisions[doc_id], int(record.metadata["revision"]))
        written_at = time.time()
        versions = {doc_id: uuid.uuid4().hex for doc_id in doc_ids}
        new = [
            replace(latest[doc_id], revision=revisions[doc_id] + 1, project_id=project_id)
            for doc_id in doc_ids
        ]
        # Chunks first, then the records that make each version visible, then the old ones.
        chunk_rows = [
            row for document in new for row in _chunk_rows(document, versions[document.doc_id])
        ]
        self._add(self._chunks, chunk_rows, "writing chunks", searchable=True)
        self._reached("chunks_written")
        record_rows = [
            _document_row(document, versions[document.doc_id], user_id, written_at)
            for document in new
        ]
        self._add(self._documents, record_rows, "writing documents", searchable=False)
        self._reached("records_written")
        for part in _slices(doc_ids, MAX_IDS_PER_CALL):
            where = cast(
                Where,
                {
                    "$and": [
                        {"project_id": project_id},
                        {"doc_id": {"$in": part}},
                        {"version": {"$nin": [versions[doc_id] for doc_id in part]}},
                    ]
                },
            )
            with self._calling("deleting old versions"):
                self._documents.delete(where=where)
                self._chunks.delete(where=where)
        return new

    def _add(
        self,
        collection: ChromaCollection,
        rows: Sequence[tuple[str, str, dict[str, Any]]],
        what: str,
        *,
        searchable: bool,
    ) -> None:
        """Add records (id, text, metadata); ``searchable`` texts are the records'
        documents (embedded and indexed by Chroma), the others only embedded."""
        for first in range(0, len(rows), self.page_size):
            part = rows[first : first + self.page_size]
            ids = [row[0] for row in part]
            metadatas = cast(list[Metadata], [row[2] for row in part])
            with self._calling(what):
                if searchable:
                    collection.add(ids=ids, documents=[row[1] for row in part], metadatas=metadatas)
                else:
                    embeddings = self._embedding([row[1] for row in part])
                    collection.add(ids=ids, embeddings=embeddings, metadatas=metadatas)

    def delete_documents(self, project_id: str, doc_ids: Collection[str]) -> int:
        validate_project_id(project_id)
        ids = sorted(set(doc_ids))
        if not ids:
            return 0
        current, _, _ = self._current(project_id, ids, spans=False)
        parts = list(_slices(ids, MAX_IDS_PER_CALL))
        for part in parts:
            with self._calling("deleting documents"):
                self._documents.delete(where=self._where(project_id, part))
        self._reached("records_deleted")
        for part in parts:
            with self._calling("deleting chunks"):
                self._chunks.delete(where=self._where(project_id, part))
        return len(current)

    def repair(self, project_id: str) -> int:
        validate_project_id(project_id)
        _, _, stale = self._current(project_id, None, spans=False)
        records = [record_id for record_id in stale if "#" not in record_id]
        chunks = [record_id for record_id in stale if "#" in record_id]
        self._delete(self._documents, records)
        self._delete(self._chunks, chunks)
        return len(stale)

    # -- reading -----------------------------------------------------------------------

    def list_documents(self, project_id: str) -> list[DocumentInfo]:
        validate_project_id(project_id)
        current, _, _ = self._current(project_id, None, spans=False)
        infos = [_info(record.metadata) for record in current.values()]
        return sorted(infos, key=lambda info: (info.source_path, info.doc_id))

    def get_document(self, project_id: str, doc_id: str) -> Document | None:
        validate_project_id(project_id)
        found = self._documents_of(project_id, [doc_id])
        return found[0] if found else None

    def read_documents(self, project_id: str) -> list[Document]:
        validate_project_id(project_id)
        return self._documents_of(project_id, None)

    def _documents_of(self, project_id: str, doc_ids: Sequence[str] | None) -> list[Document]:
        current, chunks, _ = self._current(project_id, doc_ids, spans=True)
        spans: dict[str, list[tuple[int, int, int]]] = {}
        for chunk in chunks:
            meta = chunk.metadata
            spans.setdefault(_version_of(chunk.id), []).append(
                (int(meta["chunk_index"]), int(meta["start"]), int(meta["end"]))
            )
        documents = [
            _document(record, sorted(spans.get(record.id, []))) for record in current.values()
        ]
        return sorted(documents, key=lambda document: (document.source_path, document.doc_id))

    # -- the connection ----------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with CLIENTS:
            self._close_client()

    def _close_client(self) -> None:
        cast(Any, self._client).close()


def _newer(record: _Record, than: _Record) -> bool:
    def key(r: _Record) -> tuple[int, float, str]:
        return (int(r.metadata["revision"]), float(r.metadata["written_at"]), r.id)

    return key(record) > key(than)


def _chunk_rows(document: Document, version: str) -> Iterable[tuple[str, str, dict[str, Any]]]:
    for chunk in document.chunks:
        yield (
            f"{document.doc_id}@{version}#{chunk.index}",
            chunk.text,
            {
                "project_id": document.project_id,
                "doc_id": document.doc_id,
                "source_path": document.source_path,
                "title": document.title,
                "content_hash": document.content_hash,
                "chunk_index": chunk.index,
                "start": chunk.start,
                "end": chunk.end,
                "version": version,
                "revision": document.revision,
            },
        )


def _document_row(
    document: Document, version: str, user_id: str, written_at: float
) -> tuple[str, str, dict[str, Any]]:
    outline = [[h.text, h.level, h.offset] for h in document.outline]
    code = [[c.text, c.language, c.offset] for c in document.code_blocks]
    return (
        f"{document.doc_id}@{version}",
        document.text,
        {
            "project_id": document.project_id,
            "doc_id": document.doc_id,
            "source_path": document.source_path,
            "title": document.title,
            "content_hash": document.content_hash,
            "format": document.format,
            "revision": document.revision,
            "version": version,
            "chunk_count": len(document.chunks),
            "ingest_version": document.ingest_version,
            "user_id": user_id,
            "written_at": written_at,
            "text": document.text,
            "outline": json.dumps(outline, ensure_ascii=False),
            "code_blocks": json.dumps(code, ensure_ascii=False),
        },
    )


def _info(meta: Mapping[str, Any]) -> DocumentInfo:
    return DocumentInfo(
        project_id=str(meta["project_id"]),
        doc_id=str(meta["doc_id"]),
        source_path=str(meta["source_path"]),
        title=str(meta["title"]),
        content_hash=str(meta["content_hash"]),
        format=str(meta["format"]),
        revision=int(meta["revision"]),
        chunk_count=int(meta["chunk_count"]),
        ingest_version=str(meta["ingest_version"]),
        user_id=str(meta["user_id"]),
    )


def _document(record: _Record, spans: list[tuple[int, int, int]]) -> Document:
    meta = record.metadata
    text = str(meta["text"])
    doc_id = str(meta["doc_id"])
    return Document(
        project_id=str(meta["project_id"]),
        doc_id=doc_id,
        source_path=str(meta["source_path"]),
        title=str(meta["title"]),
        format=str(meta["format"]),
        content_hash=str(meta["content_hash"]),
        text=text,
        outline=tuple(
            Heading(text=t, level=int(level), offset=int(offset))
            for t, level, offset in json.loads(str(meta["outline"]))
        ),
        code_blocks=tuple(
            CodeBlock(text=t, language=language, offset=int(offset))
            for t, language, offset in json.loads(str(meta["code_blocks"]))
        ),
        chunks=tuple(
            Chunk(doc_id=doc_id, index=index, start=start, end=end, text=text[start:end])
            for index, start, end in spans
        ),
        ingest_version=str(meta["ingest_version"]),
        revision=int(meta["revision"]),
    )
