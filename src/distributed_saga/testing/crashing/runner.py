"""Running ledger sagas, in this process or in a child process that a planned crash kills.

:func:`run_saga` runs one ledger saga to its end and :func:`run_recovery` recovers expired
ones. :func:`main` is the child process a crash test kills; :func:`child_command` builds
its command line::

    python -m distributed_saga.testing.crashing --log-url sqlite:////tmp/sagas.db \\
        --ledger /tmp/ledger.db --saga-id s1 --steps 3 --fail-at 2 --seed

It runs one saga (optionally failing step ``K`` before or after it wrote) and prints one
JSON line; with ``DISTRIBUTED_SAGA_CRASH_AT=point:step`` in its environment the engine
kills it at that point. With ``--threads N`` it runs ``N`` such sagas at once, on one
opened log (``<saga-id>-0`` ... ``<saga-id>-<N-1>``), so that their writes are committed
in shared batches: the first saga to reach the crash point kills the process with the
others' writes wherever they are, queued, in a batch, or committed. With ``--recover`` it
runs recovery passes instead (until one claims nothing), and the same variable kills it at
a compensation point.

A planned crash must be seen to happen. A crash point that never fires lets the child
finish on its own, rolling back in-process, and the log can end just as recovery would
have left it: the test would pass without having tested a crash. So
:func:`run_killed_child` (or :func:`check_killed`, after :func:`run_child`) insists that
the child died by ``SIGKILL``, and :func:`wait_until_stopped` that a ``:stop`` froze it;
otherwise they raise :class:`CrashNotReachedError` with how the child ended and the tail
of its stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from distributed_saga._errors import UnknownCompensationError
from distributed_saga._lease import process_owner
from distributed_saga._records import SagaState
from distributed_saga.faults import CRASH_AT_ENV, FaultPlan, kill_this_process
from distributed_saga.log import SagaLog, open_saga_log
from distributed_saga.recovery import RecoveryOutcome, recover_sagas
from distributed_saga.retry import RetryPolicy
from distributed_saga.saga import DistributedSaga
from distributed_saga.testing.crashing.checks import log_intent_check
from distributed_saga.testing.crashing.ledger import (
    REGISTRY,
    EffectLedger,
    FailMode,
    StepFailedError,
    ledger_step,
    planned_steps,
    proves_no_effect,
    seed_previous_generation,
)

__all__ = [
    "CrashNotReachedError",
    "check_killed",
    "child_command",
    "child_env",
    "fast_compensation_retry",
    "main",
    "open_log",
    "run_child",
    "run_killed_child",
    "run_recovery",
    "run_saga",
    "start_child",
    "wait_until_stopped",
]

_MODULE = "distributed_saga.testing.crashing"


def _retry_unless_unknown(error: BaseException) -> bool:
    return not isinstance(error, UnknownCompensationError)


def fast_compensation_retry(attempts: int = 3) -> RetryPolicy:
    """Compensation retries with millisecond waits, so a broken one fails the saga quickly."""
    return RetryPolicy(
        attempts=attempts, base_delay=0.005, max_delay=0.02, retry_on=_retry_unless_unknown
    )


# -- running sagas in this process ------------------------------------------------------


def run_saga(
    log: SagaLog,
    ledger: EffectLedger,
    *,
    saga_id: str,
    steps: int,
    fail_at: int | None = None,
    fail_mode: FailMode = "after",
    lease_seconds: float = 1.0,
    faults: FaultPlan | None = None,
    owner: str | None = None,
    compensation_retry: RetryPolicy | None = None,
    concurrent: bool = False,
    abort: bool = False,
    lock_key: str | None = None,
) -> SagaState:
    """Run one ledger saga of ``steps`` steps to its end and return how it ended.

    Step ``fail_at`` (if any) fails as ``fail_mode`` says (see :data:`FailMode`), which
    rolls the saga back. ``faults`` defaults to ``DISTRIBUTED_SAGA_CRASH_AT``. A fault that raises
    a ``BaseException`` (a simulated crash) propagates out of this function. With
    ``concurrent`` the steps use the compensation registered as concurrent, so the engine
    undoes them in parallel. With ``abort``, a saga whose steps all succeeded is aborted
    (rolled back) instead of committed. ``lock_key`` is held by the saga until it ends.
    Each step's action checks, as it runs, that ``log`` already holds its intent
    (:func:`~distributed_saga.testing.crashing.checks.log_intent_check`); the ledger keeps
    the answers for :func:`~distributed_saga.testing.crashing.checks.saga_problems`.
    """
    owner = owner or process_owner()
    check_intent = log_intent_check(log, saga_id, owner)
    saga = DistributedSaga(
        saga_id,
        user_id="crash-test",
        log=log,
        lock_key=lock_key,
        registry=REGISTRY,
        lease_seconds=lease_seconds,
        owner=owner,
        faults=faults,
        compensation_retry=compensation_retry or fast_compensation_retry(),
    )
    for step in planned_steps(saga_id, steps):
        fail = fail_mode if step.index == fail_at else None
        action, rollback = ledger_step(
            ledger, saga_id, step, check_intent=check_intent, fail=fail, concurrent=concurrent
        )
        try:
            saga.execute_step(step.name, action, rollback, not_applied=proves_no_effect)
        except StepFailedError:
            return saga.state
    if abort:
        saga.abort("the crash test aborts this saga")
    else:
        saga.commit()
    return saga.state


def run_recovery(
    log: SagaLog,
    *,
    owner: str | None = None,
    lease_seconds: float = 30.0,
    limit: int = 100,
    until_empty: bool = True,
    compensation_retry: RetryPolicy | None = None,
    faults: FaultPlan | None = None,
) -> list[RecoveryOutcome]:
    """Recover expired sagas with the ledger's registry; with ``until_empty``, pass after
    pass until one claims nothing."""
    outcomes: list[RecoveryOutcome] = []
    while True:
        batch = recover_sagas(
            log,
            registry=REGISTRY,
            owner=owner,
            lease_seconds=lease_seconds,
            limit=limit,
            compensation_retry=compensation_retry or fast_compensation_retry(),
            faults=faults,
        )
        outcomes.extend(batch)
        if not batch or not until_empty:
            return outcomes


def open_log(url: str, schema: str | None = None) -> SagaLog:
    """Open a saga log URL, in PostgreSQL ``schema`` when one is given."""
    return open_saga_log(url, schema=schema) if schema else open_saga_log(url)


# -- starting a child, and proving that its planned crash happened ----------------------


def child_command(
    log_url: str,
    ledger: str | os.PathLike[str],
    *,
    schema: str | None = None,
    saga_id: str | None = None,
    steps: int = 3,
    fail_at: int | None = None,
    fail_mode: FailMode = "after",
    seed: bool = False,
    concurrent: bool = False,
    abort: bool = False,
    lock_key: str | None = None,
    lease_seconds: float = 1.0,
    recover: bool = False,
    limit: int = 100,
    barrier: tuple[str | os.PathLike[str], int] | None = None,
    threads: int = 1,
) -> list[str]:
    """The command line that runs :func:`main` in a child process with these options."""
    argv = [sys.executable, "-m", _MODULE, "--log-url", log_url, "--ledger", str(ledger)]
    argv += ["--steps", str(steps), "--fail-mode", fail_mode, "--lease-seconds", str(lease_seconds)]
    argv += ["--limit", str(limit)]
    if schema is not None:
        argv += ["--schema", schema]
    if saga_id is not None:
        argv += ["--saga-id", saga_id]
    if fail_at is not None:
        argv += ["--fail-at", str(fail_at)]
    if seed:
        argv.append("--seed")
    if concurrent:
        argv.append("--concurrent")
    if abort:
        argv.append("--abort")
    if lock_key is not None:
        argv += ["--lock-key", lock_key]
    if recover:
        argv.append("--recover")
    if barrier is not None:
        argv += ["--barrier", str(barrier[0]), "--parties", str(barrier[1])]
    if threads != 1:
        argv += ["--threads", str(threads)]
    return argv


def child_env(crash_at: str | None = None) -> dict[str, str]:
    """This process's environment with ``DISTRIBUTED_SAGA_CRASH_AT`` set to ``crash_at``
    (``point`` or ``point:step``), or removed."""
    env = {name: value for name, value in os.environ.items() if name != CRASH_AT_ENV}
    if crash_at:
        env[CRASH_AT_ENV] = crash_at
    return env


_CHILD_TIMEOUT = 60.0
_TAIL_LINES = 20


class CrashNotReachedError(AssertionError):
    """A child that a planned crash was to kill (or freeze) ended some other way.

    Its crash point never fired, so whatever the test checks next proves nothing about a
    crash. The message says how the child ended and what it printed (its stderr's tail).
    """


def start_child(command: Sequence[str], *, crash_at: str | None = None) -> subprocess.Popen[str]:
    """Start ``command`` (see :func:`child_command`) with the crash ``crash_at`` planned
    (``None``: none), its output piped as text."""
    return subprocess.Popen(
        list(command),
        env=child_env(crash_at),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_child(
    command: Sequence[str], *, crash_at: str | None = None, timeout: float = _CHILD_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` to its end with the crash ``crash_at`` planned (``None``: none),
    capturing its output. How it ended is for the caller to check: a child the crash must
    kill is run by :func:`run_killed_child`, or checked with :func:`check_killed`."""
    return subprocess.run(
        list(command),
        env=child_env(crash_at),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_killed_child(
    command: Sequence[str], *, crash_at: str, timeout: float = _CHILD_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` with the crash ``crash_at`` planned, and prove that it killed it.

    Raises :class:`CrashNotReachedError` unless the child died by ``SIGKILL``, and
    ``ValueError`` (before starting anything) if ``crash_at`` plans no kill.
    """
    plan = FaultPlan.from_env({CRASH_AT_ENV: crash_at})
    if plan.point is None or plan.action is not kill_this_process:
        raise ValueError(f"{CRASH_AT_ENV}={crash_at!r} plans no SIGKILL")
    done = run_child(command, crash_at=crash_at, timeout=timeout)
    check_killed(done, crash_at=crash_at)
    return done


def check_killed(done: subprocess.CompletedProcess[str], *, crash_at: str | None = None) -> None:
    """Raise :class:`CrashNotReachedError` unless the child ``done`` died by ``SIGKILL``
    before it printed its report (a child that prints one has finished its work)."""
    killed = done.returncode == -signal.SIGKILL
    if killed and not done.stdout:
        return
    ending = "printed its report before it was killed" if killed else _ending(done.returncode)
    raise CrashNotReachedError(
        f"the child was to be killed (SIGKILL){_at(crash_at)}, but it {ending}"
        f"{_output(done.stdout, done.stderr)}"
    )


def wait_until_stopped(child: subprocess.Popen[str], *, crash_at: str | None = None) -> None:
    """Wait until a :func:`start_child` child is frozen by its planned ``:stop``; raise
    :class:`CrashNotReachedError` with what it printed if it ended instead."""
    _, status = os.waitpid(child.pid, os.WUNTRACED)
    if os.WIFSTOPPED(status):
        return
    # This wait reaped the child: record its status, which Popen can no longer learn.
    child.returncode = os.waitstatus_to_exitcode(status)
    out, err = child.communicate()
    raise CrashNotReachedError(
        f"the child was to be stopped (SIGSTOP){_at(crash_at)}, but it"
        f" {_ending(child.returncode)}{_output(out, err)}"
    )


def _at(crash_at: str | None) -> str:
    return f" at {crash_at}" if crash_at else ""


def _ending(returncode: int) -> str:
    if returncode < 0:
        return f"died by {signal.Signals(-returncode).name}"
    return f"exited with status {returncode}"


def _output(stdout: str | None, stderr: str | None) -> str:
    """What a child printed: its stdout, and the last lines of its stderr."""
    out = (stdout or "").strip() or "(nothing)"
    tail = "\n".join((stderr or "").splitlines()[-_TAIL_LINES:]) or "(nothing)"
    return f"\n--- stdout ---\n{out}\n--- stderr (last {_TAIL_LINES} lines) ---\n{tail}"


# -- the child process ------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m distributed_saga.testing.crashing",
        description="Run one ledger saga (or recovery passes) for a crash test.",
    )
    parser.add_argument("--log-url", required=True, help="saga log URL")
    parser.add_argument("--schema", help="PostgreSQL schema of the saga log")
    parser.add_argument("--ledger", required=True, help="path of the effect ledger file")
    parser.add_argument("--saga-id", help="the saga to run")
    parser.add_argument("--steps", type=int, default=3, help="number of steps (default 3)")
    parser.add_argument("--fail-at", type=int, help="index of the step whose action fails")
    parser.add_argument(
        "--fail-mode",
        choices=("before", "after", "refused"),
        default="after",
        help="fail before or after the step wrote, or be refused (default: after)",
    )
    parser.add_argument("--seed", action="store_true", help="write the previous generation first")
    parser.add_argument("--concurrent", action="store_true", help="use the concurrent compensation")
    parser.add_argument("--abort", action="store_true", help="abort instead of committing")
    parser.add_argument("--lock-key", help="the lock key the saga holds")
    parser.add_argument("--lease-seconds", type=float, default=1.0, help="lease (default 1 s)")
    parser.add_argument(
        "--recover", action="store_true", help="run recovery passes instead of a saga"
    )
    parser.add_argument("--limit", type=int, default=100, help="sagas claimed per pass")
    parser.add_argument(
        "--barrier", help="a directory where PARTIES processes meet before they start"
    )
    parser.add_argument("--parties", type=int, default=1, help="processes at the barrier")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="run this many sagas at once on the one log: <saga-id>-0, <saga-id>-1, ...",
    )
    return parser


def _meet(directory: str, parties: int, timeout: float = 120.0) -> None:
    """Wait until ``parties`` processes (this one included) are ready in ``directory``,
    however long each took to import and connect, so that they really start together."""
    folder = Path(directory)
    (folder / f"ready-{os.getpid()}").touch()
    deadline = time.monotonic() + timeout
    while len(list(folder.glob("ready-*"))) < parties:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only some of {parties} processes reached the barrier")
        time.sleep(0.005)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the child process; print one JSON line with the outcome."""
    args = _parser().parse_args(argv)
    log = open_log(args.log_url, args.schema)
    ledger = EffectLedger(args.ledger)
    if args.barrier is not None:
        _meet(args.barrier, args.parties)
    report: dict[str, Any] = {"pid": os.getpid()}
    if args.recover:
        # Recovery takes no fault plan from the environment on its own; a crash test of
        # the recoverer passes DISTRIBUTED_SAGA_CRASH_AT through here.
        outcomes = run_recovery(
            log, lease_seconds=args.lease_seconds, limit=args.limit, faults=FaultPlan.from_env()
        )
        report["recovered"] = [
            {
                "saga_id": o.saga_id,
                "state": o.state.value,
                "undone": o.undone,
                "remaining": o.remaining,
            }
            for o in outcomes
        ]
    else:
        if not args.saga_id:
            _parser().error("--saga-id is required to run a saga")
        if args.threads < 1:
            _parser().error("--threads must be at least 1")
        if args.threads == 1:
            state = _one_saga(log, ledger, args, args.saga_id)
            report.update(saga_id=args.saga_id, state=state.value)
        else:
            report["states"] = _many_sagas(log, ledger, args)
            group = getattr(log, "group_commit", None)
            if group is not None:
                report.update(writes=group.writes, batches=group.batches)
    print(json.dumps(report), flush=True)
    ledger.close()
    log.close()
    return 0


def _one_saga(
    log: SagaLog, ledger: EffectLedger, args: argparse.Namespace, saga_id: str
) -> SagaState:
    if args.seed:
        seed_previous_generation(ledger, saga_id, args.steps)
    return run_saga(
        log,
        ledger,
        saga_id=saga_id,
        steps=args.steps,
        fail_at=args.fail_at,
        fail_mode=args.fail_mode,
        lease_seconds=args.lease_seconds,
        concurrent=args.concurrent,
        abort=args.abort,
        lock_key=args.lock_key,
    )


def _many_sagas(log: SagaLog, ledger: EffectLedger, args: argparse.Namespace) -> dict[str, str]:
    """Run ``--threads`` sagas at once, each in a thread, started together; their states."""
    saga_ids = [f"{args.saga_id}-{k}" for k in range(args.threads)]
    start = threading.Barrier(len(saga_ids))
    states: dict[str, str] = {}

    def one(saga_id: str) -> None:
        start.wait()
        try:
            states[saga_id] = _one_saga(log, ledger, args, saga_id).value
        except Exception as exc:  # noqa: BLE001 - reported in the JSON line
            states[saga_id] = f"raised {type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=one, args=(saga_id,)) for saga_id in saga_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {saga_id: states[saga_id] for saga_id in saga_ids}
