"""The dashboard's pages: a FastAPI app of server-rendered Jinja2 templates.

It calls the backend's :class:`~wikisaga.services.backend.runner.JobRunner` in process,
with the backend's own token, which never reaches the browser. Every page needs a
signed-in user (``/ui/signin`` otherwise); every project, job, page, snapshot and graph
is shown only to the user who owns the project, and is 404 to anyone else, as an
unknown one is. Every POST needs the session's CSRF token and a same-origin ``Origin``.
Answers carry a strict Content-Security-Policy (scripts only from ``/ui/static``, no
inline script), so nothing a document says can run.
"""

from __future__ import annotations

import datetime
import functools
import logging
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.datastructures import FormData, UploadFile

from distributed_saga import SagaNotFoundError, SagaRecord
from wikisaga.auth import get_internal_headers
from wikisaga.clients import GitClient
from wikisaga.content.documents import document_store_for
from wikisaga.content.ingest import ingest
from wikisaga.content.relations import PREDICATE_WORDS
from wikisaga.errors import (
    IngestError,
    InvalidId,
    ItemNotFound,
    JobConflict,
    NotProjectOwner,
    ProjectNotFound,
    ServiceCallError,
    StoreError,
    WikisagaError,
)
from wikisaga.ids import validate_file_path, validate_project_id
from wikisaga.jobs import ACTIVE_STATUSES, Job
from wikisaga.pipeline.generation import SAGA_STEPS, STEPS
from wikisaga.services.backend.dashboard.history import SnapshotDiffer
from wikisaga.services.backend.dashboard.render import (
    GraphLayout,
    RenderedPage,
    insert_passage,
    layout_graph,
    parse_diff,
    render_page,
)
from wikisaga.services.backend.dashboard.session import (
    COOKIE,
    MAX_AGE,
    Session,
    SessionSigner,
    same_origin,
    server_secret,
)
from wikisaga.services.backend.runner import GenerationInProgress, JobRunner
from wikisaga.users import UserStore

__all__ = ["CSP", "PREFIX", "create_dashboard"]

logger = logging.getLogger("wikisaga.services.backend.dashboard")

PREFIX = "/ui"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
"""Mermaid styles its diagrams with inline styles; scripts come only from our files."""

MAX_UPLOAD_FILES = 50


class _NotFound(Exception):
    """Answered 404, the same for another user's thing as for a missing one."""


class _SignInFirstError(Exception):
    """Answered with the sign-in page (a redirect to it, for a GET)."""


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _when(moment: float | None) -> str:
    if moment is None:
        return ""
    return datetime.datetime.fromtimestamp(moment, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _seconds(start: float | None, end: float | None) -> str:
    if start is None or end is None:
        return ""
    span = max(end - start, 0.0)
    return f"{span * 1000:.0f} ms" if span < 1 else f"{span:.2f} s"


class Dashboard:
    """The state the pages share: the runner, the users, the session signer."""

    def __init__(self, runner: JobRunner) -> None:
        self.runner = runner
        self.settings = runner.settings
        self.users = UserStore.in_data_dir(self.settings.data_dir)
        self.signer = SessionSigner(server_secret(self.settings))
        self.differ = SnapshotDiffer(self.settings)
        self.templates = Environment(
            loader=PackageLoader("wikisaga.services.backend.dashboard", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters["when"] = _when
        self.templates.globals["prefix"] = PREFIX
        self.templates.globals["quote"] = lambda value: quote(str(value), safe="/")

    # -- sessions ---------------------------------------------------------------------

    def session(self, request: Request) -> Session:
        found: Session | None = getattr(request.state, "session", None)
        if found is None:
            found = self.signer.loads(request.cookies.get(COOKIE))
            # The key it was made with must still be the user's (removed users and
            # replaced keys end their sessions).
            if (
                found is not None
                and found.user is not None
                and self.users.key_id_of(found.user) != found.key_id
            ):
                found = None
            if found is None:
                found = Session.anonymous()
                request.state.new_session = True
            request.state.session = found
        return found

    def set_session(self, request: Request, session: Session) -> None:
        request.state.session = session
        request.state.new_session = True

    def user(self, request: Request) -> str:
        user = self.session(request).user
        if user is None:
            raise _SignInFirstError
        return user

    async def form(self, request: Request) -> FormData:
        """The POSTed form, once its origin and CSRF token are checked."""
        host = request.headers.get("host", "")
        if not same_origin(
            request.headers.get("origin"),
            request.headers.get("referer"),
            scheme=request.url.scheme,
            host=host,
        ):
            raise _Refused(403, "This request did not come from the dashboard's own pages.")
        form = await request.form(
            max_files=MAX_UPLOAD_FILES,
            max_fields=20,
            max_part_size=self.settings.ingest_max_bytes + 1024,
        )
        token = form.get("csrf")
        header = request.headers.get("x-csrf-token")
        if not self.session(request).check_csrf(str(token) if token is not None else header):
            raise _Refused(403, "The form has expired or did not come from this dashboard.")
        return form

    # -- ownership --------------------------------------------------------------------

    def owned(self, project_id: str, user: str) -> str:
        """``project_id`` if ``user`` owns it; :class:`_NotFound` otherwise."""
        try:
            project_id = validate_project_id(project_id)
        except InvalidId:
            raise _NotFound from None
        recorded = self.users.project_user(project_id)
        if recorded is not None:
            if recorded != user:
                raise _NotFound
            return project_id
        with self.runner.filesystem() as filesystem:
            owner = filesystem.project_owner(project_id)
        if owner != user:
            raise _NotFound
        return project_id

    def free_for(self, project_id: str, user: str) -> bool:
        """Whether nobody but ``user`` has written to the project: the project owner rule
        (:meth:`JobRunner.check_owner`, :mod:`wikisaga.content.ownership`) lets them."""
        try:
            self.runner.check_owner(project_id, user)
        except NotProjectOwner:
            return False
        return True

    def job(self, project_id: str, job_id: str, user: str) -> Job:
        try:
            job = self.runner.jobs.get(job_id)
        except (ItemNotFound, StoreError):
            raise _NotFound from None
        if job.user_id != user or job.project_id != project_id:
            raise _NotFound
        return job

    def projects(self, user: str) -> list[dict[str, Any]]:
        jobs = [job for job in self.runner.jobs.list_jobs(limit=1000) if job.user_id == user]
        names = set(self.users.projects_of(user)) | {job.project_id for job in jobs}
        rows = []
        for name in sorted(names):
            mine = [job for job in jobs if job.project_id == name]
            rows.append({"project_id": name, "last": mine[0] if mine else None})
        return rows

    def git(self) -> GitClient:
        return GitClient(
            self.settings.git_server_url,
            headers=get_internal_headers(settings=self.settings),
            timeout=self.settings.git_timeout,
        )

    # -- answers ----------------------------------------------------------------------

    def page(
        self, request: Request, template: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        session = self.session(request)
        html = self.templates.get_template(template).render(
            user=session.user, csrf=session.csrf, request_path=request.url.path, **context
        )
        return HTMLResponse(html, status_code=status)


def _saga_steps(record: SagaRecord | None) -> list[dict[str, Any]]:
    if record is None:
        return []
    rows = []
    for step in record.steps:
        rows.append(
            {
                "index": step.index,
                "name": step.name,
                "state": step.state.value,
                "attempts": step.attempts,
                "error": step.error,
                "duration": _seconds(step.started_at, step.finished_at),
                "compensation": step.compensation,
                "compensated_at": step.compensated_at,
                "compensation_attempts": step.compensation_attempts,
                "compensation_error": step.compensation_error,
            }
        )
    return rows


def _timeline(job: Job) -> list[dict[str, Any]]:
    """The job's pipeline steps in order, each with its bar on the job's time line."""
    start = job.started_at or job.created_at
    ends = [
        float(step["finished_at"])
        for step in job.steps.values()
        if step.get("finished_at") is not None
    ]
    end = job.finished_at or (max(ends) if ends else None) or start
    span = max(end - start, 1e-6)
    rows = []
    for name in STEPS:
        step = dict(job.steps.get(name) or {})
        began = step.get("started_at")
        ended = step.get("finished_at")
        left = 0.0 if began is None else min(max((float(began) - start) / span, 0.0), 1.0)
        right = left if ended is None else min(max((float(ended) - start) / span, 0.0), 1.0)
        details = {
            key: value
            for key, value in step.items()
            if key not in {"state", "started_at", "finished_at"}
        }
        rows.append(
            {
                "name": name,
                "in_saga": name in SAGA_STEPS,
                "state": str(step.get("state") or "pending"),
                "duration": _seconds(began, ended),
                "left": round(left * 100, 2),
                "width": 0.0 if began is None else round(max(right - left, 0.004) * 100, 2),
                "details": details,
            }
        )
    return rows


@functools.lru_cache(maxsize=32)
def _layout(triples: tuple[tuple[str, str, str], ...]) -> GraphLayout:
    """The graph's picture; a generation's graph never changes, so it is drawn once."""
    return layout_graph(triples)


def create_dashboard(runner: JobRunner) -> FastAPI:  # noqa: PLR0915 - one page per route
    """The dashboard app (mounted by the backend at ``/`` and ``/ui``)."""
    board = Dashboard(runner)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, redirect_slashes=False)
    app.state.dashboard = board
    static = Path(__file__).parent / "static"
    app.mount(f"{PREFIX}/static", StaticFiles(directory=static), name="static")

    @app.middleware("http")
    async def headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        if not request.url.path.startswith(f"{PREFIX}/static/"):
            response.headers["Cache-Control"] = "no-store"
        if getattr(request.state, "new_session", False):
            response.set_cookie(
                COOKIE,
                board.signer.dumps(request.state.session),
                max_age=MAX_AGE,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
                path="/",
            )
        return response

    @app.exception_handler(_SignInFirstError)
    async def sign_in_first(request: Request, _exc: Exception) -> Response:
        if request.method == "GET":
            target = f"{PREFIX}/signin?" + urlencode({"next": request.url.path})
            return RedirectResponse(target, status_code=303)
        return board.page(request, "error.html", 401, message="Sign in first.")

    @app.exception_handler(_NotFound)
    async def not_found(request: Request, _exc: Exception) -> Response:
        return board.page(request, "error.html", 404, message="Nothing here.")

    @app.exception_handler(_Refused)
    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, _Refused)
        return board.page(request, "error.html", exc.status, message=str(exc))

    @app.exception_handler(GenerationInProgress)
    async def in_progress(request: Request, exc: Exception) -> Response:
        return board.page(request, "error.html", 503, message=str(exc))

    @app.exception_handler(ServiceCallError)
    async def upstream(request: Request, exc: Exception) -> Response:
        logger.warning("dashboard: a service call failed: %s", exc)
        return board.page(request, "error.html", 502, message=f"A service failed: {exc}")

    @app.exception_handler(WikisagaError)
    async def refused_input(request: Request, exc: Exception) -> Response:
        return board.page(request, "error.html", 400, message=str(exc))

    # -- sign-in ------------------------------------------------------------------------

    def _next(value: object) -> str:
        target = str(value or "/")
        # Only a path of this dashboard: never another host, never a scheme.
        if not target.startswith("/") or target.startswith("//") or "\\" in target:
            return "/"
        return target

    @app.get("/ui/signin", response_class=HTMLResponse)
    def signin_form(request: Request, next: str = "/") -> Response:
        return board.page(request, "signin.html", next=_next(next), error=None)

    @app.post("/ui/signin", response_class=HTMLResponse)
    async def signin(request: Request) -> Response:
        form = await board.form(request)
        found = board.users.verify(str(form.get("key") or ""))
        if found is None:
            return board.page(
                request, "signin.html", 401, next=_next(form.get("next")), error="Unknown key."
            )
        board.set_session(request, board.session(request).signed_in(found.user_id, found.key_id))
        return RedirectResponse(_next(form.get("next")), status_code=303)

    @app.post("/ui/signout")
    async def signout(request: Request) -> Response:
        await board.form(request)
        board.set_session(request, Session.anonymous())
        return RedirectResponse(f"{PREFIX}/signin", status_code=303)

    # -- projects -----------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    @app.get("/ui", response_class=HTMLResponse)
    @app.get("/ui/", response_class=HTMLResponse)
    def projects(request: Request) -> Response:
        user = board.user(request)
        return board.page(request, "projects.html", projects=board.projects(user), error=None)

    @app.post("/ui/projects")
    async def new_project(request: Request) -> Response:
        user = board.user(request)
        form = await board.form(request)
        try:
            project_id = validate_project_id(str(form.get("project_id") or "").strip())
        except InvalidId as exc:
            return board.page(
                request, "projects.html", 400, projects=board.projects(user), error=str(exc)
            )
        if (
            not board.free_for(project_id, user)
            or board.users.claim_project(project_id, user) != user
        ):
            return board.page(
                request,
                "projects.html",
                409,
                projects=board.projects(user),
                error=f"The name {project_id!r} is taken; choose another.",
            )
        return RedirectResponse(f"{PREFIX}/p/{quote(project_id)}", status_code=303)

    @app.get("/ui/p/{project_id}", response_class=HTMLResponse)
    def project(request: Request, project_id: str) -> Response:
        user = board.user(request)
        project_id = board.owned(project_id, user)
        with document_store_for(board.settings) as store:
            documents = store.list_documents(project_id)
        jobs = runner.jobs.list_jobs(project_id=project_id, limit=50)
        jobs = [job for job in jobs if job.user_id == user]
        active = next((job for job in jobs if job.status in ACTIVE_STATUSES), None)
        committed = next((job for job in jobs if job.status.value == "succeeded"), None)
        notice = {key: request.query_params.get(key) for key in ("ingested", "skipped")}
        return board.page(
            request,
            "project.html",
            project_id=project_id,
            documents=sorted(documents, key=lambda d: d.source_path),
            jobs=jobs,
            active=active,
            committed=committed,
            notice=notice if any(notice.values()) else None,
        )

    @app.post("/ui/p/{project_id}/documents")
    async def upload(request: Request, project_id: str) -> Response:
        user = board.user(request)
        form = await board.form(request)
        project_id = board.owned(project_id, user)
        files = [item for item in form.getlist("documents") if isinstance(item, UploadFile)]
        if not files or all(not item.filename for item in files):
            raise _Refused(400, "Choose one or more files to upload.")
        with tempfile.TemporaryDirectory(prefix="wikisaga-upload-") as folder:
            root = Path(folder)
            for item in files:
                name = PurePosixPath(str(item.filename or "").replace("\\", "/")).name
                if not name or name.startswith("."):
                    raise _Refused(400, f"{item.filename!r} is not a usable file name.")
                data = await item.read(board.settings.ingest_max_bytes + 1)
                (root / name).write_bytes(data)
            try:
                with (
                    document_store_for(board.settings) as store,
                    runner.filesystem() as registry,
                ):
                    report = ingest(
                        store,
                        project_id=project_id,
                        user_id=user,
                        paths=[root],
                        max_bytes=board.settings.ingest_max_bytes,
                        registry=registry,
                    )
            except IngestError as exc:
                raise _Refused(400, str(exc)) from exc
            except NotProjectOwner:
                raise _NotFound from None
        done = len(report.added) + len(report.updated) + len(report.unchanged)
        skipped = "; ".join(f"{s.path}: {s.reason}" for s in report.skipped)
        query = urlencode({"ingested": str(done), "skipped": skipped})
        return RedirectResponse(f"{PREFIX}/p/{quote(project_id)}?{query}", status_code=303)

    @app.post("/ui/p/{project_id}/generate")
    async def generate(request: Request, project_id: str) -> Response:
        user = board.user(request)
        form = await board.form(request)
        project_id = board.owned(project_id, user)
        try:
            job, _ = runner.submit(
                project_id, user, force=form.get("force") == "on", idempotency_key=None
            )
        except JobConflict as exc:
            return RedirectResponse(
                f"{PREFIX}/p/{quote(project_id)}/jobs/{quote(exc.job_id)}", status_code=303
            )
        except NotProjectOwner:
            raise _NotFound from None
        return RedirectResponse(
            f"{PREFIX}/p/{quote(project_id)}/jobs/{quote(job.job_id)}", status_code=303
        )

    # -- jobs ---------------------------------------------------------------------------

    def _job_context(project_id: str, job: Job) -> dict[str, Any]:
        try:
            record: SagaRecord | None = runner.saga_log.get_saga(job.saga_id)
        except SagaNotFoundError:
            record = None
        return {
            "project_id": project_id,
            "job": job,
            "live": job.status in ACTIVE_STATUSES,
            "timeline": _timeline(job),
            "saga": record,
            "saga_steps": _saga_steps(record),
            "duration": _seconds(job.started_at or job.created_at, job.finished_at),
        }

    @app.get("/ui/p/{project_id}/jobs/{job_id}", response_class=HTMLResponse)
    def job_page(request: Request, project_id: str, job_id: str) -> Response:
        user = board.user(request)
        project_id = board.owned(project_id, user)
        job = board.job(project_id, job_id, user)
        return board.page(request, "job.html", **_job_context(project_id, job))

    @app.get("/ui/p/{project_id}/jobs/{job_id}/timeline", response_class=HTMLResponse)
    def job_timeline(request: Request, project_id: str, job_id: str) -> Response:
        user = board.user(request)
        project_id = board.owned(project_id, user)
        job = board.job(project_id, job_id, user)
        return board.page(request, "_timeline.html", **_job_context(project_id, job))

    # -- the wiki -----------------------------------------------------------------------

    def _committed(project_id: str, user: str) -> Job | None:
        try:
            return runner.committed(project_id, user)
        except ProjectNotFound:
            return None
        except NotProjectOwner:
            raise _NotFound from None

    @app.get("/ui/p/{project_id}/wiki", response_class=HTMLResponse)
    def wiki_index(request: Request, project_id: str) -> Response:
        user = board.user(request)
        project_id = board.owned(project_id, user)
        job = _committed(project_id, user)
        if job is None:
            return board.page(request, "nowiki.html", 404, project_id=project_id)
        files = sorted((job.result or {}).get("manifest") or {})
        start = next((f for f in files if f.endswith("index.md")), files[0] if files else None)
        if start is None:
            return board.page(request, "nowiki.html", 404, project_id=project_id)
        return RedirectResponse(
            f"{PREFIX}/p/{quote(project_id)}/wiki/{quote(start)}", status_code=303
        )

    def _passage(project_id: str, rendered: RenderedPage, number: int | None) -> Any:
        """The cited passage of a source page: its document's chunk, read from the
        document store, and whether the document changed since this generation."""
        if number is None or rendered.meta.get("kind") != "source" or len(rendered.sources) != 1:
            return None
        doc_id, digest = rendered.sources[0]
        with document_store_for(board.settings) as store:
            document = store.get_document(project_id, doc_id)
        if document is None or not 1 <= number <= len(document.chunks):
            return None
        return {
            "number": number,
            "text": document.chunks[number - 1].text,
            "path": document.source_path,
            "changed": bool(digest) and document.content_hash != digest,
        }

    @app.get("/ui/p/{project_id}/wiki/{path:path}", response_class=HTMLResponse)
    def wiki_page(
        request: Request, project_id: str, path: str, passage: int | None = None
    ) -> Response:
        user = board.user(request)
        project_id = board.owned(project_id, user)
        try:
            path = validate_file_path(path)
        except InvalidId:
            raise _NotFound from None
        job = _committed(project_id, user)
        if job is None:
            return board.page(request, "nowiki.html", 404, project_id=project_id)
        files = sorted((job.result or {}).get("manifest") or {})
        if path not in files:
            raise _NotFound
        text = runner.read_file(job, path)
        base = f"{PREFIX}/p/{quote(project_id)}/wiki"
        rendered = render_page(text, page=path, base=base) if path.endswith(".md") else None
        cited = _passage(project_id, rendered, passage) if rendered else None
        html = rendered.html if rendered else ""
        if rendered and cited:
            quoted = board.templates.get_template("_passage.html").render(passage=cited)
            html = insert_passage(html, cited["number"], quoted)
        return board.page(
            request,
            "wiki.html",
            project_id=project_id,
            job=job,
            path=path,
            files=files,
            rendered=rendered,
            page_html=html,
            text=text,
            snapshot_id=(job.result or {}).get("snapshot_id"),
        )

    # -- history and diffs --------------------------------------------------------------

    @app.get("/ui/p/{project_id}/history", response_class=HTMLResponse)
    def history(request: Request, project_id: str) -> Response:
        user = board.user(request)
        project_id = board.owned(project_id, user)
        with board.git() as git:
            snapshots = git.list_snapshots(project_id, user_id=user)
        job = _committed(project_id, user)
        current = (job.result or {}).get("snapshot_id") if job else None
        return board.page(
            request, "history.html", project_id=project_id, snapshots=snapshots, current=current
        )

    @app.get("/ui/p/{project_id}/diff", response_class=HTMLResponse)
    def diff(request: Request, project_id: str, old: str = "", new: str = "") -> Response:
        user = board.user(request)
        project_id = board.owned(project_id, user)
        with board.git() as git:
            known = {s["snapshot_id"] for s in git.list_snapshots(project_id, user_id=user)}
        if old not in known or new not in known:
            raise _NotFound
        files = parse_diff(board.differ.diff(project_id, user, old, new))
        return board.page(
            request, "diff.html", project_id=project_id, old=old, new=new, files=files
        )

    # -- the graph ----------------------------------------------------------------------

    @app.get("/ui/p/{project_id}/graph", response_class=HTMLResponse)
    def graph(request: Request, project_id: str) -> Response:
        user = board.user(request)
        project_id = board.owned(project_id, user)
        job = _committed(project_id, user)
        if job is None:
            return board.page(request, "nowiki.html", 404, project_id=project_id)
        summary, relations = runner.graph_of(job)
        layout = _layout(tuple((r.subject, r.predicate, r.object) for r in relations))
        return board.page(
            request,
            "graph.html",
            project_id=project_id,
            summary=summary,
            relations=sorted(relations, key=lambda r: (-r.weight, r.subject, r.object))[:300],
            total=len(relations),
            layout=layout,
            words=PREDICATE_WORDS,
        )

    return app
