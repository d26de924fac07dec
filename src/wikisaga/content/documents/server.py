"""The document store on a Chroma server (``chroma run``), named by an ``http://`` URL.

Chroma's ``HttpClient`` waits forever for an answer and leaves its HTTP sessions open when
closed (a ``ResourceWarning`` per socket); this backend gives every request a timeout and
closes the sessions itself.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import chromadb
import httpx

from wikisaga.content.documents._chroma import CLIENTS, ChromaStore, client_settings
from wikisaga.errors import DocumentStoreUnavailable

__all__ = ["DEFAULT_PORT", "ServerDocumentStore"]

DEFAULT_PORT = 8000


def _sessions(client: Any) -> list[httpx.Client]:
    """The HTTP sessions a Chroma ``HttpClient`` holds (private attributes of chromadb)."""
    found: list[httpx.Client] = []
    for owner in (getattr(client, "_server", None), getattr(client, "_admin_client", None)):
        server = getattr(owner, "_server", owner)
        session = getattr(server, "_session", None)
        if isinstance(session, httpx.Client) and session not in found:
            found.append(session)
    return found


class ServerDocumentStore(ChromaStore):
    """The document store on the Chroma server at ``url`` (``http(s)://host[:port]``)."""

    unavailable_errors = (httpx.TransportError,)

    def __init__(self, url: str, *, timeout: float = 30.0, **options: Any) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DocumentStoreUnavailable(f"document store URL {url!r} is not http(s)://host")
        if parts.path not in ("", "/") or parts.query:
            raise DocumentStoreUnavailable(f"document store URL {url!r} must have no path")
        port = parts.port or DEFAULT_PORT
        clean = f"{parts.scheme}://{parts.hostname}:{port}"
        try:
            with CLIENTS:  # see CLIENTS: opening races another thread's close
                client = chromadb.HttpClient(
                    host=parts.hostname,
                    port=port,
                    ssl=parts.scheme == "https",
                    settings=client_settings(),
                )
        except (ValueError, httpx.HTTPError) as exc:
            # Chroma says "Could not connect to a Chroma server" as a ValueError.
            raise DocumentStoreUnavailable(f"document store {clean} is unavailable: {exc}") from exc
        self._sessions = _sessions(client)
        for session in self._sessions:
            session.timeout = httpx.Timeout(timeout)
        try:
            super().__init__(client, url=clean, **options)
        except BaseException:
            with CLIENTS:
                self._close_client_of(client)
            raise

    def _close_client_of(self, client: Any) -> None:
        client.close()
        for session in self._sessions:
            session.close()

    def _close_client(self) -> None:
        self._close_client_of(self._client)
