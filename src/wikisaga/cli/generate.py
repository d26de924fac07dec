"""``wikisaga generate``: ask the backend for a new generation of a project's wiki.

Sends ``POST /generate_wiki`` to ``--backend-url`` (default ``WIKISAGA_BACKEND_URL``) with
the internal token of the settings (``WIKISAGA_INTERNAL_TOKEN``; ``wikisaga up`` prints
it). Without ``--wait`` it prints the job id and the saga id and exits 0. With ``--wait``
it follows ``GET /jobs/{id}``: on a terminal a rich progress line per step on standard
error, otherwise one plain line on standard output each time a step changes state; then
the result, and exit 0 when the job succeeded. A failed job is one line with its error
and exit 1; so is a refusal (409 with the job in flight, 403 for another user's project).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from wikisaga.auth import get_internal_headers
from wikisaga.clients.backend import BackendClient
from wikisaga.config import Settings
from wikisaga.errors import WikisagaError
from wikisaga.ids import validate_project_id, validate_user_id

__all__ = ["JobFailed", "generate_command", "plain_lines", "register", "rich_lines", "wait_for"]

POLL_SECONDS = 0.25

StepView = Callable[[dict[str, dict[str, Any]]], None]
"""Shown each poll with the job's ``steps`` (name -> ``{state, ...}``)."""


class JobFailed(WikisagaError):
    """The generation job ended as failed, or did not end in time."""


def _describe(step: dict[str, Any]) -> str:
    """A step's state with its counts: ``succeeded (documents=3, 0.012 s)``."""
    state = str(step.get("state", "?"))
    extras = [
        f"{key}={value}"
        for key, value in step.items()
        if key not in {"state", "seconds", "started_at", "finished_at", "error"}
        and isinstance(value, int | float | str)
        and not isinstance(value, bool)
    ]
    if "seconds" in step:
        extras.append(f"{step['seconds']:g} s")
    if step.get("error"):
        extras.append(str(step["error"]))
    return f"{state} ({', '.join(extras)})" if extras else state


@contextmanager
def plain_lines() -> Iterator[StepView]:
    """One line on standard output each time a step's state or counts change."""
    shown: dict[str, str] = {}

    def view(steps: dict[str, dict[str, Any]]) -> None:
        for name, step in steps.items():
            text = _describe(step)
            if shown.get(name) != text:
                shown[name] = text
                print(f"  {name:<20} {text}", flush=True)

    yield view


@contextmanager
def rich_lines() -> Iterator[StepView]:
    """A rich progress line per step on standard error (for a terminal)."""
    from rich.console import Console  # noqa: PLC0415 - only on a terminal
    from rich.progress import Progress, SpinnerColumn, TextColumn  # noqa: PLC0415

    with Progress(
        SpinnerColumn(finished_text="[green]✓[/]"),
        TextColumn("{task.fields[step]:<20}"),
        TextColumn("{task.description}"),
        console=Console(stderr=True),
    ) as bar:
        tasks: dict[str, Any] = {}

        def view(steps: dict[str, dict[str, Any]]) -> None:
            for name, step in steps.items():
                if name not in tasks:
                    tasks[name] = bar.add_task("", total=1, step=name)
                state = step.get("state")
                done = 1 if state in {"succeeded", "failed", "degraded", "skipped"} else 0
                bar.update(tasks[name], completed=done, description=_describe(step))

        yield view


def wait_for(
    client: BackendClient, job_id: str, *, user_id: str, view: StepView, timeout: float
) -> dict[str, Any]:
    """Poll the job until it succeeded or failed, showing its steps; return it."""
    # The job's steps come by name; show them in the order a generation runs them.
    from wikisaga.pipeline.generation import STEPS  # noqa: PLC0415 - only with --wait

    order = {name: index for index, name in enumerate(STEPS)}
    deadline = time.monotonic() + timeout
    while True:
        job = client.get_job(job_id, user_id=user_id)
        steps = job.get("steps") or {}
        view(dict(sorted(steps.items(), key=lambda item: order.get(item[0], len(order)))))
        if job["status"] in {"succeeded", "failed"}:
            return job
        if time.monotonic() > deadline:
            raise JobFailed(f"job {job_id} still {job['status']} after {timeout:g} s")
        time.sleep(POLL_SECONDS)


def _print_result(job: dict[str, Any]) -> None:
    result = job.get("result") or {}
    print(f"{job['job_id']} succeeded (saga {job['saga_id']})")
    for key, value in result.items():
        if isinstance(value, list):
            for item in value:
                print(f"  {key}: {item}")
        elif not isinstance(value, dict):
            print(f"  {key}: {value}")


def generate_command(
    project: Annotated[str, typer.Option("--project", help="the project to generate")],
    user: Annotated[str, typer.Option("--user", help="the user asking (the project's owner)")],
    wait: Annotated[
        bool, typer.Option("--wait", help="follow the job until it ends; exit 0 on success")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="publish even if it removes most of the pages")
    ] = False,
    backend_url: Annotated[
        str | None,
        typer.Option("--backend-url", help="the backend (default: WIKISAGA_BACKEND_URL)"),
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="with --wait: give up after this many seconds", min=0.1)
    ] = 600.0,
) -> int:
    """Start a generation of a project's wiki on the backend (with --wait: until it ends)."""
    project_id = validate_project_id(project)
    user_id = validate_user_id(user)
    settings = Settings.from_env()
    if backend_url is not None:
        settings = settings.with_changes(backend_url=backend_url)
    headers = get_internal_headers(settings=settings)
    with BackendClient(
        settings.backend_url, headers=headers, timeout=settings.network_timeout
    ) as client:
        accepted = client.generate_wiki(project_id, user_id=user_id, force=force)
        print(f"job  {accepted['job_id']}")
        print(f"saga {accepted['saga_id']}", flush=True)
        if not wait:
            return 0
        lines = rich_lines if sys.stderr.isatty() else plain_lines
        with lines() as view:
            job = wait_for(client, accepted["job_id"], user_id=user_id, view=view, timeout=timeout)
    if job["status"] != "succeeded":
        raise JobFailed(f"{job['job_id']} failed: {job.get('error') or 'no error recorded'}")
    _print_result(job)
    return 0


def register(app: typer.Typer) -> None:
    """Add ``generate`` to the command line."""
    app.command("generate")(generate_command)
