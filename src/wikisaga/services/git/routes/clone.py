"""Read-only clone and fetch over git's smart HTTP protocol.

``git clone http://host:6003/git/<project_id>.git`` works with the stock git client when
the credentials are passed as headers::

    git -c http.extraHeader="X-INTERNAL-TOKEN: <token>" \\
        -c http.extraHeader="X-User-ID: <owner>" clone http://127.0.0.1:6003/git/p.git

Only the upload side is served (``git upload-pack --stateless-rpc``, protocol v0 and v2,
with the repository layer's ``UPLOAD_PACK_CONFIG``: hidden refs stay hidden and only
advertised tips may be wanted); push (``git-receive-pack``) is refused with 403, and the
dumb protocol is not served.
The same trust rules as every other endpoint apply: the internal token, and the project's
owner as ``X-User-ID``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import zlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response, StreamingResponse

from wikisaga.services._common.app import ERROR_RESPONSES
from wikisaga.services._common.deps import UserId
from wikisaga.services._common.errors import BadRequest, Forbidden, PayloadTooLarge, ServiceError
from wikisaga.services.git.deps import ProjectId, Repositories, in_thread
from wikisaga.services.git.repository import ProjectRepositories

__all__ = ["MAX_REQUEST_BYTES", "router"]

MAX_REQUEST_BYTES = 64 * 1024 * 1024
"""The largest upload-pack request we accept, after gzip decoding."""

UPLOAD_PACK_TIMEOUT = 60
"""Seconds of inactivity after which ``git upload-pack`` gives up."""

_CHUNK = 64 * 1024
_GIT_PROTOCOL = re.compile(r"version=[0-9]+(:[A-Za-z0-9=._-]+)*")

router = APIRouter(prefix="/git", tags=["clone"])

_GIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    415: {"description": "Not an upload-pack request"},
}


def _push_refused() -> Forbidden:
    return Forbidden(
        "this service is read-only: snapshots are made with POST /snapshot, not by push",
        code="push_refused",
    )


def _protocol_env(repositories: ProjectRepositories, git_protocol: str | None) -> dict[str, str]:
    env = repositories.env
    # git-http-backend forwards the client's Git-Protocol header the same way; anything
    # that does not look like a protocol request is ignored (protocol v0 is used).
    if git_protocol and _GIT_PROTOCOL.fullmatch(git_protocol):
        env["GIT_PROTOCOL"] = git_protocol
    return env


def _pkt_line(text: str) -> bytes:
    data = text.encode()
    return b"%04x" % (len(data) + 4) + data


async def _check_owner(repositories: ProjectRepositories, project_id: str, user: str) -> None:
    await in_thread(repositories.check_owner, project_id, user)


@router.get(
    "/{project_id}.git/info/refs",
    response_class=Response,
    responses={
        200: {"content": {"application/x-git-upload-pack-advertisement": {}}},
        **_GIT_RESPONSES,
    },
)
async def info_refs(
    *,
    project_id: ProjectId,
    user: UserId,
    repositories: Repositories,
    service: Annotated[str | None, Query(description="`git-upload-pack`")] = None,
    git_protocol: Annotated[str | None, Header(alias="Git-Protocol")] = None,
) -> Response:
    """The ref advertisement that starts a clone or fetch (smart protocol only)."""
    if service == "git-receive-pack":
        raise _push_refused()
    if service != "git-upload-pack":
        raise BadRequest(
            "only the smart protocol is served: ask for ?service=git-upload-pack",
            code="unsupported_service",
        )
    await _check_owner(repositories, project_id, user)
    env = _protocol_env(repositories, git_protocol)
    process = await asyncio.create_subprocess_exec(
        *repositories.upload_pack_command(project_id, advertise=True, timeout=UPLOAD_PACK_TIMEOUT),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise ServiceError(
            f"git upload-pack failed: {err.decode(errors='replace').strip()}", code="git_failed"
        )
    # Protocol v2 answers with its capabilities alone; v0 starts with the service line.
    prefix = b""
    if "version=2" not in env.get("GIT_PROTOCOL", "").split(":"):
        prefix = _pkt_line("# service=git-upload-pack\n") + b"0000"
    return Response(
        prefix + out,
        media_type="application/x-git-upload-pack-advertisement",
        headers={"Cache-Control": "no-cache, max-age=0, must-revalidate"},
    )


def _decode_body(body: bytes, encoding: str | None) -> bytes:
    if encoding is None or encoding.strip().lower() in ("", "identity"):
        return body
    if encoding.strip().lower() not in ("gzip", "x-gzip"):
        raise ServiceError(
            f"unsupported Content-Encoding {encoding!r}",
            code="unsupported_encoding",
            status_code=415,
        )
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, MAX_REQUEST_BYTES + 1)
    except zlib.error as exc:
        raise BadRequest(f"the gzip request body is corrupt: {exc}", code="bad_gzip") from exc
    if len(data) > MAX_REQUEST_BYTES or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"the decoded request is larger than {MAX_REQUEST_BYTES} bytes")
    if not inflater.eof:
        raise BadRequest("the gzip request body is truncated", code="bad_gzip")
    return data


async def _feed(process: asyncio.subprocess.Process, data: bytes) -> None:
    assert process.stdin is not None
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        process.stdin.write(data)
        await process.stdin.drain()
    process.stdin.close()


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    await process.wait()


@router.post(
    "/{project_id}.git/git-upload-pack",
    response_class=Response,
    responses={
        200: {"content": {"application/x-git-upload-pack-result": {}}},
        **_GIT_RESPONSES,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-git-upload-pack-request": {
                    "schema": {"type": "string", "format": "binary"}
                }
            },
        }
    },
)
async def upload_pack(
    *,
    request: Request,
    project_id: ProjectId,
    user: UserId,
    repositories: Repositories,
    content_type: Annotated[str | None, Header(alias="Content-Type")] = None,
    content_encoding: Annotated[str | None, Header(alias="Content-Encoding")] = None,
    git_protocol: Annotated[str | None, Header(alias="Git-Protocol")] = None,
) -> Response:
    """One round of a clone or fetch: wants and haves in, a pack (or ACKs) out."""
    await _check_owner(repositories, project_id, user)
    if (content_type or "").split(";")[0].strip() != "application/x-git-upload-pack-request":
        raise ServiceError(
            "expected Content-Type application/x-git-upload-pack-request",
            code="unsupported_media_type",
            status_code=415,
        )
    data = _decode_body(await request.body(), content_encoding)
    process = await asyncio.create_subprocess_exec(
        *repositories.upload_pack_command(project_id, advertise=False, timeout=UPLOAD_PACK_TIMEOUT),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_protocol_env(repositories, git_protocol),
    )
    assert process.stdout is not None
    assert process.stderr is not None
    feeder = asyncio.create_task(_feed(process, data))
    errors = asyncio.create_task(process.stderr.read())
    try:
        first = await process.stdout.read(_CHUNK)
        if not first:
            await feeder
            detail = (await errors).decode(errors="replace").strip()
            await process.wait()
            if process.returncode != 0:
                raise BadRequest(
                    f"git upload-pack refused the request: {detail or 'no detail'}",
                    code="bad_upload_pack_request",
                )
    except BaseException:
        feeder.cancel()
        errors.cancel()
        await _stop(process)
        raise

    async def stream() -> AsyncIterator[bytes]:
        assert process.stdout is not None
        try:
            if first:
                yield first
            while chunk := await process.stdout.read(_CHUNK):
                yield chunk
            await feeder
            await errors
        finally:
            feeder.cancel()
            errors.cancel()
            await _stop(process)

    return StreamingResponse(
        stream(),
        media_type="application/x-git-upload-pack-result",
        headers={"Cache-Control": "no-cache, max-age=0, must-revalidate"},
    )


@router.get(
    "/{project_id}.git/git-receive-pack",
    responses=ERROR_RESPONSES,
    include_in_schema=False,
)
@router.post(
    "/{project_id}.git/git-receive-pack",
    responses=ERROR_RESPONSES,
)
async def receive_pack(*, project_id: ProjectId, user: UserId) -> Response:
    """Push is refused: 403 ``push_refused``."""
    raise _push_refused()
