"""``wikisaga sagas ...`` and ``wikisaga recover``: inspect, repair and prune the saga log.

Every command reads the log named by ``--log-url`` or ``WIKISAGA_SAGA_LOG_URL`` (default:
SQLite in the data directory). Commands that run compensations (``retry``, ``recover``)
send the internal token from the settings, as the services do. Errors of the saga engine
are translated here, at the boundary, into :class:`~wikisaga.errors.SagaOperationError`.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

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
from wikisaga.config import Settings
from wikisaga.errors import SagaOperationError
from wikisaga.jobs import open_job_store
from wikisaga.pipeline.compensations import publish_compensations

__all__ = ["register"]

LogUrl = Annotated[
    str | None,
    typer.Option(help="saga log URL (default: WIKISAGA_SAGA_LOG_URL, or SQLite in the data dir)"),
]
Json = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]


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


def _registry() -> CompensationRegistry:
    # Compensations run by an operator authenticate with this process's own token.
    return publish_compensations(get_internal_headers(settings=Settings.from_env()))


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _as_json(record: SagaRecord) -> dict[str, Any]:
    return {
        **record.status(),
        "lock_key": record.lock_key,
        "owner": record.owner,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "metadata": dict(record.metadata),
        "remaining_compensations": [step.name for step in record.remaining_compensations],
        "steps": [
            {
                "index": step.index,
                "name": step.name,
                "state": step.state.value,
                "compensation": step.compensation,
                "attempts": step.attempts,
                "seconds": step.duration,
                "error": step.error,
                "compensation_attempts": step.compensation_attempts,
                "compensation_error": step.compensation_error,
            }
            for step in record.steps
        ],
    }


def list_sagas(
    state: Annotated[
        list[SagaState] | None, typer.Option(help="only sagas in this state (repeatable)")
    ] = None,
    lock_key: Annotated[str | None, typer.Option(help="only sagas holding this lock key")] = None,
    limit: Annotated[int, typer.Option(min=1, help="at most this many, newest first")] = 50,
    json_output: Json = False,
    log_url: LogUrl = None,
) -> int:
    """List sagas, newest first."""
    with _log(log_url) as log:
        records = log.list_sagas(states=state or None, lock_key=lock_key, limit=limit)
    if json_output:
        print(json.dumps([_as_json(record) for record in records], indent=2))
        return 0
    if not records:
        print("no sagas")
        return 0
    print(f"{'saga':<48} {'state':<13} {'steps':>5} {'to undo':>7}  {'created (UTC)':<19}  lock")
    for record in records:
        print(
            f"{record.saga_id:<48} {record.state.value:<13} {len(record.steps):>5} "
            f"{len(record.remaining_compensations):>7}  {_when(record.created_at):<19}  "
            f"{record.lock_key or '-'}"
        )
    return 0


def show(
    saga_id: Annotated[str, typer.Argument(help="the saga to show")],
    json_output: Json = False,
    log_url: LogUrl = None,
) -> int:
    """One saga with its steps, timings and errors, and what is left to undo."""
    with _log(log_url) as log:
        record = log.get_saga(saga_id)
    if json_output:
        print(json.dumps(_as_json(record), indent=2))
        return 0
    print(f"saga     {record.saga_id}")
    print(f"state    {record.state.value}")
    print(f"user     {record.user_id or '-'}")
    print(f"lock     {record.lock_key or '-'}")
    print(f"owner    {record.owner or '-'}")
    print(f"created  {_when(record.created_at)} UTC, updated {_when(record.updated_at)} UTC")
    if record.failed_at or record.error:
        print(f"failed   at {record.failed_at or '-'}: {record.error or '-'}")
    print("steps")
    for step in record.steps:
        seconds = f"{step.duration:.3f}s" if step.duration is not None else "-"
        print(f"  {step.index}. {step.name}  [{step.state.value}] {seconds}, tries {step.attempts}")
        if step.error:
            print(f"       error: {step.error}")
        if step.compensation:
            print(f"       undo: {step.compensation} (tries {step.compensation_attempts})")
        if step.compensation_error:
            print(f"       undo error: {step.compensation_error}")
    remaining = record.remaining_compensations
    if remaining:
        print("left to undo: " + ", ".join(step.name for step in remaining))
    return 0


def retry(
    saga_id: Annotated[str, typer.Argument(help="the failed saga to retry")],
    log_url: LogUrl = None,
) -> int:
    """Retry a failed saga's remaining compensations."""
    with _log(log_url) as log:
        outcome = retry_saga(log, saga_id, registry=_registry())
    print(
        f"{outcome.saga_id}: {outcome.state.value} ({outcome.undone} undone, "
        f"{outcome.remaining} left)"
    )
    return 0 if outcome.state is SagaState.ROLLED_BACK else 1


def resolve(
    saga_id: Annotated[str, typer.Argument(help="the failed saga to resolve")],
    note: Annotated[str, typer.Option(help="what was done by hand, and by whom")],
    log_url: LogUrl = None,
) -> int:
    """Record that a failed saga's remaining steps were undone by hand."""
    with _log(log_url) as log:
        outcome = resolve_saga(log, saga_id, note=note)
    print(f"{outcome.saga_id}: {outcome.state.value} ({outcome.undone} steps marked undone)")
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
