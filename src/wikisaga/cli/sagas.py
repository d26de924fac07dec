"""``wikisaga sagas ...`` and ``wikisaga recover``: inspect, repair and prune the saga log.

Every command reads the log named by ``--log-url`` or ``WIKISAGA_SAGA_LOG_URL`` (default:
SQLite in the data directory). ``list``, ``show``, ``retry`` and ``resolve`` take
``--backend URL`` instead: they then ask that backend's saga admin API (``/sagas``) and
print the same, as its operator, or with ``--user`` as that user (their sagas only); a
retry then runs on the backend, with its token. ``WIKISAGA_BACKEND_URL`` is not read for
this: it always has a value, and these commands open the log unless told otherwise.
Commands that run compensations (``retry``, ``recover``) send the internal token from the
settings, as the services do. Errors of the saga engine
are translated here, at the boundary, into :class:`~wikisaga.errors.SagaOperationError`.
"""

from __future__ import annotations

import datetime
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from distributed_saga import (
    FINISHED_STATES,
    CompensationRegistry,
    SagaError,
    SagaLog,
    SagaRecord,
    SagaState,
    open_saga_log,
    prune_sagas,
    recover_sagas,
    resolve_saga,
    retry_saga,
)
from wikisaga.auth import get_internal_headers
from wikisaga.clients.backend import BackendClient
from wikisaga.config import Settings
from wikisaga.errors import ConfigError, SagaOperationError, WikisagaError
from wikisaga.ids import validate_project_id, validate_user_id
from wikisaga.jobs import open_job_store
from wikisaga.pipeline.compensations import publish_compensations
from wikisaga.services.backend.schemas import ResolveRequest, saga_body

__all__ = ["register"]

LogUrl = Annotated[
    str | None,
    typer.Option(help="saga log URL (default: WIKISAGA_SAGA_LOG_URL, or SQLite in the data dir)"),
]
Json = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
BackendUrl = Annotated[
    str | None,
    typer.Option(
        "--backend",
        help="ask this backend's saga API (its URL, e.g. $WIKISAGA_BACKEND_URL) instead of "
        "opening the log",
    ),
]
AsUser = Annotated[
    str | None,
    typer.Option(help="with --backend: act as this user, on their sagas only (default: operator)"),
]


@contextmanager
def _log(log_url: str | None) -> Iterator[SagaLog]:
    """The saga log, opened and closed; engine errors become SagaOperationError."""
    settings = Settings.from_env()
    try:
        log = open_saga_log(log_url or settings.effective_saga_log_url)
        try:
            yield log
        finally:
            log.close()
    except SagaError as exc:
        raise SagaOperationError(str(exc)) from exc


def _follow(log: SagaLog, log_url: str | None, saga_id: str, how: str) -> None:
    """Let the saga's failed job, if the backend ran it, take the saga's new status."""
    settings = Settings.from_env()
    url = log_url or settings.effective_saga_log_url
    status = log.get_saga(saga_id).status()
    try:
        with open_job_store(url, data_dir=settings.data_dir) as jobs:
            jobs.follow_saga(saga_id, status, how=how)
    except WikisagaError as exc:  # the saga's outcome stands; say what was not updated
        print(f"wikisaga: warning: the saga's job was not updated: {exc}", file=sys.stderr)


def _registry() -> CompensationRegistry:
    # Compensations run by an operator authenticate with this process's own token.
    return publish_compensations(get_internal_headers(settings=Settings.from_env()))


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _as_json(record: SagaRecord) -> dict[str, Any]:
    # The backend's saga API serves the same JSON (one definition, schemas.saga_body).
    return saga_body(record).model_dump(mode="json")


@contextmanager
def _backend(url: str, log_url: str | None) -> Iterator[BackendClient]:
    """A client of the backend's saga admin API, sending this process's token."""
    if log_url is not None:
        raise typer.BadParameter("give --backend or --log-url, not both")
    settings = Settings.from_env()
    try:
        settings = settings.with_changes(backend_url=url)
    except ConfigError:  # it names WIKISAGA_BACKEND_URL, which this command does not read
        raise typer.BadParameter(
            f"--backend {url!r} must be an http:// or https:// URL (the backend's, e.g. "
            "$WIKISAGA_BACKEND_URL)"
        ) from None
    headers = get_internal_headers(settings=settings)
    with BackendClient(
        settings.backend_url, headers=headers, timeout=settings.network_timeout
    ) as client:
        yield client


def _acting(user: str | None, backend: str | None) -> str | None:
    if user is None:
        return None
    if backend is None:
        raise typer.BadParameter("--user needs --backend: the log itself has no users to check")
    return validate_user_id(user)


def _print_table(sagas: list[dict[str, Any]]) -> None:
    if not sagas:
        print("no sagas")
        return
    print(f"{'saga':<48} {'state':<13} {'steps':>5} {'to undo':>7}  {'created (UTC)':<19}  lock")
    for saga in sagas:
        print(
            f"{saga['saga_id']:<48} {saga['state']:<13} {len(saga['steps']):>5} "
            f"{len(saga['remaining_compensations']):>7}  {_when(saga['created_at']):<19}  "
            f"{saga['lock_key'] or '-'}"
        )


def _print_saga(saga: dict[str, Any]) -> None:
    print(f"saga     {saga['saga_id']}")
    print(f"state    {saga['state']}")
    print(f"user     {saga['user_id'] or '-'}")
    print(f"lock     {saga['lock_key'] or '-'}")
    print(f"owner    {saga['owner'] or '-'}")
    print(f"created  {_when(saga['created_at'])} UTC, updated {_when(saga['updated_at'])} UTC")
    if saga["failed_at"] or saga["error"]:
        print(f"failed   at {saga['failed_at'] or '-'}: {saga['error'] or '-'}")
    print("steps")
    for step in saga["steps"]:
        seconds = f"{step['seconds']:.3f}s" if step["seconds"] is not None else "-"
        print(
            f"  {step['index']}. {step['name']}  [{step['state']}] {seconds}, "
            f"tries {step['attempts']}"
        )
        if step["error"]:
            print(f"       error: {step['error']}")
        if step["compensation"]:
            print(f"       undo: {step['compensation']} (tries {step['compensation_attempts']})")
        if step["compensation_error"]:
            print(f"       undo error: {step['compensation_error']}")
    remaining = saga["remaining_compensations"]
    if remaining:
        print("left to undo: " + ", ".join(remaining))


def list_sagas(
    state: Annotated[
        list[SagaState] | None, typer.Option(help="only sagas in this state (repeatable)")
    ] = None,
    lock_key: Annotated[str | None, typer.Option(help="only sagas holding this lock key")] = None,
    project: Annotated[
        str | None, typer.Option(help="only the project's generations (lock key wiki:PROJECT)")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="at most this many, newest first")] = 50,
    json_output: Json = False,
    log_url: LogUrl = None,
    backend: BackendUrl = None,
    user: AsUser = None,
) -> int:
    """List sagas, newest first."""
    user_id = _acting(user, backend)
    if project is not None:
        project = validate_project_id(project)
        if lock_key is not None and lock_key != f"wiki:{project}":
            raise typer.BadParameter("give --project or --lock-key, not two that disagree")
    if backend is not None:
        with _backend(backend, log_url) as client:
            sagas = client.sagas(
                limit=limit,
                user_id=user_id,
                states=[s.value for s in state or ()],
                project_id=project,
                lock_key=None if project is not None else lock_key,
            )
    else:
        key = f"wiki:{project}" if project is not None else lock_key
        with _log(log_url) as log:
            records = log.list_sagas(states=state or None, lock_key=key, limit=limit)
        sagas = [_as_json(record) for record in records]
    if json_output:
        print(json.dumps(sagas, indent=2))
    else:
        _print_table(sagas)
    return 0


def show(
    saga_id: Annotated[str, typer.Argument(help="the saga to show")],
    json_output: Json = False,
    log_url: LogUrl = None,
    backend: BackendUrl = None,
    user: AsUser = None,
) -> int:
    """One saga with its steps, timings and errors, and what is left to undo."""
    user_id = _acting(user, backend)
    if backend is not None:
        with _backend(backend, log_url) as client:
            saga = client.get_saga(saga_id, user_id=user_id)
    else:
        with _log(log_url) as log:
            saga = _as_json(log.get_saga(saga_id))
    if json_output:
        print(json.dumps(saga, indent=2))
    else:
        _print_saga(saga)
    return 0


def retry(
    saga_id: Annotated[str, typer.Argument(help="the failed saga to retry")],
    log_url: LogUrl = None,
    backend: BackendUrl = None,
    user: AsUser = None,
) -> int:
    """Retry a failed saga's remaining compensations (with --backend: the backend runs
    them with its own token)."""
    user_id = _acting(user, backend)
    if backend is not None:
        with _backend(backend, log_url) as client:
            answer = client.retry_saga(saga_id, user_id=user_id)
        state, undone, remaining = answer["state"], answer["undone"], answer["remaining"]
    else:
        with _log(log_url) as log:
            outcome = retry_saga(log, saga_id, registry=_registry())
            _follow(log, log_url, saga_id, "an operator's `wikisaga sagas retry` undid the rest")
        state, undone, remaining = outcome.state.value, outcome.undone, outcome.remaining
    print(f"{saga_id}: {state} ({undone} undone, {remaining} left)")
    return 0 if state == SagaState.ROLLED_BACK.value else 1


def resolve(
    saga_id: Annotated[str, typer.Argument(help="the failed saga to resolve")],
    note: Annotated[str, typer.Option(help="what was done by hand, and by whom")],
    log_url: LogUrl = None,
    backend: BackendUrl = None,
    user: AsUser = None,
) -> int:
    """Record that a failed saga's remaining steps were undone by hand."""
    user_id = _acting(user, backend)
    try:  # the note is checked as the backend checks a reason, before anything is opened
        note = ResolveRequest(reason=note).reason
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise typer.BadParameter(f"--note: {reason}") from None
    if backend is not None:
        with _backend(backend, log_url) as client:
            answer = client.resolve_saga(saga_id, reason=note, user_id=user_id)
        state, undone = answer["state"], answer["undone"]
    else:
        with _log(log_url) as log:
            outcome = resolve_saga(log, saga_id, note=note)
            _follow(log, log_url, saga_id, f"resolved by hand: {note.strip()}")
        state, undone = outcome.state.value, outcome.undone
    print(f"{saga_id}: {state} ({undone} steps marked undone)")
    return 0


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> float:
    """``90s``, ``15m``, ``12h``, ``30d``, ``2w`` or plain seconds, as seconds."""
    value = text.strip().lower()
    unit = _UNITS.get(value[-1:]) if value else None
    number = value[:-1] if unit is not None else value
    try:
        seconds = float(number) * (unit or 1)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not an age: use seconds or a number with s, m, h, d or w (30d)"
        ) from None
    if not seconds >= 0:
        raise typer.BadParameter(f"{text!r}: an age cannot be negative")
    return seconds


def prune(
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than", help="prune sagas finished longer ago than this (30d, 12h, 3600)"
        ),
    ],
    include_failed: Annotated[
        bool,
        typer.Option(
            "--include-failed",
            help="also prune failed sagas, forgetting what they left undone",
        ),
    ] = False,
    log_url: LogUrl = None,
) -> int:
    """Delete finished sagas (committed, rolled back) older than an age, with their steps,
    and the backend's jobs that finished before it.

    Sagas in flight are never pruned; failed ones only with --include-failed. Jobs queued
    or running are never pruned, nor each project's newest succeeded job (it names the
    committed wiki), nor, without --include-failed, the jobs of failed sagas.
    """
    seconds = parse_age(older_than)
    states = set(FINISHED_STATES) | ({SagaState.FAILED} if include_failed else set())
    settings = Settings.from_env()
    url = log_url or settings.effective_saga_log_url
    with _log(url) as log:
        deleted = prune_sagas(log, seconds, states=states)
        keep: set[str] = set()
        if not include_failed:
            keep = {r.saga_id for r in log.list_sagas(states=[SagaState.FAILED], limit=100_000)}
    with open_job_store(url, data_dir=settings.data_dir) as jobs:
        jobs_deleted = jobs.prune(seconds, keep_sagas=keep)
    print(f"pruned {deleted} saga(s) and {jobs_deleted} job(s) finished more than {older_than} ago")
    return 0


def recover(log_url: LogUrl = None) -> int:
    """Compensate sagas whose process died (one recovery pass)."""
    with _log(log_url) as log:
        outcomes = recover_sagas(log, registry=_registry())
    for outcome in outcomes:
        print(
            f"{outcome.saga_id}: {outcome.state.value} ({outcome.undone} undone, "
            f"{outcome.remaining} left)"
        )
    print(f"recovered {len(outcomes)} saga(s)")
    return 0 if all(o.state is SagaState.ROLLED_BACK for o in outcomes) else 1


def register(app: typer.Typer) -> None:
    """Add ``sagas {list,show,retry,resolve}`` and ``recover`` to the command line."""
    group = typer.Typer(help="Inspect and repair sagas in the saga log.", no_args_is_help=True)
    group.command("list")(list_sagas)
    group.command()(show)
    group.command()(retry)
    group.command()(resolve)
    group.command()(prune)
    app.add_typer(group, name="sagas")
    app.command()(recover)
