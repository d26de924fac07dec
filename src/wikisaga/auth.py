"""Headers and token checks shared by every service and every internal client.

The guide's form works verbatim::

    headers = {"X-User-ID": user_id}
    headers.update(get_internal_headers())  # includes X-INTERNAL-TOKEN

or, shorter, ``get_internal_headers(user_id)``.
"""

from __future__ import annotations

import hmac
import os

from wikisaga.config import Settings
from wikisaga.errors import ConfigError

__all__ = [
    "INTERNAL_TOKEN_HEADER",
    "USER_ID_HEADER",
    "check_internal_token",
    "get_internal_headers",
]

INTERNAL_TOKEN_HEADER = "X-INTERNAL-TOKEN"  # noqa: S105 - a header name, not a secret
"""The shared-secret header every internal endpoint requires (DESIGN §3)."""

USER_ID_HEADER = "X-User-ID"
"""The acting user; trusted only on a request that carries a valid internal token."""


def get_internal_headers(
    user_id: str | None = None, settings: Settings | None = None
) -> dict[str, str]:
    """The headers an internal client sends: the internal token, and the user when given.

    The token comes from ``settings.internal_token`` when settings are given, else from the
    ``WIKISAGA_INTERNAL_TOKEN`` environment variable. Without a token there is nothing a
    client could authenticate with, so :class:`~wikisaga.config.ConfigError` is raised.
    """
    if settings is not None:
        token = settings.token
    else:
        token = os.environ.get("WIKISAGA_INTERNAL_TOKEN", "").strip() or None
    if not token:
        raise ConfigError(
            "no internal token: set WIKISAGA_INTERNAL_TOKEN to the secret the services share"
        )
    headers = {INTERNAL_TOKEN_HEADER: token}
    if user_id is not None:
        headers[USER_ID_HEADER] = user_id
    return headers


def check_internal_token(given: str | None, expected: str) -> bool:
    """Whether ``given`` equals ``expected``, compared in constant time.

    A missing header or an empty expected token never matches. Both are compared as UTF-8
    bytes, so a non-ASCII header value is a plain mismatch rather than an error.
    """
    if given is None or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
