"""The dashboard's users, their API keys, and which projects each one made.

An operator adds users (``wikisaga users add alice``): each gets one random API key,
printed once and stored only as a salted scrypt hash, so the store never holds a key
that would sign anyone in. A key reads ``wsk_<key id>_<secret>``: the key id (8 hex
digits, stored in clear) finds the row, the secret is checked against the hash in
constant time. Removing a user removes the key; sessions signed in with it end, since
every request checks that the key it was made with is still the user's.

The store is a SQLite file in the data directory (``users.db``), next to the saga log's
default. It also records which user created each project from the dashboard, so a
project is one user's from its first upload, before any service has heard of it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from wikisaga.errors import WikisagaError
from wikisaga.ids import validate_project_id, validate_user_id

__all__ = ["KEY_PREFIX", "UserError", "UserInfo", "UserStore", "hash_secret"]

KEY_PREFIX = "wsk_"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
_DUMMY_SALT = b"\0" * 16

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL UNIQUE,
    salt BLOB NOT NULL,
    key_hash BLOB NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS projects (
    project_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS projects_by_user ON projects (user_id);
"""


class UserError(WikisagaError):
    """A user that cannot be added or removed as asked."""


@dataclass(frozen=True, slots=True)
class UserInfo:
    """A user as ``wikisaga users list`` shows it (never the key)."""

    user_id: str
    key_id: str
    created_at: float


def hash_secret(secret: str, salt: bytes) -> bytes:
    """The stored form of a key's secret: scrypt with the key's own salt."""
    return hashlib.scrypt(secret.encode("utf-8"), salt=salt, **_SCRYPT)


def _split(key: str) -> tuple[str, str] | None:
    if not key.startswith(KEY_PREFIX):
        return None
    key_id, sep, secret = key[len(KEY_PREFIX) :].partition("_")
    if not sep or len(key_id) != 8 or not secret or len(secret) > 128:
        return None
    return key_id, secret


class UserStore:
    """Users, keys and dashboard projects in one SQLite file (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.executescript(_SCHEMA)  # commits by itself
        finally:
            db.close()

    @classmethod
    def in_data_dir(cls, data_dir: str | Path) -> UserStore:
        return cls(Path(data_dir) / "users.db")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            try:
                db.execute("PRAGMA busy_timeout = 30000")
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            finally:
                db.close()

    # -- users ------------------------------------------------------------------------

    def add(self, user_id: str) -> str:
        """Add ``user_id`` and return its new key (shown once, never stored)."""
        user_id = validate_user_id(user_id)
        key_id = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        digest = hash_secret(secret, salt)
        with self._connect() as db:
            if db.execute("SELECT 1 FROM users WHERE user_id = ?", (user_id,)).fetchone():
                raise UserError(f"user {user_id!r} exists; remove it first to give a new key")
            db.execute(
                "INSERT INTO users (user_id, key_id, salt, key_hash, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (user_id, key_id, salt, digest, time.time()),
            )
        return f"{KEY_PREFIX}{key_id}_{secret}"

    def remove(self, user_id: str) -> None:
        """Remove ``user_id`` and its key; :class:`UserError` if there is no such user."""
        with self._connect() as db:
            gone = db.execute("DELETE FROM users WHERE user_id = ?", (user_id,)).rowcount
        if not gone:
            raise UserError(f"no user {user_id!r}")

    def list_users(self) -> list[UserInfo]:
        """Every user, by name."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT user_id, key_id, created_at FROM users ORDER BY user_id"
            ).fetchall()
        return [UserInfo(str(u), str(k), float(c)) for u, k, c in rows]

    def verify(self, key: str) -> UserInfo | None:
        """The user whose key this is, or ``None`` (checked in constant time)."""
        parts = _split(key.strip())
        key_id, secret = parts if parts is not None else ("", key)
        with self._connect() as db:
            row = db.execute(
                "SELECT user_id, salt, key_hash, created_at FROM users WHERE key_id = ?",
                (key_id,),
            ).fetchone()
        if row is None:
            hash_secret(secret[:128], _DUMMY_SALT)  # as long as a real check takes
            return None
        user_id, salt, stored, created_at = row
        if not hmac.compare_digest(hash_secret(secret, bytes(salt)), bytes(stored)):
            return None
        return UserInfo(str(user_id), key_id, float(created_at))

    def key_id_of(self, user_id: str) -> str | None:
        """The id of the user's current key, or ``None`` when the user is gone."""
        with self._connect() as db:
            row = db.execute("SELECT key_id FROM users WHERE user_id = ?", (user_id,)).fetchone()
        return None if row is None else str(row[0])

    # -- projects ---------------------------------------------------------------------

    def claim_project(self, project_id: str, user_id: str) -> str:
        """Record ``user_id`` as the project's creator unless someone is; return the
        project's recorded user."""
        project_id = validate_project_id(project_id)
        with self._connect() as db:
            db.execute(
                "INSERT OR IGNORE INTO projects (project_id, user_id, created_at) VALUES (?, ?, ?)",
                (project_id, user_id, time.time()),
            )
            row = db.execute(
                "SELECT user_id FROM projects WHERE project_id = ?", (project_id,)
            ).fetchone()
        return str(row[0])

    def project_user(self, project_id: str) -> str | None:
        """Who created the project from the dashboard, or ``None``."""
        with self._connect() as db:
            row = db.execute(
                "SELECT user_id FROM projects WHERE project_id = ?", (project_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    def projects_of(self, user_id: str) -> list[str]:
        """The projects ``user_id`` created from the dashboard, by name."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT project_id FROM projects WHERE user_id = ? ORDER BY project_id",
                (user_id,),
            ).fetchall()
        return [str(row[0]) for row in rows]
