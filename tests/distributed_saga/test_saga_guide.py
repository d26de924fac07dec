"""The engine's behaviour: the guide's API and what we add to it (on an in-process log)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import pytest

import distributed_saga
from distributed_saga import (
    Compensation,
    CompensationRegistry,
    DistributedSaga,
    FaultPlan,
    FaultPoint,
    LeaseLostError,
    RetryPolicy,
    SagaLockedError,
    SagaObserver,
    SagaState,
    SagaStateError,
    StepState,
    StepTimeoutError,
    UnknownCompensationError,
    recover_sagas,
    resolve_saga,
    retry_saga,
)
from distributed_saga.log import MemorySagaLog

GUIDE_STATUS_KEYS = {
    "saga_id",
    "user_id",
    "state",
    "total_steps",
    "completed_steps",
    "failed_at",
    "error",
}

FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.002, retry_on=lambda e: True)


class Crash(BaseException):
    """Stands for the process dying: the engine does not catch it."""


def crash() -> None:
    raise Crash


@pytest.fixture
def registry() -> CompensationRegistry:
    return CompensationRegistry()


@pytest.fixture
def shelf(registry: CompensationRegistry) -> dict[str, Any]:
    """A key-value store whose durable compensation ``shelf.restore`` puts a key back."""
    store: dict[str, Any] = {}

    def restore(args: Mapping[str, Any]) -> None:
        if args["prior"] is None:
            store.pop(args["key"], None)
        else:
            store[args["key"]] = args["prior"]

    registry.register("shelf.restore", restore)
    return store


# -- the guide's three unit tests, in spirit --------------------------------------------


@pytest.fixture(params=["memory", "sqlite"])
def guide_log(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    """The guide's default (no log: in memory), and the durable SQLite log."""
    if request.param == "memory":
        return None
    from distributed_saga import open_saga_log  # noqa: PLC0415

    return open_saga_log(f"sqlite:///{tmp_path}/sagas.db")


def test_successful_saga_returns_results_and_commits(guide_log: Any) -> None:
    """Guide test 1: every step runs, returns its result, and the saga commits."""
    saga = DistributedSaga(saga_id="operation-123", user_id="user-456", log=guide_log)
    first = saga.execute_step(name="Save files", action=lambda: 45, rollback=lambda: None)
    second = saga.execute_step(name="Snapshot", action=lambda: "snap-1", rollback=lambda: None)
    saga.commit()
    assert (first, second) == (45, "snap-1")
    assert saga.get_status() == {
        "saga_id": "operation-123",
        "user_id": "user-456",
        "state": "committed",
        "total_steps": 2,
        "completed_steps": 2,
        "failed_at": None,
        "error": None,
    }
    assert saga.record().state is SagaState.COMMITTED


def test_step_failure_rolls_back_in_reverse_order_and_reraises(guide_log: Any) -> None:
    """Guide test 2: a failing step undoes the earlier steps, last first, then re-raises."""
    undone: list[str] = []
    saga = DistributedSaga(saga_id="wiki-proj-123", user_id="user-456", log=guide_log)
    saga.execute_step(name="one", action=lambda: 1, rollback=lambda: undone.append("one"))
    saga.execute_step(name="two", action=lambda: 2, rollback=lambda: undone.append("two"))
    boom = ConnectionError("Connection refused")

    def fail() -> None:
        raise boom

    with pytest.raises(ConnectionError) as raised:
        saga.execute_step(name="three", action=fail)
    assert raised.value is boom
    assert undone == ["two", "one"]
    status = saga.get_status()
    assert status["state"] == "rolled_back"
    assert status["failed_at"] == "three"
    assert "Connection refused" in status["error"]
    assert status["total_steps"] == 3
    assert status["completed_steps"] == 2
    record = saga.record()
    assert record.state is SagaState.ROLLED_BACK
    assert [step.state for step in record.steps] == [StepState.COMPENSATED] * 2 + [StepState.FAILED]


def test_rollback_failure_marks_saga_failed_and_attempts_every_other_rollback(
    guide_log: Any,
) -> None:
    """Guide test 3: a rollback that keeps failing leaves the saga ``failed``; the others
    still run."""
    undone: list[str] = []

    def broken_rollback() -> None:
        raise TimeoutError("delete timed out")

    saga = DistributedSaga(saga_id="s", user_id="u", compensation_retry=FAST_RETRY, log=guide_log)
    saga.execute_step(name="one", action=lambda: 1, rollback=lambda: undone.append("one"))
    saga.execute_step(name="two", action=lambda: 2, rollback=broken_rollback)
    saga.execute_step(name="three", action=lambda: 3, rollback=lambda: undone.append("three"))
    with pytest.raises(RuntimeError, match="nope"):
        saga.execute_step(name="four", action=_raise(RuntimeError("nope")))
    assert undone == ["three", "one"]
    assert saga.get_status()["state"] == "failed"
    record = saga.record()
    assert [s.name for s in record.remaining_compensations] == ["two"]
    two = record.steps[1]
    assert two.state is StepState.COMPENSATION_FAILED
    assert two.compensation_attempts == 3
    assert "delete timed out" in (two.compensation_error or "")


def test_guide_log_lines_at_guide_levels(caplog: pytest.LogCaptureFixture) -> None:
    """The guide's log lines, prefixed with the saga id, at INFO / ERROR / WARNING."""
    caplog.set_level(logging.INFO, logger="distributed_saga")
    ok = DistributedSaga(saga_id="wiki-proj-123")
    ok.execute_step(name="Save 45 wiki files to filesystem", action=lambda: None)
    ok.execute_step(name="Create git snapshot of wiki files", action=lambda: None)
    ok.commit()
    bad = DistributedSaga(saga_id="wiki-proj-9")
    bad.execute_step(name="Save", action=lambda: None, rollback=lambda: None)
    with pytest.raises(ConnectionError):
        bad.execute_step(name="Snap", action=_raise(ConnectionError("Connection refused")))
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert lines == [
        ("INFO", "[wiki-proj-123] Executing step: Save 45 wiki files to filesystem"),
        ("INFO", "[wiki-proj-123] ✓ Step completed: Save 45 wiki files to filesystem"),
        ("INFO", "[wiki-proj-123] Executing step: Create git snapshot of wiki files"),
        ("INFO", "[wiki-proj-123] ✓ Step completed: Create git snapshot of wiki files"),
        ("INFO", "[wiki-proj-123] ✓ Saga committed successfully with 2 steps"),
        ("INFO", "[wiki-proj-9] Executing step: Save"),
        ("INFO", "[wiki-proj-9] ✓ Step completed: Save"),
        ("INFO", "[wiki-proj-9] Executing step: Snap"),
        ("ERROR", "[wiki-proj-9] ✗ Step failed: Snap - Connection refused"),
        ("WARNING", "[wiki-proj-9] Rolling back 1 completed steps"),
        ("WARNING", "[wiki-proj-9] Rolling back: Save"),
        ("INFO", "[wiki-proj-9] ✓ Rollback successful: Save"),
    ]


def test_status_has_exactly_the_guide_keys_in_every_state() -> None:
    """``get_status()`` keeps the guide's keys whatever the state."""
    saga = DistributedSaga(saga_id="s")
    assert set(saga.get_status()) == GUIDE_STATUS_KEYS
    assert saga.get_status()["state"] == "pending"
    saga.execute_step(name="a", action=lambda: None)
    assert saga.get_status()["state"] == "executing"
    saga.commit()
    assert set(saga.get_status()) == GUIDE_STATUS_KEYS


# -- intent before action ------------------------------------------------------------


def test_intent_and_compensation_are_logged_before_the_action_runs(
    registry: CompensationRegistry, shelf: dict[str, Any]
) -> None:
    """When the action runs, the log already holds the step and how to undo it."""
    log = MemorySagaLog()
    seen: list[Any] = []

    def action() -> None:
        step = log.get_saga("s").steps[0]
        seen.append((step.state, step.compensation, dict(step.compensation_args or {})))
        shelf["page"] = "new"

    saga = DistributedSaga(saga_id="s", log=log, registry=registry)
    saga.execute_step(
        name="write",
        action=action,
        rollback=Compensation("shelf.restore", {"key": "page", "prior": None}),
    )
    assert seen == [(StepState.STARTED, "shelf.restore", {"key": "page", "prior": None})]
    # The outcome rides on the next write (here the commit), not a commit of its own.
    assert log.get_saga("s").steps[0].state is StepState.STARTED
    saga.commit()
    assert log.get_saga("s").steps[0].state is StepState.COMPLETED


def test_failed_step_is_compensated_because_it_may_have_partly_happened(
    registry: CompensationRegistry, shelf: dict[str, Any]
) -> None:
    """A step whose action wrote and then failed is undone along with the earlier steps."""
    shelf["old"] = "v1"
    saga = DistributedSaga(saga_id="s", log=MemorySagaLog(), registry=registry)
    saga.execute_step(
        name="overwrite",
        action=lambda: shelf.update(old="v2"),
        rollback=Compensation("shelf.restore", {"key": "old", "prior": "v1"}),
    )

    def write_then_fail() -> None:
        shelf["new"] = "half"
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        saga.execute_step(
            name="partial",
            action=write_then_fail,
            rollback=Compensation("shelf.restore", {"key": "new", "prior": None}),
        )
    assert shelf == {"old": "v1"}
    record = saga.record()
    assert record.state is SagaState.ROLLED_BACK
    assert [s.state for s in record.steps] == [StepState.COMPENSATED, StepState.COMPENSATED]


def test_unknown_compensation_is_refused_before_anything_is_written(
    registry: CompensationRegistry,
) -> None:
    """A compensation name nobody registered fails the call, and no step is recorded."""
    log = MemorySagaLog()
    saga = DistributedSaga(saga_id="s", log=log, registry=registry)
    ran: list[int] = []
    with pytest.raises(UnknownCompensationError, match=r"nobody\.knows"):
        saga.execute_step(
            name="x", action=lambda: ran.append(1), rollback=Compensation("nobody.knows")
        )
    assert ran == []
    assert log.get_saga("s").steps == ()


def test_rollback_uses_the_arguments_recorded_when_the_compensation_was_made(
    registry: CompensationRegistry, shelf: dict[str, Any], guide_log: Any
) -> None:
    """Changing the dict after making the Compensation changes neither the log nor the undo;
    in-process and after recovery, the compensation gets the JSON the log holds."""
    args: dict[str, Any] = {"key": "k", "prior": ("v", 1)}
    undo = Compensation("shelf.restore", args)
    args["prior"] = "changed later"
    shelf["k"] = "v0"
    saga = DistributedSaga(saga_id="s", log=guide_log, registry=registry)
    saga.execute_step(name="write", action=lambda: shelf.update(k="v1"), rollback=undo)
    with pytest.raises(OSError, match="boom"):
        saga.execute_step(name="fail", action=_raise(OSError("boom")))
    assert shelf == {"k": ["v", 1]}  # a tuple comes back from JSON as a list
    assert saga.record().steps[0].compensation_args == {"key": "k", "prior": ["v", 1]}


def _raise(error: Exception) -> Callable[[], None]:
    def action() -> None:
        raise error

    return action


def test_compensation_args_must_be_json() -> None:
    """Durable compensation arguments that JSON cannot hold are refused up front."""
    with pytest.raises(ValueError, match="JSON"):
        Compensation("x", {"when": object()})


# -- forward retries and timeouts ---------------------------------------------------


def test_transient_error_is_retried_when_the_step_is_idempotent() -> None:
    """A blip is retried (no rollback) when the step carries an idempotency key."""
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("blip")
        return "ok"

    saga = DistributedSaga(saga_id="s")
    result = saga.execute_step(
        name="flaky",
        action=flaky,
        idempotency_key=saga.step_key("flaky"),
        retry=RetryPolicy(attempts=3, base_delay=0.001),
    )
    saga.commit()
    assert result == "ok"
    assert len(calls) == 3
    assert saga.record().steps[0].attempts == 3


def test_permanent_error_is_not_retried() -> None:
    """An error the policy calls permanent fails the step on the first try."""
    calls: list[int] = []

    def bad() -> None:
        calls.append(1)
        raise ValueError("400 Bad Request")

    saga = DistributedSaga(saga_id="s")
    with pytest.raises(ValueError, match="400"):
        saga.execute_step(
            name="bad", action=bad, idempotency_key="k", retry=RetryPolicy(attempts=5)
        )
    assert len(calls) == 1


def test_retries_without_idempotency_key_are_refused() -> None:
    """Retrying an action that is not known to be idempotent is a programming error."""
    saga = DistributedSaga(saga_id="s")
    with pytest.raises(ValueError, match="idempotency_key"):
        saga.execute_step(name="x", action=lambda: None, retry=RetryPolicy(attempts=2))
    assert saga.get_status()["total_steps"] == 0


def test_step_timeout_fails_and_compensates_the_step() -> None:
    """An action that overruns its timeout is treated as failed and compensated."""
    undone: list[str] = []
    release = threading.Event()
    saga = DistributedSaga(saga_id="s")
    with pytest.raises(StepTimeoutError):
        saga.execute_step(
            name="slow",
            action=lambda: release.wait(5),
            rollback=lambda: undone.append("slow"),
            timeout=0.05,
        )
    release.set()
    assert undone == ["slow"]
    assert saga.get_status()["state"] == "rolled_back"


# -- states, locks and leases -------------------------------------------------------


def test_finished_saga_refuses_more_steps_and_a_second_commit() -> None:
    """A committed saga cannot grow or be committed again."""
    saga = DistributedSaga(saga_id="s")
    saga.commit()
    with pytest.raises(SagaStateError, match="committed"):
        saga.execute_step(name="late", action=lambda: None)
    with pytest.raises(SagaStateError):
        saga.commit()


def test_lock_key_refuses_a_second_unfinished_saga_and_names_the_holder() -> None:
    """One unfinished saga per lock key; the error names the saga that holds it."""
    log = MemorySagaLog()
    first = DistributedSaga(saga_id="gen-1", log=log, lock_key="proj-1")
    with pytest.raises(SagaLockedError, match="gen-1") as raised:
        DistributedSaga(saga_id="gen-2", log=log, lock_key="proj-1")
    assert raised.value.holder_saga_id == "gen-1"
    DistributedSaga(saga_id="other", log=log, lock_key="proj-2").commit()
    first.commit()
    DistributedSaga(saga_id="gen-2", log=log, lock_key="proj-1").commit()


def test_failed_saga_keeps_its_lock_until_retried(registry: CompensationRegistry) -> None:
    """A ``failed`` saga still has work left, so it holds its lock key until it is undone."""
    broken = {"on": True}

    def undo(args: Mapping[str, Any]) -> None:
        if broken["on"]:
            raise ConnectionError("service down")

    registry.register("flaky.undo", undo)
    log = MemorySagaLog()
    saga = DistributedSaga(
        saga_id="gen-1", log=log, lock_key="p", registry=registry, compensation_retry=FAST_RETRY
    )
    saga.execute_step(name="a", action=lambda: None, rollback=Compensation("flaky.undo"))
    with pytest.raises(RuntimeError):
        saga.execute_step(name="b", action=_raise(RuntimeError("x")))
    assert saga.state is SagaState.FAILED
    with pytest.raises(SagaLockedError):
        DistributedSaga(saga_id="gen-2", log=log, lock_key="p")

    broken["on"] = False
    outcome = retry_saga(log, "gen-1", registry=registry)
    assert outcome.state is SagaState.ROLLED_BACK
    assert log.get_saga("gen-1").remaining_compensations == ()
    DistributedSaga(saga_id="gen-2", log=log, lock_key="p").commit()


def test_saga_that_lost_its_lease_stops_at_its_next_write() -> None:
    """Once recovery has claimed a saga, its old owner may not write another step."""
    log = MemorySagaLog()
    saga = DistributedSaga(saga_id="s", log=log, lease_seconds=0.01)
    saga.execute_step(name="a", action=lambda: None)
    time.sleep(0.03)
    assert log.claim_expired("recoverer", 30.0) == ["s"]
    ran: list[int] = []
    with pytest.raises(LeaseLostError):
        saga.execute_step(name="b", action=lambda: ran.append(1))
    assert ran == []


def test_observer_hears_steps_rollbacks_and_outcomes() -> None:
    """Metrics hooks are told about every step, compensation and final state."""
    events: list[tuple[str, ...]] = []

    class Recorder(SagaObserver):
        def saga_started(self, saga_id: str) -> None:
            events.append(("started", saga_id))

        def step_finished(self, saga_id: str, name: str, seconds: float, error: str | None) -> None:
            events.append(("step", name, "ok" if error is None else "error"))

        def compensation_finished(
            self, saga_id: str, name: str, seconds: float, error: str | None
        ) -> None:
            events.append(("undo", name))

        def rollback_finished(self, saga_id: str, seconds: float, state: SagaState) -> None:
            events.append(("rollback", state.value))

        def saga_finished(self, saga_id: str, state: SagaState) -> None:
            events.append(("finished", state.value))

    saga = DistributedSaga(saga_id="s", observer=Recorder())
    saga.execute_step(name="a", action=lambda: None, rollback=lambda: None)
    with pytest.raises(KeyError):
        saga.execute_step(name="b", action=_raise(KeyError("k")))
    assert events == [
        ("started", "s"),
        ("step", "a", "ok"),
        ("step", "b", "error"),
        ("undo", "a"),
        ("rollback", "rolled_back"),
        ("finished", "rolled_back"),
    ]


# -- recovery -------------------------------------------------------------------------


def test_recovery_compensates_a_saga_whose_process_died(
    registry: CompensationRegistry, shelf: dict[str, Any]
) -> None:
    """A saga cut off mid-way is found once its lease expires and undone, last first."""
    shelf["page"] = "old"
    log = MemorySagaLog()
    saga = DistributedSaga(
        saga_id="s",
        log=log,
        registry=registry,
        lease_seconds=0.01,
        faults=FaultPlan(FaultPoint.AFTER_ACTION, step=1, action=crash),
    )
    saga.execute_step(
        name="page",
        action=lambda: shelf.update(page="new"),
        rollback=Compensation("shelf.restore", {"key": "page", "prior": "old"}),
    )
    with pytest.raises(Crash):
        saga.execute_step(
            name="index",
            action=lambda: shelf.update(index="new"),
            rollback=Compensation("shelf.restore", {"key": "index", "prior": None}),
        )
    del saga
    time.sleep(0.03)
    outcomes = recover_sagas(log, registry=registry, owner="recoverer")
    assert [(o.saga_id, o.state, o.undone) for o in outcomes] == [("s", SagaState.ROLLED_BACK, 2)]
    assert shelf == {"page": "old"}
    assert recover_sagas(log, registry=registry, owner="recoverer") == []


def test_recovery_cannot_run_a_lambda_rollback_and_says_so() -> None:
    """A callable rollback dies with its process: recovery marks the saga ``failed``."""
    log = MemorySagaLog()
    saga = DistributedSaga(
        saga_id="s",
        log=log,
        lease_seconds=0.01,
        faults=FaultPlan(FaultPoint.AFTER_STEP, step=0, action=crash),
    )
    with pytest.raises(Crash):
        saga.execute_step(name="a", action=lambda: None, rollback=lambda: None)
    del saga
    time.sleep(0.03)
    [outcome] = recover_sagas(log, owner="recoverer", compensation_retry=FAST_RETRY)
    assert outcome.state is SagaState.FAILED
    step = log.get_saga("s").steps[0]
    assert step.state is StepState.COMPENSATION_FAILED
    assert "callable" in (step.compensation_error or "")
    assert step.compensation_attempts == 1


def test_recovery_leaves_committed_and_live_sagas_alone(registry: CompensationRegistry) -> None:
    """Only sagas whose lease expired are claimed; committed ones never are."""
    log = MemorySagaLog()
    done = DistributedSaga(saga_id="done", log=log, lease_seconds=0.01)
    done.commit()
    live = DistributedSaga(saga_id="live", log=log, lease_seconds=30)
    live.execute_step(name="a", action=lambda: None)
    time.sleep(0.03)
    assert recover_sagas(log, registry=registry, owner="recoverer") == []
    live.commit()


def test_public_names_are_all_exported() -> None:
    """Everything ``distributed_saga`` exports is listed in ``__all__`` and importable."""
    public = {
        name
        for name, value in vars(distributed_saga).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "").startswith("distributed_saga")
    }
    assert public <= set(distributed_saga.__all__)
    for name in distributed_saga.__all__:
        assert getattr(distributed_saga, name) is not None


def _raise(exc: BaseException) -> Any:
    def action() -> None:
        raise exc

    return action


def test_operator_can_resolve_a_failed_saga_by_hand() -> None:
    """``resolve_saga`` records a hand-made undo, ends the saga and frees its lock."""
    log = MemorySagaLog()
    saga = DistributedSaga(
        saga_id="s",
        log=log,
        lock_key="p",
        lease_seconds=0.01,
        faults=FaultPlan(FaultPoint.AFTER_STEP, step=0, action=crash),
    )
    with pytest.raises(Crash):
        saga.execute_step(name="a", action=lambda: None, rollback=lambda: None)
    del saga
    time.sleep(0.03)
    recover_sagas(log, owner="recoverer", compensation_retry=FAST_RETRY)
    with pytest.raises(ValueError, match="note"):
        resolve_saga(log, "s", note=" ")
    outcome = resolve_saga(log, "s", note="deleted the files by hand")
    assert outcome.state is SagaState.ROLLED_BACK
    assert log.get_saga("s").state is SagaState.ROLLED_BACK
    DistributedSaga(saga_id="next", log=log, lock_key="p").commit()
    with pytest.raises(SagaStateError):
        resolve_saga(log, "s", note="again")


def test_independent_compensations_run_in_parallel(registry: CompensationRegistry) -> None:
    """Consecutive compensations registered ``concurrent=True`` are undone side by side
    (a barrier that needs both at once proves it); others keep strict reverse order."""
    barrier = threading.Barrier(2, timeout=5)
    order: list[str] = []

    def meet(args: Mapping[str, Any]) -> None:
        barrier.wait()
        order.append(args["name"])

    def ordered(args: Mapping[str, Any]) -> None:
        order.append(args["name"])

    registry.register("meet", meet, concurrent=True)
    registry.register("ordered", ordered)
    saga = DistributedSaga(saga_id="s", registry=registry, compensation_retry=RetryPolicy.never())
    saga.execute_step(
        name="first", action=lambda: None, rollback=Compensation("ordered", {"name": "first"})
    )
    saga.execute_step(
        name="graph", action=lambda: None, rollback=Compensation("meet", {"name": "graph"})
    )
    saga.execute_step(
        name="files", action=lambda: None, rollback=Compensation("meet", {"name": "files"})
    )
    with pytest.raises(RuntimeError):
        saga.execute_step(name="boom", action=_raise(RuntimeError("x")))
    assert saga.state is SagaState.ROLLED_BACK
    assert sorted(order[:2]) == ["files", "graph"]
    assert order[2] == "first"


def test_abort_undoes_the_steps_so_far() -> None:
    """``abort`` gives up before commit: completed steps are undone, nothing is raised."""
    undone: list[str] = []
    saga = DistributedSaga(saga_id="s")
    saga.execute_step(name="a", action=lambda: None, rollback=lambda: undone.append("a"))
    saga.abort("planning failed: filesystem unreachable")
    assert undone == ["a"]
    status = saga.get_status()
    assert status["state"] == "rolled_back"
    assert status["error"] == "planning failed: filesystem unreachable"
    with pytest.raises(SagaStateError):
        saga.abort("again")


def test_committed_saga_has_nothing_left_to_undo() -> None:
    """The log lists no remaining compensations for a committed saga."""
    log = MemorySagaLog()
    saga = DistributedSaga(saga_id="s", log=log)
    saga.execute_step(name="a", action=lambda: None, rollback=lambda: None)
    assert [s.name for s in log.get_saga("s").remaining_compensations] == ["a"]
    saga.commit()
    assert log.get_saga("s").remaining_compensations == ()


def test_step_proven_not_applied_is_rejected_and_not_compensated() -> None:
    """When every try failed in a way that proves no effect, the step is ``rejected`` and
    its rollback does not run; the steps before it are still undone."""
    undone: list[str] = []
    saga = DistributedSaga(saga_id="s")
    saga.execute_step(name="a", action=lambda: None, rollback=lambda: undone.append("a"))
    with pytest.raises(ConnectionRefusedError):
        saga.execute_step(
            name="b",
            action=_raise(ConnectionRefusedError("refused")),
            rollback=lambda: undone.append("b"),
            idempotency_key="k",
            retry=RetryPolicy(attempts=2, base_delay=0.001),
            not_applied=lambda e: isinstance(e, ConnectionRefusedError),
        )
    assert undone == ["a"]
    step = saga.record().steps[1]
    assert step.state is StepState.REJECTED
    assert step.attempts == 2
    assert saga.state is SagaState.ROLLED_BACK


def test_step_is_compensated_unless_every_try_proves_no_effect() -> None:
    """A timeout on one try and a refusal on the next prove nothing: compensate."""
    undone: list[str] = []
    errors: list[Exception] = [TimeoutError("late"), ConnectionRefusedError("refused")]

    def flaky() -> None:
        raise errors.pop(0)

    saga = DistributedSaga(saga_id="s")
    with pytest.raises(ConnectionRefusedError):
        saga.execute_step(
            name="b",
            action=flaky,
            rollback=lambda: undone.append("b"),
            idempotency_key="k",
            retry=RetryPolicy(attempts=2, base_delay=0.001),
            not_applied=lambda e: isinstance(e, ConnectionRefusedError),
        )
    assert undone == ["b"]
    assert saga.record().steps[0].state is StepState.COMPENSATED
