"""Constants and helpers of the service tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
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
