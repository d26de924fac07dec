"""Fixtures of the content tests: one real Chroma server for the session, fresh stores.

The server is ``chroma run`` (the binary the chromadb package installs next to this
interpreter), on a free loopback port, with its data in a temporary directory; it is
stopped at the end of the session. When it cannot start, its tests skip, except in CI (env
``CI`` set), where that is a failure.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest
from content_support import OpenStore, free_port

from ci_support import unavailable
from wikisaga.content.documents import DocumentStore, open_document_store

STARTUP_SECONDS = 30.0


def chroma_binary() -> str | None:
    """The ``chroma`` command of this interpreter's environment, else one on ``PATH``."""
    beside = Path(sys.executable).parent / "chroma"
    if beside.exists():
        return str(beside)
    return shutil.which("chroma")


def _cannot_start(message: str) -> NoReturn:
    unavailable(message, "Chroma server tests")


@pytest.fixture(scope="session")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a ``chroma run`` server shared by the session (tests isolate themselves
    by collection prefix)."""
    binary = chroma_binary()
    if binary is None:
        _cannot_start("the chroma command is not installed")
        return
    directory = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = directory / "server.log"
    command = [binary, "run", "--path", str(directory / "data"), "--host", "127.0.0.1"]
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [*command, "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if server.poll() is not None:
                _cannot_start(f"chroma run exited with {server.returncode}: {log_path}")
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                _cannot_start(f"chroma run did not answer in {STARTUP_SECONDS:g} s: {log_path}")
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def _drop(store: DocumentStore) -> None:
    """Delete the store's collections (a test's own prefix) on the shared server."""
    client: Any = store._client  # type: ignore[attr-defined]  # test cleanup only
    for collection in (store._chunks, store._documents):  # type: ignore[attr-defined]
        client.delete_collection(collection.name)


@pytest.fixture
def open_embedded(tmp_path: Path) -> Iterator[OpenStore]:
    """Opens embedded stores on one fresh directory; closes them all at the end."""
    opened: list[DocumentStore] = []

    def open_store(**options: Any) -> DocumentStore:
        store = open_document_store(tmp_path / "chroma", **options)
        opened.append(store)
        return store

    yield open_store
    for store in reversed(opened):
        store.close()


@pytest.fixture
def open_server(chroma_url: str) -> Iterator[OpenStore]:
    """Opens stores on the session's server under a prefix of this test's own; drops its
    collections and closes the stores at the end."""
    prefix = f"t{uuid.uuid4().hex[:12]}"
    opened: list[DocumentStore] = []

    def open_store(**options: Any) -> DocumentStore:
        store = open_document_store(chroma_url, prefix=prefix, **options)
        opened.append(store)
        return store

    yield open_store
    for store in reversed(opened):
        store.close()
    if opened:
        with open_document_store(chroma_url, prefix=prefix) as cleaner:
            _drop(cleaner)


@pytest.fixture
def project() -> str:
    """A project id no other test uses."""
    return f"p-{uuid.uuid4().hex[:12]}"
