"""Signed session cookies and CSRF tokens for the dashboard.

A session is a small JSON object in a cookie, signed with HMAC-SHA256 under the server's
secret (``WIKISAGA_DASHBOARD_SECRET``, else a random one kept in the data directory):
the signed-in user and the id of the key they signed in with (``None`` before sign-in),
a CSRF token, and when it was issued. The cookie is ``HttpOnly``, ``SameSite=Strict``,
``Secure`` over HTTPS, and expires after :data:`MAX_AGE` seconds. It holds nothing
secret: the internal token never leaves the server.

Every POST must carry the session's CSRF token (a form field ``csrf`` or the
``X-CSRF-Token`` header; the synchronizer pattern) and, when the browser sends one, an
``Origin`` (or ``Referer``) of the dashboard's own origin.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from wikisaga.config import Settings

__all__ = [
    "COOKIE",
    "MAX_AGE",
    "Session",
    "SessionSigner",
    "same_origin",
    "server_secret",
]

COOKIE = "wikisaga_session"
MAX_AGE = 12 * 3600
"""Seconds a session lasts after sign-in."""


def server_secret(settings: Settings) -> bytes:
    """The secret that signs sessions: the setting, else a file made once (mode 0600)."""
    if settings.dashboard_secret is not None:
        return settings.dashboard_secret.get_secret_value().encode("utf-8")
    path = Path(settings.data_dir) / "dashboard-secret"
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secret.hex())
    return secret


@dataclass(frozen=True, slots=True)
class Session:
    """One browser's session; ``user`` is ``None`` until sign-in."""

    csrf: str
    issued_at: float
    user: str | None = None
    key_id: str | None = None

    @classmethod
    def anonymous(cls) -> Session:
        return cls(csrf=secrets.token_urlsafe(24), issued_at=time.time())

    def signed_in(self, user: str, key_id: str) -> Session:
        """A new session for ``user``, with a new CSRF token (no fixation)."""
        return replace(
            Session.anonymous(), user=user, key_id=key_id, csrf=secrets.token_urlsafe(24)
        )

    def check_csrf(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(
            self.csrf.encode("utf-8"), str(token).encode("utf-8")
        )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Turns sessions into cookie values and back, refusing any it did not sign."""

    def __init__(self, secret: bytes, *, max_age: float = MAX_AGE) -> None:
        self._key = hashlib.sha256(b"wikisaga-dashboard-session\0" + secret).digest()
        self.max_age = max_age

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def dumps(self, session: Session) -> str:
        body = {"c": session.csrf, "t": session.issued_at, "u": session.user, "k": session.key_id}
        payload = _b64(json.dumps(body, separators=(",", ":")).encode("utf-8"))
        return f"{payload}.{self._mac(payload)}"

    def loads(self, value: str | None) -> Session | None:
        """The session in ``value``, or ``None`` if it is absent, forged or expired."""
        if not value or len(value) > 4096 or "." not in value:
            return None
        payload, _, mac = value.partition(".")
        try:
            if not hmac.compare_digest(self._mac(payload), mac):
                return None
            body: dict[str, Any] = json.loads(_unb64(payload))
            session = Session(
                csrf=str(body["c"]),
                issued_at=float(body["t"]),
                user=None if body.get("u") is None else str(body["u"]),
                key_id=None if body.get("k") is None else str(body["k"]),
            )
        except (ValueError, KeyError, TypeError, UnicodeError):
            return None
        if time.time() - session.issued_at > self.max_age:
            return None
        return session


def same_origin(origin: str | None, referer: str | None, *, scheme: str, host: str) -> bool:
    """Whether the browser says the request came from the dashboard's own pages.

    Browsers send ``Origin`` on every POST; an absent one (and no ``Referer``) is a
    client that is not a browser, left to the CSRF token alone. ``Origin: null`` (a
    sandboxed frame, a ``data:`` page) is refused."""
    claimed = origin or referer
    if not claimed:
        return True
    if claimed == "null":
        return False
    parts = urlsplit(claimed)
    return parts.scheme == scheme and parts.netloc.lower() == host.lower()
