"""The saga admin API: ``wikisaga sagas list|show|retry|resolve`` over HTTP.

Every route needs ``X-INTERNAL-TOKEN``. With ``X-User-ID`` the caller is that user, who
sees and acts on only the sagas they ran (:attr:`~distributed_saga.SagaRecord.user_id`):
another user's saga is 404, as an unknown one is, and ``project_id`` of another user's
project 403 (:meth:`JobRunner.check_owner`). Without ``X-User-ID`` the caller is the
service's operator, who sees every saga.

- ``GET /sagas?state=&project_id=&lock_key=&limit=&before=``: newest first, in keyset pages
  (``SagaLog.list_sagas(before=)``). ``project_id`` is the lock key ``wiki:{project_id}``
  that every generation of the project holds. ``next_before`` continues the listing. A
  user's listing is one query a page too (``list_sagas(user_id=)``, on the log's index of
  each user's sagas), however many other users' sagas the log keeps.
- ``GET /sagas/{saga_id}``: the saga with its steps.
- ``POST /sagas/{saga_id}/retry``: the remaining compensations of a ``failed`` saga, run with
  the backend's own token (:func:`~wikisaga.pipeline.compensations.publish_compensations`,
  as its recoverer does).
- ``POST /sagas/{saga_id}/resolve`` ``{reason}``: record that its remaining steps were undone
  by hand.

Each retry or resolve claims the saga under an owner of its own (:func:`_operation_owner`),
so a second one while the first holds the saga is 409 ``saga_state``.

After a retry or a resolve the jobs are reconciled with their sagas
(:meth:`JobRunner.reconcile`), and the saga's own failed job takes its final status
(:meth:`~wikisaga.jobs.JobStore.follow_saga`). Errors go through the backend's table
(``deps.ERRORS``): unknown saga 404 ``saga_not_found``, a saga in a state that does not
allow it 409 ``saga_state``.
"""

from __future__ import annotations

import logging
import math
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from distributed_saga import SagaNotFoundError, SagaRecord, SagaState, resolve_saga, retry_saga
from wikisaga.auth import get_internal_headers
from wikisaga.errors import InvalidId
from wikisaga.ids import PROJECT_ID_PATTERN, validate_project_id, validate_saga_id
from wikisaga.pipeline.compensations import publish_compensations
from wikisaga.services._common import ERROR_RESPONSES, OptionalUserId
from wikisaga.services._common.deps import internal_token
from wikisaga.services._common.errors import BadRequest, Unprocessable
from wikisaga.services.backend.deps import Runner
from wikisaga.services.backend.runner import JobRunner
from wikisaga.services.backend.schemas import (
    ResolveRequest,
    SagaBody,
    SagaList,
    SagaOutcome,
    saga_body,
)

__all__ = ["position_of", "router"]

logger = logging.getLogger("wikisaga.services.backend")

router = APIRouter(
    tags=["sagas"], dependencies=[Depends(internal_token)], responses=ERROR_RESPONSES
)

SagaId = Annotated[str, Path(min_length=1, max_length=256, description="The saga's id.")]


def position_of(record: SagaRecord) -> str:
    """The keyset position of ``record`` as ``before`` takes it: ``created_at,saga_id``."""
    return f"{(record.created_at or 0.0)!r},{record.saga_id}"


def _parse_position(text: str) -> tuple[float, str]:
    stamp, _, saga_id = text.partition(",")
    try:
        created_at = float(stamp)
    except ValueError:
        created_at = math.nan
    try:
        if saga_id and math.isfinite(created_at):
            return created_at, validate_saga_id(saga_id)
    except InvalidId:
        pass
    raise BadRequest(
        "before must be the next_before of a previous page: 'created_at,saga_id'",
        code="invalid_before",
    )


def _operation_owner(runner: JobRunner) -> str:
    """The owner a retry or a resolve claims the saga under: this process's name and one
    of the operation's own. Under the process's one name a second operation on the saga
    would take over the first's claim (an owner may re-claim what it holds) and run
    beside it; with its own it is refused while the first holds the saga."""
    return f"{runner.owner}:op-{secrets.token_hex(4)}"


def _who(user_id: str | None) -> str:
    return f"user {user_id}" if user_id is not None else "the operator"


def _visible(runner: JobRunner, saga_id: str, user_id: str | None) -> SagaRecord:
    """The saga, if the caller may see it (an unknown or another user's saga is 404)."""
    record = runner.saga_log.get_saga(validate_saga_id(saga_id))
    if user_id is not None and record.user_id != user_id:
        raise SagaNotFoundError(saga_id)
    return record


def _reconcile(runner: JobRunner, saga_id: str, how: str) -> None:
    """Bring the jobs in line with the saga just retried or resolved: the expired ones
    (:meth:`JobRunner.reconcile`), then the saga's own finished job, which takes the saga's
    final status (:meth:`~wikisaga.jobs.JobStore.follow_saga`)."""
    try:
        runner.reconcile()
        record = runner.saga_log.get_saga(saga_id)
        runner.jobs.follow_saga(saga_id, record.status(), how=how)
    except Exception:  # the saga's answer stands; the next recovery pass reconciles
        logger.warning("jobs not reconciled after a saga operation", exc_info=True)


@router.get("/sagas", response_model=SagaList)
def list_sagas(
    runner: Runner,
    user_id: OptionalUserId,
    state: Annotated[list[SagaState] | None, Query(description="Only these states.")] = None,
    project_id: Annotated[
        str | None,
        Query(max_length=128, json_schema_extra={"pattern": PROJECT_ID_PATTERN}),
    ] = None,
    lock_key: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    before: Annotated[
        str | None, Query(min_length=3, max_length=300, description="A page's next_before.")
    ] = None,
) -> SagaList:
    """Sagas newest first, filtered by state and project (or lock key), in keyset pages."""
    if project_id is not None:
        project_id = validate_project_id(project_id)
        if lock_key is not None and lock_key != f"wiki:{project_id}":
            raise Unprocessable(
                "give project_id or lock_key, not two that disagree", code="invalid_filter"
            )
        lock_key = f"wiki:{project_id}"
        if user_id is not None:
            runner.check_owner(project_id, user_id)
    cursor = _parse_position(before) if before is not None else None
    # One read: the operator's of every saga, a user's of their own (user_id=None filters
    # nothing). A full page may have a next one; a short page is the last.
    found = runner.saga_log.list_sagas(
        states=state or None, lock_key=lock_key, user_id=user_id, limit=limit, before=cursor
    )
    next_before = position_of(found[-1]) if len(found) == limit else None
    return SagaList(sagas=[saga_body(record) for record in found], next_before=next_before)


@router.get("/sagas/{saga_id}", response_model=SagaBody)
def show_saga(saga_id: SagaId, runner: Runner, user_id: OptionalUserId) -> SagaBody:
    """One saga with its steps, timings and errors, and what is left to undo."""
    return saga_body(_visible(runner, saga_id, user_id))


@router.post("/sagas/{saga_id}/retry", response_model=SagaOutcome)
def retry(saga_id: SagaId, runner: Runner, user_id: OptionalUserId) -> SagaOutcome:
    """Retry a failed saga's remaining compensations with the backend's own token:
    ``rolled_back``, or ``failed`` with what is still left."""
    _visible(runner, saga_id, user_id)
    registry = publish_compensations(get_internal_headers(settings=runner.settings))
    outcome = retry_saga(
        runner.saga_log,
        saga_id,
        registry=registry,
        observer=runner.metrics,
        owner=_operation_owner(runner),
        lease_seconds=runner.settings.saga_lease_seconds,
    )
    _reconcile(runner, saga_id, f"{_who(user_id)}'s retry through the backend undid the rest")
    return SagaOutcome(
        saga_id=outcome.saga_id,
        state=outcome.state.value,
        undone=outcome.undone,
        remaining=outcome.remaining,
    )


@router.post("/sagas/{saga_id}/resolve", response_model=SagaOutcome)
def resolve(
    saga_id: SagaId, body: ResolveRequest, runner: Runner, user_id: OptionalUserId
) -> SagaOutcome:
    """Record that a failed saga's remaining steps were undone by hand (``reason`` says
    what was done); the saga ends ``rolled_back``. Nothing is run."""
    _visible(runner, saga_id, user_id)
    reason = body.reason.strip()
    note = f"{reason} (resolved through the backend by {_who(user_id)})"
    outcome = resolve_saga(
        runner.saga_log,
        saga_id,
        note=note,
        observer=runner.metrics,
        owner=_operation_owner(runner),
        lease_seconds=runner.settings.saga_lease_seconds,
    )
    _reconcile(runner, saga_id, f"resolved by hand by {_who(user_id)}: {reason}")
    return SagaOutcome(
        saga_id=outcome.saga_id,
        state=outcome.state.value,
        undone=outcome.undone,
        remaining=outcome.remaining,
    )
