"""What a crash test expects of a ledger saga: whether it meets a planned crash point, what
the saga log must already hold when a step's action runs, and what must hold of the saga
(in the saga log and the ledger) once it is over, however it crashed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from distributed_saga._errors import SagaError, SagaNotFoundError
from distributed_saga._records import SagaRecord, SagaState, StepState
from distributed_saga.compensations import Compensation
from distributed_saga.faults import FaultPoint
from distributed_saga.log import SagaLog
from distributed_saga.testing.crashing.ledger import (
    EffectLedger,
    FailMode,
    IntentCheck,
    planned_steps,
)

__all__ = ["fault_reached", "log_intent_check", "saga_problems"]


def fault_reached(
    point: FaultPoint,
    step: int | None,
    *,
    steps: int,
    fail_at: int | None,
    fail_mode: FailMode = "after",
    abort: bool = False,
) -> bool:
    """Whether a ledger saga of ``steps`` steps, step ``fail_at`` failing (or none), meets
    ``point`` at ``step`` (``None``: any step; ``before_commit`` has no step) before it ends.

    Going forward, every point of every step up to the failing one is met, except that a
    failing action never returns (no ``after_action``/``after_step`` for it). Going back,
    every step up to the failing one is compensated, itself included unless it was
    ``refused`` (recorded rejected); with ``abort`` and no failure, every step is.
    """
    if point is FaultPoint.BEFORE_COMMIT:
        return fail_at is None and not abort and step is None
    backward = point in (FaultPoint.BEFORE_COMPENSATION, FaultPoint.AFTER_COMPENSATION)
    if backward and fail_at is None and not abort:
        return False
    # A returning action meets after_action/after_step; a rejected step is not compensated.
    short = point in (FaultPoint.AFTER_ACTION, FaultPoint.AFTER_STEP) or (
        backward and fail_mode == "refused"
    )
    # The last step that meets the point: the failing one, or the one before it.
    last = steps - 1 if fail_at is None else fail_at - (1 if short else 0)
    return last >= 0 if step is None else 0 <= step <= last


def log_intent_check(log: SagaLog, saga_id: str, owner: str) -> IntentCheck:
    """The :data:`IntentCheck` of saga ``saga_id``, run by ``owner``, reading ``log``.

    When step ``index``'s action runs, the log must already hold the saga and the step, with
    the planned compensation's name and recorded arguments; and while ``owner`` still owns
    the saga, the step must be ``started`` (its outcome is written later). Once another
    process has taken the saga over, a late action may find its step already compensated.
    """

    def check(index: int, planned: Compensation) -> str | None:
        try:
            record = log.get_saga(saga_id)
        except SagaNotFoundError:
            return "the log holds no such saga yet"
        except SagaError as exc:
            return f"the log could not be read: {exc}"
        if index >= len(record.steps):
            return f"the log holds {len(record.steps)} step(s), not step {index}"
        step = record.steps[index]
        recorded = (step.compensation, step.compensation_args)
        if recorded != (planned.name, planned.recorded_args()):
            return f"the log holds compensation {recorded}, not the planned {planned}"
        if record.owner == owner and step.state is not StepState.STARTED:
            return f"the log holds the step {step.state.value}, not started"
        return None

    return check


def saga_problems(
    record: SagaRecord,
    ledger: EffectLedger,
    *,
    steps: int,
    initial: Mapping[str, str],
    allow: Sequence[SagaState] = (SagaState.COMMITTED, SagaState.ROLLED_BACK),
) -> list[str]:
    """Everything wrong with a finished ledger saga; empty when it is all or nothing.

    * it ended in one of ``allow``;
    * every step's action found its intent already in the log when it ran (see
      :func:`log_intent_check`), every step with an effect was checked so, no step has an
      effect without an intent in the log, and no effect happened or was undone twice;
    * a ``rejected`` step had no effect (the engine trusted it not to need undoing);
    * ``committed``: every step completed and every key holds the new value, nothing undone;
    * ``rolled_back``: every compensable step is ``compensated`` (or ``rejected``); each
      step's effect was undone exactly as often as it happened, so nothing that never
      happened was undone; the saga's keys are exactly ``initial`` again (new keys gone,
      old values back).
    """
    problems: list[str] = []
    if record.state not in allow:
        problems.append(f"saga is {record.state.value}, expected one of {[*allow]}")
    applied = ledger.effects(record.saga_id, "apply")
    undone = ledger.effects(record.saga_id, "undo")
    logged = {step.index for step in record.steps}
    problems.extend(
        f"step {index} had {count} effect(s) but no intent in the log"
        for index, count in sorted(applied.items())
        if index not in logged
    )
    checks = ledger.intent_checks(record.saga_id)
    problems.extend(
        f"step {index}'s action ran before the log held its intent: {problem}"
        for index, problem in checks
        if problem is not None
    )
    checked = {index for index, _ in checks}
    problems.extend(
        f"step {index} had an effect, but its action never checked the log for its intent"
        for index in sorted(applied)
        if index not in checked
    )
    problems.extend(
        f"step {index} {kind} {count} times"
        for kind, counts in (("applied", applied), ("undone", undone))
        for index, count in sorted(counts.items())
        if count > 1
    )
    problems.extend(
        f"step {step.index} is rejected but had {applied[step.index]} effect(s)"
        for step in record.steps
        if step.state is StepState.REJECTED and applied[step.index]
    )
    current = ledger.snapshot(f"{record.saga_id}/")
    if record.state is SagaState.COMMITTED:
        problems.extend(_commit_problems(record, steps, initial, current, undone))
    elif record.state is SagaState.ROLLED_BACK:
        problems.extend(_rollback_problems(record, initial, current, applied, undone))
    return problems


def _commit_problems(
    record: SagaRecord,
    steps: int,
    initial: Mapping[str, str],
    current: Mapping[str, str],
    undone: Counter[int],
) -> list[str]:
    problems: list[str] = []
    if len(record.steps) != steps or any(s.state is not StepState.COMPLETED for s in record.steps):
        problems.append(f"committed with steps {[s.state.value for s in record.steps]}")
    plan = planned_steps(record.saga_id, steps)
    expected = {**initial, **{step.key: step.value for step in plan}}
    if dict(current) != expected:
        problems.append(f"committed but the ledger is {dict(current)}, expected {expected}")
    if undone:
        problems.append(f"committed but undone: {dict(undone)}")
    return problems


def _rollback_problems(
    record: SagaRecord,
    initial: Mapping[str, str],
    current: Mapping[str, str],
    applied: Counter[int],
    undone: Counter[int],
) -> list[str]:
    problems = [
        f"rolled back but step {step.index} is {step.state.value}"
        for step in record.steps
        if step.has_compensation and step.state not in (StepState.COMPENSATED, StepState.REJECTED)
    ]
    problems.extend(
        f"step {index}: {applied[index]} effect(s), {undone[index]} undo effect(s)"
        for index in sorted(set(applied) | set(undone))
        if applied[index] != undone[index]
    )
    if dict(current) != dict(initial):
        problems.append(f"rolled back but the ledger is {dict(current)}, expected {dict(initial)}")
    return problems
