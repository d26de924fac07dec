"""Named points where a test can make the process running a saga die.

The engine calls :meth:`FaultPlan.at` at each :class:`FaultPoint`. The default plan does
nothing. A test (or the chaos runner) passes a plan, or sets the environment variable
``DISTRIBUTED_SAGA_CRASH_AT`` to ``point`` or ``point:step`` in a child process, to kill
that process with ``SIGKILL`` when it reaches the point: no ``finally`` block, no
``atexit`` handler, no flush. That is the crash the durable log has to survive.

``point:step:stop`` freezes the process with ``SIGSTOP`` instead (a long GC pause, a VM
that is suspended): its lease lapses while it is stopped, and a test that sends
``SIGCONT`` sees what the old owner does when it wakes up owning nothing.
"""

from __future__ import annotations

import enum
import os
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["CRASH_AT_ENV", "FaultPlan", "FaultPoint", "kill_this_process", "stop_this_process"]

CRASH_AT_ENV = "DISTRIBUTED_SAGA_CRASH_AT"


class FaultPoint(enum.StrEnum):
    """Where in a saga a fault can be injected, in the order a step meets them."""

    BEFORE_INTENT = "before_intent"
    """A step is about to be recorded; nothing of it is in the log."""
    AFTER_INTENT = "after_intent"
    """The step's intent is in the log; its action has not run."""
    AFTER_ACTION = "after_action"
    """The action returned; its result is not in the log."""
    AFTER_STEP = "after_step"
    """The step returned to its caller. Its outcome is written with the next log write
    (the next step's intent, or the commit), so the log still says ``started``."""
    BEFORE_COMPENSATION = "before_compensation"
    """A step is about to be compensated."""
    AFTER_COMPENSATION = "after_compensation"
    """The compensation ran; that it ran is not in the log."""
    BEFORE_COMMIT = "before_commit"
    """Every step completed; the commit is not in the log."""


def kill_this_process() -> None:
    """Die at once, as a power cut or the OOM killer would end us."""
    os.kill(os.getpid(), signal.SIGKILL)


def stop_this_process() -> None:
    """Freeze until someone sends SIGCONT, as a suspended VM or a long pause would."""
    os.kill(os.getpid(), signal.SIGSTOP)


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """Fire ``action`` when the saga reaches ``point`` (at step ``step``, or at any step)."""

    point: FaultPoint | None = None
    step: int | None = None
    action: Callable[[], None] = kill_this_process

    def at(self, point: FaultPoint, step: int | None) -> None:
        """Called by the engine at every fault point."""
        if self.point is None or point is not self.point:
            return
        # A point that belongs to no step (the commit) fires whatever step the plan names.
        if self.step is not None and step is not None and step != self.step:
            return
        self.action()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> FaultPlan:
        """The plan named by ``DISTRIBUTED_SAGA_CRASH_AT``: ``point``, ``point:step`` or
        ``point:step:stop``."""
        spec = (environ if environ is not None else os.environ).get(CRASH_AT_ENV, "").strip()
        if not spec:
            return NO_FAULTS
        name, _, rest = spec.partition(":")
        step, _, how = rest.partition(":")
        try:
            point = FaultPoint(name)
        except ValueError:
            choices = ", ".join(p.value for p in FaultPoint)
            raise ValueError(f"{CRASH_AT_ENV}={spec!r}: unknown point (one of {choices})") from None
        if step and not step.isdigit():
            raise ValueError(f"{CRASH_AT_ENV}={spec!r}: the step must be a number")
        if how not in ("", "kill", "stop"):
            raise ValueError(f"{CRASH_AT_ENV}={spec!r}: the last part is kill or stop")
        action = stop_this_process if how == "stop" else kill_this_process
        return cls(point=point, step=int(step) if step else None, action=action)


NO_FAULTS = FaultPlan()
