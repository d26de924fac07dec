"""The document store contract: what every backend must do, and nothing about how.

A document store keeps a project's documents (DESIGN §11): each one whole (text, title,
outline, code blocks) and as chunks, each chunk with the metadata a citation needs
(``project_id``, ``doc_id``, ``source_path``, ``title``, ``content_hash``, ``chunk_index``,
``start`` and ``end``: character offsets into the document's text).

Versions
    Every write of a document is a new *version* under new record ids, numbered by its
    ``revision`` (1, 2, ...). The version's chunks are written first, then the document
    record; only then are older versions deleted. A version is *complete* when its document
    record and all its chunks are there. Readers see, for each document, its newest complete
    version and nothing else, so a write that is cut off (a crash, Chroma going away) leaves
    each document either as it was or as it was meant to become, never half replaced.
    :meth:`DocumentStore.repair` deletes what such a write left behind (records of versions
    that are not the newest complete one); writing the document again does too.

Reading
    Reads page through the store in pages of at most :attr:`DocumentStore.page_size`
    records, never send a list of ids longer than that, and return documents sorted by
    source path (then id), whatever order the backend keeps them in.

Ownership
    Every version records the user whose write made it (:attr:`DocumentInfo.user_id`).
    Whether another user may write to a project is the caller's rule (the ingest's), not
    the store's.

One writer per project at a time: two concurrent writes of the same document may each
delete the other's version (readers then see the older one, or none) until one is run
again. Every method validates the project id (:func:`wikisaga.ids.validate_project_id`)
and raises :class:`~wikisaga.errors.DocumentStoreError` (or its subclass
:class:`~wikisaga.errors.DocumentStoreUnavailable`) for a failure of the store itself.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Sequence
from types import TracebackType

from wikisaga.content.records import Document, DocumentInfo

__all__ = ["DocumentStore"]


class DocumentStore(abc.ABC):
    """A project's documents, whole and as chunks, each in its newest complete version."""

    url: str
    """Where the store is: ``http://host:port`` of a Chroma server, or the embedded
    store's directory as a ``file://`` URL."""

    page_size: int
    """The most records one read or delete names or returns."""

    # -- writing -----------------------------------------------------------------------

    @abc.abstractmethod
    def put_documents(self, documents: Sequence[Document], *, user_id: str) -> list[Document]:
        """Store each document as a new version, replacing its previous ones.

        For every document its chunks are written before its document record, and older
        versions are deleted only after both, so readers never see a document half
        replaced. The documents may belong to several projects; each keeps its
        ``doc_id``. Returns them as stored, their :attr:`~Document.revision` set (one more
        than the newest stored one, 1 for a new document). Raises
        :class:`~wikisaga.errors.InvalidProjectId` or ``InvalidUserId`` before writing
        anything, and ``ValueError`` for a document whose chunks do not match its text.
        """

    @abc.abstractmethod
    def delete_documents(self, project_id: str, doc_ids: Collection[str]) -> int:
        """Delete these documents of ``project_id``, every version; return how many of them
        were there. Ids not stored are ignored. The document records go first, so an
        interrupted delete leaves only chunks that no reader sees (until :meth:`repair`)."""

    @abc.abstractmethod
    def repair(self, project_id: str) -> int:
        """Delete every record of ``project_id`` that is not part of a document's newest
        complete version (left by an interrupted write or delete); return how many."""

    # -- reading -----------------------------------------------------------------------

    @abc.abstractmethod
    def list_documents(self, project_id: str) -> list[DocumentInfo]:
        """What is stored of ``project_id``, one entry per document, sorted by source
        path; chunks are counted, not read."""

    @abc.abstractmethod
    def get_document(self, project_id: str, doc_id: str) -> Document | None:
        """One document, whole, with its chunks in order; ``None`` if it is not stored."""

    @abc.abstractmethod
    def read_documents(self, project_id: str) -> list[Document]:
        """Every document of ``project_id``, whole, with chunks, sorted by source path."""

    # -- the connection ----------------------------------------------------------------

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection (files, sockets); the store is not used afterwards.
        Closing twice is harmless."""

    def __enter__(self) -> DocumentStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
