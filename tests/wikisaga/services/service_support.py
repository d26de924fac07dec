"""Constants and helpers of the service tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

TOKEN = "test-internal-token-0123456789"
OWNER = "alice"
OTHER = "mallory"

ClientFactory = Callable[..., httpx.Client]


def service_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a service process under test."""
    return {"WIKISAGA_INTERNAL_TOKEN": TOKEN, "WIKISAGA_DATA_DIR": str(data_dir), **extra}


def headers(user: str | None = OWNER, token: str | None = TOKEN) -> dict[str, str]:
    """Request headers with the given user and token (``None`` leaves a header out)."""
    result = {}
    if token is not None:
        result["X-INTERNAL-TOKEN"] = token
    if user is not None:
        result["X-User-ID"] = user
    return result


def tree_digest(root: Path) -> dict[str, str]:
    """Every entry below ``root``: file hashes, symlink targets, directories.

    SQLite's shared-memory index (``-shm``) is left out: readers update it.
    """
    entries: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if rel.endswith("-shm"):
                continue
            if path.is_symlink():
                entries[rel] = f"symlink:{os.readlink(path)}"
            elif path.is_dir():
                entries[rel] = "dir"
            else:
                entries[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return entries


# -- holding a filesystem service at an observable point ---------------------------------


@contextmanager
def held_database(storage_root: Path) -> Iterator[None]:
    """Hold the write lock of a filesystem service's metadata database (``meta.db`` under
    ``storage_root``, the service's ``<data_dir>/filesystem``) for the ``with`` block.

    Every write request then stops at its commit, after its checks and its blob files,
    while reads go on (the database is in WAL mode). The service waits up to 30 s for the
    lock, so the block must end well before that.
    """
    conn = sqlite3.connect(storage_root / "meta.db", isolation_level=None, timeout=30)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
    finally:
        conn.close()


_IN_PROGRESS = re.compile(r"^wikisaga_http_requests_in_progress\{[^}]*\} ([0-9.]+)$", re.M)


def requests_in_progress(client: httpx.Client) -> int:
    """How many requests the service is handling, not counting this one (its ``/metrics``)."""
    match = _IN_PROGRESS.search(client.get("/metrics").text)
    assert match is not None, "the service reports no wikisaga_http_requests_in_progress"
    return int(float(match.group(1))) - 1


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Poll ``condition`` (state of another process) until it holds; fail naming ``what``
    if it does not within ``timeout`` seconds."""
    pause = threading.Event()
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting until {what}")
        pause.wait(0.002)


def blob_file(storage_root: Path, project_id: str, content: str) -> Path:
    """Where a filesystem service stores ``content`` of ``project_id`` when it is stored
    as a file (contents over 256 KiB)."""
    digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
    return storage_root / "projects" / project_id / "objects" / digest
