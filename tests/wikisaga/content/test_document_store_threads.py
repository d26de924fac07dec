"""Document stores opened and closed from several threads of one process at once.

Chroma shares one engine between a process's clients of a directory, or of a server;
without the process's lock around opening and closing (``_chroma.CLIENTS``), an embedded
open racing a close found the engine stopped ("Could not connect to tenant") or gone
(``KeyError``), about one open in five here, and the backend, which opens a store per
request and per job, ran into it. The server store's clients share an engine the same
way and take the same lock; no failure of theirs was seen without it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from wikisaga.content.documents import DocumentStore, open_document_store

THREADS = 4
ROUNDS = 15


def open_and_close_from_threads(open_store: Callable[[], DocumentStore]) -> list[str]:
    """Every thread opens and closes a store ``ROUNDS`` times; the errors, by repr."""
    start = threading.Barrier(THREADS)
    errors: list[str] = []
    opened: list[str] = []

    def worker() -> None:
        start.wait()
        for _ in range(ROUNDS):
            try:
                with open_store() as store:
                    opened.append(store.url)
            except BaseException as exc:  # noqa: BLE001 - every one is reported
                errors.append(repr(exc))

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(opened) + len(errors) == THREADS * ROUNDS
    return errors


def test_the_embedded_store_opens_and_closes_from_several_threads(tmp_path: Path) -> None:
    directory = tmp_path / "chroma"
    open_document_store(directory).close()
    assert open_and_close_from_threads(lambda: open_document_store(directory)) == []


def test_the_server_store_opens_and_closes_from_several_threads(chroma_url: str) -> None:
    assert open_and_close_from_threads(lambda: open_document_store(chroma_url)) == []
