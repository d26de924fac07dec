"""The guide's name for :mod:`wikisaga.auth`: ``from service_utils import get_internal_headers``
in the guide is ``from wikisaga.service_utils import get_internal_headers`` here."""

from __future__ import annotations

from wikisaga.auth import (
    INTERNAL_TOKEN_HEADER,
    USER_ID_HEADER,
    check_internal_token,
    get_internal_headers,
)

__all__ = [
    "INTERNAL_TOKEN_HEADER",
    "USER_ID_HEADER",
    "check_internal_token",
    "get_internal_headers",
]
