"""Turning validated write requests into store changes and HTTP answers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from wikisaga.services._common import BadRequest, PayloadTooLarge, Unprocessable
from wikisaga.services.filesystem.config import FilesystemLimits
from wikisaga.services.filesystem.store import (
    Change,
    ChangeResult,
    FileStore,
    Idempotency,
    WriteOutcome,
)

__all__ = [
    "REPLAY_HEADER",
    "check_count",
    "check_unique",
    "encode_content",
    "results_renderer",
    "undo",
    "write",
]

REPLAY_HEADER = "Idempotent-Replayed"


def results_renderer(
    response: type[BaseModel], result: type[BaseModel], project_id: str
) -> Callable[[list[ChangeResult]], dict[str, Any]]:
    """Render a multi-file write's results as ``response`` of ``result`` items."""

    def render(results: list[ChangeResult]) -> dict[str, Any]:
        return response.model_validate(
            {
                "project_id": project_id,
                "results": [
                    result.model_validate(
                        {
                            "path": r.path,
                            "action": r.action,
                            "version": r.version,
                            "previous_version": r.previous_version,
                        }
                    )
                    for r in results
                ],
            }
        ).model_dump()

    return render


def encode_content(content: str, path: str, limits: FilesystemLimits) -> bytes:
    """The UTF-8 bytes of ``content``; 413 over the file limit, 422 if not encodable."""
    # A str of more characters than the limit has at least that many bytes: refuse early.
    if len(content) > limits.max_file_bytes:
        raise _file_too_large(path, limits)
    try:
        data = content.encode("utf-8")
    except UnicodeEncodeError as e:
        raise Unprocessable(
            f"content of {path!r} is not valid Unicode text (lone surrogate)",
            code="invalid_content",
        ) from e
    if len(data) > limits.max_file_bytes:
        raise _file_too_large(path, limits)
    return data


def _file_too_large(path: str, limits: FilesystemLimits) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"content of {path!r} is larger than {limits.max_file_bytes} bytes",
        code="file_too_large",
    )


def check_count(count: int, limits: FilesystemLimits) -> None:
    """Refuse a request naming more files than the limit (413)."""
    if count > limits.max_files_per_request:
        raise PayloadTooLarge(
            f"{count} files in one request; the limit is {limits.max_files_per_request}",
            code="too_many_files",
        )


def check_unique(paths: Sequence[str]) -> None:
    """Refuse a request naming one path twice: its outcome would depend on order."""
    seen: set[str] = set()
    for path in paths:
        if path in seen:
            raise BadRequest(f"path {path!r} appears more than once", code="duplicate_path")
        seen.add(path)


def write(
    store: FileStore,
    request: Request,
    *,
    project_id: str,
    user_id: str,
    changes: Sequence[Change],
    render: Callable[[list[ChangeResult]], dict[str, Any]],
    idempotency_key: str | None,
    fingerprint_body: Any,
    revoke: Sequence[str] = (),
    replace: bool = False,
) -> JSONResponse:
    """Apply ``changes`` through the store and answer; replays carry ``Idempotent-Replayed``."""
    idempotency = _idempotency(request, idempotency_key, fingerprint_body)
    outcome = store.apply(
        project_id,
        user_id,
        changes,
        render=render,
        idempotency=idempotency,
        revoke=revoke,
        replace=replace,
    )
    return _answer(outcome)


def undo(
    store: FileStore,
    request: Request,
    *,
    project_id: str,
    user_id: str,
    key: str,
    render: Callable[[list[ChangeResult]], dict[str, Any]],
    idempotency_key: str | None,
    fingerprint_body: Any,
    revoke: Sequence[str] = (),
) -> JSONResponse:
    """Undo the batch ``key`` answered through the store (:meth:`FileStore.undo`) and answer."""
    idempotency = _idempotency(request, idempotency_key, fingerprint_body)
    outcome = store.undo(
        project_id, user_id, key, render=render, idempotency=idempotency, revoke=revoke
    )
    return _answer(outcome)


def _idempotency(
    request: Request, idempotency_key: str | None, fingerprint_body: Any
) -> Idempotency | None:
    if idempotency_key is None:
        return None
    return Idempotency(
        idempotency_key,
        Idempotency.fingerprint_of(request.method, request.url.path, fingerprint_body),
    )


def _answer(outcome: WriteOutcome) -> JSONResponse:
    headers = {REPLAY_HEADER: "true"} if outcome.replayed else {}
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)
