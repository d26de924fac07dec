"""What is particular to each Chroma backend: opening, closing, errors at the boundary."""

from __future__ import annotations

import gc
import warnings
from pathlib import Path

import httpx
import pytest
from chromadb.errors import InternalError
from content_support import free_port

from wikisaga.config import Settings
from wikisaga.content.documents import (
    EmbeddedDocumentStore,
    ServerDocumentStore,
    document_store_for,
    open_document_store,
)
from wikisaga.content.documents._chroma import ChromaStore
from wikisaga.errors import DocumentStoreError, DocumentStoreUnavailable


def test_the_settings_pick_the_embedded_store_in_the_data_dir(tmp_path: Path) -> None:
    with document_store_for(Settings(data_dir=tmp_path)) as store:
        assert isinstance(store, EmbeddedDocumentStore)
        assert store.url == (tmp_path / "chroma").absolute().as_uri()
    assert (tmp_path / "chroma").is_dir()


def test_the_settings_pick_a_server_when_a_chroma_url_is_set(chroma_url: str) -> None:
    with document_store_for(Settings(chroma_url=chroma_url)) as store:
        assert isinstance(store, ServerDocumentStore)
        assert store.url == chroma_url


def test_a_file_url_opens_the_embedded_store(tmp_path: Path) -> None:
    with open_document_store((tmp_path / "x").as_uri()) as store:
        assert isinstance(store, EmbeddedDocumentStore)


def test_a_server_nobody_listens_on_is_unavailable_in_one_clear_line() -> None:
    url = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(DocumentStoreUnavailable) as raised:
        open_document_store(url)

    assert str(raised.value).startswith(f"document store {url} is unavailable")
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/some/path", "http://:8000"])
def test_a_server_url_that_is_not_just_a_host_and_port_is_refused(url: str) -> None:
    with pytest.raises(DocumentStoreUnavailable, match=r"must have no path|not http"):
        open_document_store(url)


def test_an_embedded_store_on_a_file_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")

    with pytest.raises(DocumentStoreUnavailable, match="cannot be opened"):
        open_document_store(tmp_path / "file")


def test_closing_a_server_store_closes_its_http_sessions(chroma_url: str) -> None:
    """Chroma's own close() leaves them open: a ResourceWarning per socket."""
    store = open_document_store(chroma_url, prefix="closing-test")
    store.list_documents("p")
    sessions = store._sessions  # type: ignore[attr-defined]
    assert sessions
    assert not any(session.is_closed for session in sessions)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        store.close()
        store.close()
        del store
        gc.collect()

    assert all(session.is_closed for session in sessions)
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_a_server_store_gives_every_request_a_timeout(chroma_url: str) -> None:
    with open_document_store(chroma_url, prefix="timeout-test", timeout=2.5) as store:
        timeouts = {s.timeout.read for s in store._sessions}  # type: ignore[attr-defined]
    assert timeouts == {2.5}


@pytest.mark.parametrize(
    ("error", "translated"),
    [
        (InternalError("too many SQL variables"), DocumentStoreError),
        (ValueError("Batch size 5462 exceeds maximum batch size 5461"), DocumentStoreError),
    ],
)
def test_chroma_errors_become_document_store_errors(
    tmp_path: Path, error: Exception, translated: type[DocumentStoreError]
) -> None:
    with open_document_store(tmp_path / "chroma") as store:
        assert isinstance(store, ChromaStore)
        with pytest.raises(translated, match="reading failed") as raised, store._calling("reading"):
            raise error
    assert raised.value.__cause__ is error
    assert not isinstance(raised.value, DocumentStoreUnavailable)


def test_a_dropped_connection_is_unavailable(chroma_url: str) -> None:
    with open_document_store(chroma_url, prefix="drop-test") as store:
        assert isinstance(store, ChromaStore)
        with pytest.raises(DocumentStoreUnavailable), store._calling("reading"):
            raise httpx.ConnectError("connection refused")
