"""``/projects/{project_id}/documents``: put a project's documents in, list them, delete one.

``POST`` ingests exactly as ``wikisaga ingest`` does: the documents are written under their
paths into a private temporary folder, and :func:`wikisaga.content.ingest.ingest` ingests
that folder into the settings' document store (a document's source path is its path in the
folder), so the answer is the command's report: added, updated, unchanged, removed (with
``?prune=true``: the project's documents not in this upload), skipped.

Two bodies are accepted:

- ``multipart/form-data`` (primary: what a browser form sends): one part per file, each
  named ``files``, its file name the document's path (``guide/intro.md``);
- ``application/json``: ``{"documents": [{"path", "content"}]}``, the content as text.

The whole request is refused, and nothing is stored, when any document is wrong: a path
:func:`wikisaga.ids.validate_file_path` refuses or one with a hidden segment (400
``invalid_path``), a path given twice or both a file and a folder (422 ``path_clash``), a
format no parser reads (422 ``unsupported_format``), a file over ``WIKISAGA_INGEST_MAX_BYTES``
(413), content the parsers cannot read, binary, not UTF-8, empty or without text (422
``unreadable_document``), no document at all (422). The project is checked first, as
:meth:`JobRunner.check_owner` does (403 for another user's project), and the ingest claims
the project in the filesystem service's registry before it stores anything
(:mod:`wikisaga.content.ownership`). Memory: the body is capped at
``WIKISAGA_BACKEND_UPLOAD_MAX_BYTES`` while it streams in; each multipart file over 1 MiB is
spooled to disk by the form parser and copied to the folder in 64 KiB pieces; validating
and ingesting read one file at a time. Uploads of one project are serialised in this
process (the document store takes one writer per project).
"""

from __future__ import annotations

import tempfile
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from python_multipart.multipart import parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from wikisaga.content.documents import document_store_for
from wikisaga.content.ingest import ingest, make_document
from wikisaga.content.parsing import Unparseable, format_of
from wikisaga.content.records import document_id
from wikisaga.errors import InvalidFilePath, NotProjectOwner
from wikisaga.ids import validate_file_path
from wikisaga.services._common import ERROR_RESPONSES, UserId
from wikisaga.services._common.deps import internal_token
from wikisaga.services._common.errors import (
    NotFound,
    PayloadTooLarge,
    ServiceError,
    Unprocessable,
)
from wikisaga.services.backend.deps import ProjectId, Runner
from wikisaga.services.backend.runner import JobRunner
from wikisaga.services.backend.schemas import (
    DocumentInfoBody,
    DocumentList,
    DocumentUpload,
    IngestAnswer,
)

__all__ = ["DOCUMENTS_PATH", "FILES_FIELD", "MAX_FILES", "router"]

FILES_FIELD = "files"
"""The multipart field every file goes in."""
MAX_FILES = 1000
"""Files (or JSON documents) in one upload at most."""
DOCUMENTS_PATH = r"/projects/[^/]+/documents"
"""The upload route's path, as a pattern for its body limit."""
_PIECE = 64 * 1024
_SHOWN = 200
_STRIPES = tuple(threading.Lock() for _ in range(64))

_MULTIPART_SCHEMA = {
    "type": "object",
    "required": [FILES_FIELD],
    "properties": {
        FILES_FIELD: {
            "type": "array",
            "items": {"type": "string", "format": "binary"},
            "description": "One part per file; its file name is the document's path.",
        }
    },
}
_REQUEST_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {"schema": _MULTIPART_SCHEMA},
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["documents"],
                "additionalProperties": False,
                "properties": {
                    "documents": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": MAX_FILES,
                        "items": {
                            "type": "object",
                            "required": ["path", "content"],
                            "additionalProperties": False,
                            "properties": {
                                "path": {"type": "string", "minLength": 1, "maxLength": 2048},
                                "content": {"type": "string"},
                            },
                        },
                    }
                },
            }
        },
    },
}

router = APIRouter(
    tags=["documents"], dependencies=[Depends(internal_token)], responses=ERROR_RESPONSES
)


@contextmanager
def _project_lock(project_id: str) -> Iterator[None]:
    with _STRIPES[zlib.crc32(project_id.encode()) % len(_STRIPES)]:
        yield


@dataclass
class _Staged:
    """The documents of one upload, each written under its path in ``folder``."""

    folder: Path
    max_file: int
    files: dict[str, Path]

    def path_of(self, raw: str) -> str:
        """``raw`` checked as a document path, and not one already taken (see module)."""
        try:
            path = validate_file_path(raw)
        except InvalidFilePath as exc:
            raise InvalidFilePath(f"{_shown(raw)}: {exc.message}") from None
        if any(segment.startswith(".") for segment in path.split("/")):
            raise InvalidFilePath(
                f"{_shown(raw)}: a hidden file or folder (a name starting with '.')"
            )
        if format_of(path) is None:
            raise Unprocessable(
                f"{path!r}: unsupported format; the ingester reads Markdown (.md, .markdown, "
                ".mdown), reStructuredText (.rst, .rest), HTML (.html, .htm, .xhtml) and text "
                "(.txt, .text, and README, LICENSE, CHANGES and the like without a suffix)",
                code="unsupported_format",
                extra={"path": path},
            )
        parents = [path.rsplit("/", depth)[0] for depth in range(1, path.count("/") + 1)]
        clash = next((p for p in (path, *parents) if p in self.files), None)
        if clash is None and any(other.startswith(path + "/") for other in self.files):
            clash = path
        if clash is not None:
            raise Unprocessable(
                f"{path!r}: given twice, or both a file and a folder ({clash!r})",
                code="path_clash",
                extra={"path": path},
            )
        return path

    def too_large(self, path: str, size: int | str) -> ServiceError:
        return PayloadTooLarge(
            f"{path!r} is {size} bytes; a document may have at most {self.max_file}",
            extra={"path": path},
        )

    def target(self, path: str) -> Path:
        target = self.folder.joinpath(*path.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        self.files[path] = target
        return target


def _shown(raw: str) -> str:
    """``raw`` as an error quotes it: at most :data:`_SHOWN` characters of it."""
    return repr(raw) if len(raw) <= _SHOWN else f"{raw[:_SHOWN]!r}... ({len(raw)} characters)"


def _file_name(part: UploadFile) -> str:
    """The part's file name, which is the document's path. The form parser reads a name
    that is not UTF-8 as Latin-1, a guess (wrong for any other encoding): it is refused
    rather than guessed at, as ``X-User-ID`` bytes are."""
    name = part.filename or ""
    disposition = next((v for k, v in part.headers.raw if k == b"content-disposition"), b"")
    try:
        parse_options_header(disposition)[1].get(b"filename", b"").decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidFilePath(
            f"{_shown(name)}: the file name is not UTF-8 (send paths as UTF-8)"
        ) from None
    return name


async def _stage_multipart(request: Request, staged: _Staged) -> None:
    try:
        form = await request.form(max_files=MAX_FILES, max_fields=MAX_FILES)
    except AssertionError:  # python-multipart is missing: the server cannot parse forms
        raise ServiceError("multipart uploads are not available") from None
    try:
        for name, value in form.multi_items():
            if name == FILES_FIELD and not isinstance(value, UploadFile):
                raise Unprocessable(
                    f"a part of the {FILES_FIELD!r} field has no file name: give each file "
                    'its path as its file name (filename="guide/intro.md")',
                    code="invalid_upload",
                )
            if name != FILES_FIELD or not isinstance(value, UploadFile):
                raise Unprocessable(
                    f"every part must be a file in the {FILES_FIELD!r} field, not {name!r}",
                    code="invalid_upload",
                )
            path = staged.path_of(_file_name(value))
            if value.size is not None and value.size > staged.max_file:
                raise staged.too_large(path, value.size)
            with staged.target(path).open("wb") as out:
                while piece := await value.read(_PIECE):
                    out.write(piece)
    finally:
        await form.close()


def _stage_json(body: bytes, staged: _Staged) -> None:
    try:
        upload = DocumentUpload.model_validate_json(body)
    except ValidationError as exc:  # located in the body, as FastAPI locates its own
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None
    for document in upload.documents:
        path = staged.path_of(document.path)
        data = document.content.encode("utf-8", "surrogatepass")
        if len(data) > staged.max_file:
            raise staged.too_large(path, len(data))
        staged.target(path).write_bytes(data)


def _ingest(
    runner: JobRunner, project_id: str, user_id: str, staged: _Staged, *, prune: bool
) -> dict[str, Any]:
    """Check every staged document as the ingest would read it, then ingest the folder."""
    if not staged.files:
        raise Unprocessable("the upload holds no document", code="invalid_upload")
    for path, file in staged.files.items():
        size = file.stat().st_size
        if size > staged.max_file:
            raise staged.too_large(path, size)
        try:
            make_document(project_id, path, file.read_bytes())
        except Unparseable as reason:
            raise Unprocessable(
                f"{path!r}: {reason}", code="unreadable_document", extra={"path": path}
            ) from None
    settings = runner.settings
    with (
        _project_lock(project_id),
        document_store_for(settings) as store,
        runner.filesystem() as registry,
    ):
        report = ingest(
            store,
            project_id=project_id,
            user_id=user_id,
            paths=[staged.folder],
            prune=prune,
            max_bytes=staged.max_file,
            registry=registry,
        )
    return report.as_json()


@router.post(
    "/projects/{project_id}/documents",
    response_model=IngestAnswer,
    openapi_extra={"requestBody": _REQUEST_BODY},
    responses={415: ERROR_RESPONSES[422] | {"description": "Neither multipart nor JSON"}},
)
async def upload_documents(
    project_id: ProjectId,
    user_id: UserId,
    runner: Runner,
    request: Request,
    prune: Annotated[
        bool, Query(description="Also remove the project's documents not in this upload.")
    ] = False,
) -> IngestAnswer:
    """Ingest the uploaded documents as ``wikisaga ingest`` does and answer its report;
    one wrong document refuses the whole upload and nothing is stored."""
    await run_in_threadpool(runner.check_owner, project_id, user_id)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("multipart/form-data", "application/json"):
        raise ServiceError(
            "send the documents as multipart/form-data (one 'files' part per file) or as "
            'JSON {"documents": [{"path", "content"}]}',
            code="unsupported_media_type",
            status_code=415,
        )
    max_file = runner.settings.ingest_max_bytes
    with tempfile.TemporaryDirectory(prefix="wikisaga-upload-") as folder:
        staged = _Staged(Path(folder), max_file, {})
        if kind == "multipart/form-data":
            await _stage_multipart(request, staged)
        else:
            _stage_json(await request.body(), staged)
        answer = await run_in_threadpool(_ingest, runner, project_id, user_id, staged, prune=prune)
    return IngestAnswer(**answer)


def _stored(runner: JobRunner, project_id: str, user_id: str) -> DocumentList:
    runner.check_owner(project_id, user_id)
    with document_store_for(runner.settings) as store:
        infos = store.list_documents(project_id)
    owners = {info.user_id for info in infos}
    if owners and user_id not in owners:
        raise NotProjectOwner(f"project {project_id} belongs to another user")
    return DocumentList(
        project_id=project_id,
        documents=[
            DocumentInfoBody(
                doc_id=info.doc_id,
                path=info.source_path,
                title=info.title,
                format=info.format,
                content_hash=info.content_hash,
                chunk_count=info.chunk_count,
                revision=info.revision,
                ingest_version=info.ingest_version,
            )
            for info in infos
        ],
    )


@router.get("/projects/{project_id}/documents", response_model=DocumentList)
def list_documents(project_id: ProjectId, user_id: UserId, runner: Runner) -> DocumentList:
    """The project's stored documents, sorted by path: id, path, content hash, chunks."""
    return _stored(runner, project_id, user_id)


@router.delete("/projects/{project_id}/documents/{path:path}", response_model=DocumentList)
def delete_document(
    project_id: ProjectId, path: str, user_id: UserId, runner: Runner
) -> DocumentList:
    """Delete one document (every version); answers what is left. 404 if it is not stored."""
    path = validate_file_path(path)
    _stored(runner, project_id, user_id)
    with _project_lock(project_id), document_store_for(runner.settings) as store:
        deleted = store.delete_documents(project_id, [document_id(project_id, path)])
    if not deleted:
        raise NotFound(f"no document {path!r} in project {project_id!r}", code="document_not_found")
    return _stored(runner, project_id, user_id)
