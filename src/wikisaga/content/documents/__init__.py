"""Documents: one contract (:class:`DocumentStore`), two Chroma backends, opened from a
location.

=============================  =========================================================
location                       backend
=============================  =========================================================
a directory, or ``file://...`` ``EmbeddedDocumentStore`` (Chroma ``PersistentClient``)
``http://host:port``           ``ServerDocumentStore`` (Chroma ``HttpClient``, ``chroma run``)
=============================  =========================================================

:func:`document_store_for` opens the one the settings name: ``WIKISAGA_CHROMA_URL`` if set,
else ``<data_dir>/chroma``. Chroma is imported only when a store is opened: it takes most
of a second, and commands that need no documents should not pay for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from wikisaga.content.documents._base import DocumentStore

if TYPE_CHECKING:
    from wikisaga.config import Settings
    from wikisaga.content.documents.embedded import EmbeddedDocumentStore
    from wikisaga.content.documents.server import ServerDocumentStore

__all__ = [
    "DocumentStore",
    "EmbeddedDocumentStore",
    "ServerDocumentStore",
    "document_store_for",
    "open_document_store",
]


def open_document_store(location: str | Path, **options: Any) -> DocumentStore:
    """Open the document store at ``location``: an ``http(s)://`` URL is a Chroma server,
    anything else (a path, a ``file://`` URL) the directory of an embedded store.
    ``options`` go to the backend (``prefix``, ``page_size``; ``timeout`` for a server)."""
    text = str(location)
    if text.startswith(("http://", "https://")):
        from wikisaga.content.documents.server import ServerDocumentStore  # noqa: PLC0415

        return ServerDocumentStore(text, **options)
    from wikisaga.content.documents.embedded import EmbeddedDocumentStore  # noqa: PLC0415

    if text.startswith("file://"):
        text = unquote(urlsplit(text).path)
    options.pop("timeout", None)
    return EmbeddedDocumentStore(text, **options)


def document_store_for(settings: Settings, **options: Any) -> DocumentStore:
    """The document store the settings name (``chroma_url``, else ``<data_dir>/chroma``),
    embedding with the function ``settings.embedding`` names."""
    if "embedding" not in options:
        from wikisaga.content.documents.embedding import embedding_for  # noqa: PLC0415

        options["embedding"] = embedding_for(settings.embedding)
    if settings.chroma_url:
        options.setdefault("timeout", settings.network_timeout)
        return open_document_store(settings.chroma_url, **options)
    return open_document_store(settings.data_dir / "chroma", **options)


def __getattr__(name: str) -> Any:
    if name == "EmbeddedDocumentStore":
        from wikisaga.content.documents.embedded import EmbeddedDocumentStore  # noqa: PLC0415

        return EmbeddedDocumentStore
    if name == "ServerDocumentStore":
        from wikisaga.content.documents.server import ServerDocumentStore  # noqa: PLC0415

        return ServerDocumentStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
