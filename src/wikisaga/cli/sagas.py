"""``wikisaga sagas ...`` and ``wikisaga recover``: inspect and repair the saga log.

Every command reads the log named by ``--log-url`` or ``WIKISAGA_SAGA_LOG_URL`` (default:
SQLite in the data directory). Commands that run compensations (``retry``, ``recover``)
use the internal token from the settings, as the services do.
"""

from __future__ import annotations

import argparse
import datetime
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from distributed_saga import (
    SagaLog,
    SagaRecord,
    SagaState,
    open_saga_log,
    recover_sagas,
    resolve_saga,
    retry_saga,
)
from wikisaga.config import Settings
from wikisaga.auth import get_internal_headers
from wikisaga.pipeline.publish import recovery_headers

__all__ = ["register_recover", "register_sagas"]


@contextmanager
def _log(args: argparse.Namespace) -> Iterator[SagaLog]:
    settings = Settings.from_env()
    log = open_saga_log(args.log_url or settings.effective_saga_log_url)
    try:
        yield log
    finally:
        log.close()


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


def _list(args: argparse.Namespace) -> int:
    states = [SagaState(state) for state in args.state] if args.state else None
    with _log(args) as log:
        records = log.list_sagas(states=states, lock_key=args.lock_key, limit=args.limit)
    if args.json:
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


def _show(args: argparse.Namespace) -> int:
    with _log(args) as log:
        record = log.get_saga(args.saga_id)
    if args.json:
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


def _retry(args: argparse.Namespace) -> int:
    with _log(args) as log, recovery_headers(get_internal_headers(settings=Settings.from_env())):
        outcome = retry_saga(log, args.saga_id)
    print(
        f"{outcome.saga_id}: {outcome.state.value} ({outcome.undone} undone, "
        f"{outcome.remaining} left)"
    )
    return 0 if outcome.state is SagaState.ROLLED_BACK else 1


def _resolve(args: argparse.Namespace) -> int:
    with _log(args) as log:
        outcome = resolve_saga(log, args.saga_id, note=args.note)
    print(f"{outcome.saga_id}: {outcome.state.value} ({outcome.undone} steps marked undone)")
    return 0


def _recover(args: argparse.Namespace) -> int:
    with _log(args) as log, recovery_headers(get_internal_headers(settings=Settings.from_env())):
        outcomes = recover_sagas(log)
    for outcome in outcomes:
        print(
            f"{outcome.saga_id}: {outcome.state.value} ({outcome.undone} undone, "
            f"{outcome.remaining} left)"
        )
    print(f"recovered {len(outcomes)} saga(s)")
    return 0 if all(o.state is SagaState.ROLLED_BACK for o in outcomes) else 1


def _log_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-url", help="saga log URL (default: WIKISAGA_SAGA_LOG_URL, or SQLite in the data dir)"
    )


def register_sagas(subparsers: Any) -> None:
    """``wikisaga sagas {list,show,retry,resolve}``."""
    parser = subparsers.add_parser("sagas", help="inspect and repair sagas in the saga log")
    commands = parser.add_subparsers(dest="sagas_command", required=True, metavar="ACTION")

    listing = commands.add_parser("list", help="list sagas, newest first")
    listing.add_argument(
        "--state", action="append", choices=[s.value for s in SagaState], help="(repeatable)"
    )
    listing.add_argument("--lock-key", help="only sagas holding this lock key")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true")
    _log_option(listing)
    listing.set_defaults(handler=_list)

    show = commands.add_parser("show", help="one saga with its steps, timings and errors")
    show.add_argument("saga_id")
    show.add_argument("--json", action="store_true")
    _log_option(show)
    show.set_defaults(handler=_show)

    retry = commands.add_parser("retry", help="retry a failed saga's remaining compensations")
    retry.add_argument("saga_id")
    _log_option(retry)
    retry.set_defaults(handler=_retry)

    resolve = commands.add_parser(
        "resolve", help="record that a failed saga's remaining steps were undone by hand"
    )
    resolve.add_argument("saga_id")
    resolve.add_argument("--note", required=True, help="what was done, and by whom")
    _log_option(resolve)
    resolve.set_defaults(handler=_resolve)


def register_recover(subparsers: Any) -> None:
    """``wikisaga recover``: one recovery pass over sagas whose owner stopped."""
    parser = subparsers.add_parser("recover", help="compensate sagas whose process died (one pass)")
    _log_option(parser)
    parser.set_defaults(handler=_recover)
