"""Build the backend service app (port 6000).

It owns the jobs and the saga log (``WIKISAGA_SAGA_LOG_URL``; jobs live in the same
database), runs generations on ``WIKISAGA_BACKEND_WORKERS`` threads, recovers sagas at
start and every ``WIKISAGA_RECOVERY_INTERVAL`` seconds with its own token, and serves
``/metrics`` with the saga metrics and the saga log's gauges. See ``docs/backend.md``.
It also serves the dashboard at ``/`` and ``/ui/`` (``docs/dashboard.md``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from distributed_saga import open_saga_log
from wikisaga.auth import get_internal_headers
from wikisaga.config import Settings
from wikisaga.jobs import open_job_store
from wikisaga.observability import SagaLogCollector, SagaMetrics
from wikisaga.pipeline.generation import STEPS
from wikisaga.services._common import create_service_app, dev_token
from wikisaga.services.backend.dashboard import mount_dashboard
from wikisaga.services.backend.deps import ERRORS
from wikisaga.services.backend.routes import documents, generate, jobs, sagas, wiki
from wikisaga.services.backend.runner import JobRunner

__all__ = ["create_app"]

DESCRIPTION = """\
Wiki generation jobs and the last committed generation of each project.

`POST /generate_wiki` `{project_id, force?}` (with `X-INTERNAL-TOKEN` and `X-User-ID`)
answers 202 `{job_id, saga_id, status}` and runs the generation in the background:
documents, pages, relations, then one saga (stage graph → save files → snapshot → make
graph current → commit). `Idempotency-Key` makes a retry return the same job; a project
with a generation in flight is 409 `generation_in_progress` naming `job_id` and `saga_id`;
another user's project is 403. `GET /jobs/{job_id}` shows each step's progress.
`GET /projects/{id}/wiki`, `/wiki/{path}` and `/graph` serve the last committed
generation only. `POST /projects/{id}/documents` ingests uploaded documents (multipart
`files` parts, or JSON `{documents: [{path, content}]}`) as `wikisaga ingest` does;
`GET /sagas`, `/sagas/{id}`, `POST /sagas/{id}/retry` and `/resolve` are the saga admin
API of `wikisaga sagas`. Errors are `{"error": <code>, "detail": <message>}`.
"""


def create_app(settings: Settings) -> FastAPI:
    """The backend app; starts its recovery loop when the app starts."""
    if not settings.token and settings.dev_mode:
        settings = settings.with_changes(internal_token=dev_token())
    saga_log = open_saga_log(settings.effective_saga_log_url)
    job_store = open_job_store(settings.effective_saga_log_url, data_dir=settings.data_dir)
    metrics = SagaMetrics(known_steps=STEPS)
    app = create_service_app(
        "backend",
        settings,
        description=DESCRIPTION,
        max_body_bytes=64 * 1024,
        body_limits={documents.DOCUMENTS_PATH: settings.backend_upload_max_bytes},
        errors=ERRORS,
        collectors=[metrics, SagaLogCollector(saga_log)],
    )
    settings = app.state.settings
    runner = JobRunner(
        settings,
        saga_log=saga_log,
        jobs=job_store,
        metrics=metrics,
        headers=get_internal_headers(settings=settings),
    )
    app.state.runner = runner

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runner.start()
        try:
            yield
        finally:
            runner.close()
            job_store.close()
            saga_log.close()

    app.router.lifespan_context = lifespan
    for module in (generate, jobs, wiki, documents, sagas):
        app.include_router(module.router)
    mount_dashboard(app, runner)
    return app
