"""The embedded document store: Chroma's ``PersistentClient`` on a directory (the default,
``<data_dir>/chroma``). One process at a time should write to it; never fork while it is
open (a forked child's client hangs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import chromadb

from wikisaga.content.documents._chroma import CLIENTS, ChromaStore, client_settings
from wikisaga.errors import DocumentStoreUnavailable

__all__ = ["EmbeddedDocumentStore"]


class EmbeddedDocumentStore(ChromaStore):
    """The document store in a directory of this machine (created if missing)."""

    unavailable_errors = (OSError,)

    def __init__(self, path: str | Path, **options: Any) -> None:
        directory = Path(path).absolute()
        url = directory.as_uri()
        try:
            directory.mkdir(parents=True, exist_ok=True)
            with CLIENTS:  # see CLIENTS: opening races another thread's close
                client = chromadb.PersistentClient(
                    path=str(directory),
                    settings=client_settings(),
                )
        except (OSError, ValueError, RuntimeError) as exc:
            raise DocumentStoreUnavailable(f"document store {url} cannot be opened: {exc}") from exc
        try:
            super().__init__(client, url=url, **options)
        except BaseException:
            with CLIENTS:
                cast(Any, client).close()
            raise
