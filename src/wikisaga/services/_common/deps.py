"""Annotated FastAPI dependencies shared by every service.

- :data:`InternalToken` — the request carries the right ``X-INTERNAL-TOKEN`` (compared in
  constant time); missing or wrong is **401** ``unauthorized``. The app's middleware
  already refuses such requests before their body is read; the dependency repeats the
  check so a route is protected by its own signature, and documents the header.
- :data:`UserId` — the ``X-User-ID`` header, resolved only after the token check.
  Missing is **400** ``missing_user_id`` (the caller is authenticated, the request is
  incomplete: a 401 would wrongly suggest a credential problem); malformed is **400**
  ``invalid_user_id``, and so is the header given twice. A user id is UTF-8 on the wire,
  1-256 printable characters without surrounding spaces, compared in NFC form
  (:func:`wikisaga.ids.validate_user_id`).
- :data:`OptionalUserId` — the same, or ``None`` when absent.
- :data:`IdempotencyKey` — the optional ``Idempotency-Key`` header, 1-200 printable ASCII.

These, and every service's own dependencies, are ``async def``: FastAPI runs a plain
``def`` dependency in its thread pool, one hop per dependency per request, and these only
check a header or read the app's state. (A guide-style ``POST /save_file`` took 2.98 ms
with its dependencies in threads, 1.86 ms without.) ``test_route_dependencies`` keeps it so.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from wikisaga.auth import check_internal_token
from wikisaga.errors import InvalidUserId
from wikisaga.ids import MAX_ID_LENGTH, validate_user_id
from wikisaga.services._common.errors import BadRequest, Unauthorized

__all__ = [
    "IdempotencyKey",
    "InternalToken",
    "OptionalUserId",
    "UserId",
    "idempotency_key",
    "internal_token",
    "optional_user_id",
    "user_id",
]

MAX_IDEMPOTENCY_KEY_LENGTH = 200


async def internal_token(
    request: Request,
    x_internal_token: Annotated[
        str | None,
        Header(
            alias="X-INTERNAL-TOKEN",
            description="The shared internal secret (WIKISAGA_INTERNAL_TOKEN).",
        ),
    ] = None,
) -> str:
    """Check ``X-INTERNAL-TOKEN`` against the app's token; return it when it matches."""
    expected: str = request.app.state.internal_token
    if not check_internal_token(x_internal_token, expected):
        raise Unauthorized("missing or wrong X-INTERNAL-TOKEN")
    return expected


InternalToken = Annotated[str, Depends(internal_token)]


def _one_user(request: Request) -> None:
    # Two X-User-ID headers name two users: which one acts would be a guess (a proxy that
    # adds its own after the client's would see the client's win), so neither does.
    if len(request.headers.getlist("x-user-id")) > 1:
        raise InvalidUserId("X-User-ID is given more than once: send one user")


def _checked_user_id(value: str) -> str:
    # The server hands header values over decoded as Latin-1, byte for byte; clients send
    # the user id as UTF-8, so the same name is the same user whatever its letters. Bytes
    # that are not UTF-8 are refused rather than guessed at.
    try:
        text = value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise InvalidUserId("X-User-ID must be UTF-8 text") from None
    try:
        return validate_user_id(text)
    except InvalidUserId as exc:
        raise InvalidUserId(f"X-User-ID: {exc.message}") from None


async def optional_user_id(
    _token: InternalToken,
    request: Request,
    x_user_id: Annotated[
        str | None,
        Header(alias="X-User-ID", description="The acting user (trusted after the token)."),
    ] = None,
) -> str | None:
    """The acting user, or ``None``; only read once the internal token was accepted."""
    if x_user_id is None:
        return None
    _one_user(request)
    return _checked_user_id(x_user_id)


OptionalUserId = Annotated[str | None, Depends(optional_user_id)]


async def user_id(
    _token: InternalToken,
    request: Request,
    x_user_id: Annotated[
        str,
        Header(
            alias="X-User-ID",
            description=f"The acting user (trusted after the token); 1-{MAX_ID_LENGTH} "
            "printable characters.",
        ),
    ],
) -> str:
    """The acting user. Declared required, so the OpenAPI document says so; the error
    handler turns FastAPI's "missing header" into 400 ``missing_user_id``."""
    _one_user(request)
    return _checked_user_id(x_user_id)


UserId = Annotated[str, Depends(user_id)]


async def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Replaying a write with the same key returns the first response.",
        ),
    ] = None,
) -> str | None:
    """The ``Idempotency-Key`` header, validated, or ``None``."""
    if key is None:
        return None
    if not 0 < len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH or not (key.isascii() and key.isprintable()):
        raise BadRequest(
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters",
            code="invalid_idempotency_key",
        )
    return key


IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]
