"""Fault scenarios against real services, and the invariants checked after each.

A :class:`Scenario` names one fault, the publish step it hits, and whether the generation
is the project's first or a regeneration over an existing wiki. :func:`run_scenario` sets
the fault up (through the fault proxies, or by killing the process running the saga at a
named point), runs a generation, clears the fault, lets recovery and an operator retry do
their work, and checks DESIGN §9 on the real stores. ``wikisaga chaos`` runs random
scenarios (``wikisaga.cli.chaos`` is its command line); ``tests/wikisaga/testing/
test_fault_matrix.py`` runs all of them.

Faults (``FAULTS``):

==================  =====================================================================
``none``            no fault: the generation must commit
``down``            the step's service stops answering (connections refused) just as the
                    step starts, and stays down until the fault is cleared
``down_briefly``    the same, but the service comes back after 0.4 s
``error_before``    the step's request gets 500 without reaching the service (every try)
``error_after``     the step's request is applied, then answered 500 (every try)
``late``            applied, then answered after the client's timeout (every try)
``late_once``       the same, once: the retry must find the applied request and commit
``drop_after``      applied, then the connection is closed without an answer
``undo_fails``      the snapshot fails (500), and the rollback's requests fail twice
``undo_fails_hard`` the snapshot fails, and every rollback request fails until cleared:
                    the saga is ``failed`` and an operator's retry must finish it
``file_fails``      (files step only) writing the 3rd file of the batch fails inside the
                    filesystem service (an I/O error): the batch must change nothing
``service_dies``    (files step only) the filesystem service is SIGKILLed once the 3rd
                    file of the batch is on disk; it is restarted when the fault clears
``crash:<point>``   the process running the saga is killed with SIGKILL at that fault
                    point of the step (a point of compensation: while undoing the step,
                    after the snapshot failed); recovery in another process finishes it.
                    ``crash:before_commit`` belongs to no step: it is one scenario, at
                    the commit after the last step (labelled without a step). A child
                    that was not killed by SIGKILL is a violation: the crash never
                    happened, so the scenario tested an ordinary rollback instead
==================  =====================================================================
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from distributed_saga import (
    IN_FLIGHT_STATES,
    CompensationRegistry,
    FaultPlan,
    FaultPoint,
    RetryPolicy,
    SagaLog,
    SagaNotFoundError,
    SagaRecord,
    SagaState,
    StepState,
    open_saga_log,
    recover_sagas,
    retry_saga,
)
from distributed_saga.faults import CRASH_AT_ENV
from wikisaga.auth import get_internal_headers
from wikisaga.clients import is_transient
from wikisaga.config import Settings
from wikisaga.ids import snapshot_id_for
from wikisaga.pipeline.compensations import publish_compensations
from wikisaga.pipeline.publish import WikiGenerationSaga
from wikisaga.testing.invariants import (
    check_committed,
    check_replays,
    check_settled,
    check_unchanged,
    read_state,
)
from wikisaga.testing.proxy import FaultKind, FaultProxy, FaultRule
from wikisaga.testing.stack import ServiceStack

__all__ = [
    "FAULTS",
    "STEPS",
    "Scenario",
    "ScenarioResult",
    "all_scenarios",
    "check_killed",
    "run_chaos",
    "run_scenario",
]

STEPS = ("files", "snapshot")
STEP_INDEX = {"files": 0, "snapshot": 1}
PROXY_FAULTS = (
    "none",
    "down",
    "down_briefly",
    "error_before",
    "error_after",
    "late",
    "late_once",
    "drop_after",
    "undo_fails",
    "undo_fails_hard",
    "file_fails",
    "service_dies",
)
FILES_ONLY = frozenset({"file_fails", "service_dies"})
"""Faults inside a batch of files: they exist only at the files step."""
CRASH_FAULTS = tuple(f"crash:{point.value}" for point in FaultPoint)
FAULTS = PROXY_FAULTS + CRASH_FAULTS
AT_COMMIT = frozenset({f"crash:{FaultPoint.BEFORE_COMMIT.value}"})
"""Faults at the commit, which belongs to no step: scenarios put them after the last one."""

USER = "chaos-user"
CLIENT_TIMEOUT = 1.0
LEASE_SECONDS = 1.0
FAST_STEP_RETRY = RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.2, retry_on=is_transient)
FAST_UNDO_RETRY = RetryPolicy(attempts=4, base_delay=0.05, max_delay=0.2, retry_on=lambda e: True)


@dataclass(frozen=True, slots=True)
class Scenario:
    """One fault at one step of one kind of generation."""

    fault: str
    step: str
    regenerate: bool

    def __post_init__(self) -> None:
        if self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}; one of {', '.join(FAULTS)}")
        if self.step not in STEPS:
            raise ValueError(f"unknown step {self.step!r}; one of {', '.join(STEPS)}")
        if self.fault in FILES_ONLY and self.step != "files":
            raise ValueError(f"fault {self.fault!r} happens only at the files step")
        if self.fault in AT_COMMIT and self.step != STEPS[-1]:
            raise ValueError(
                f"fault {self.fault!r} belongs to no step; it comes after the last step, "
                f"{STEPS[-1]!r}"
            )

    @property
    def label(self) -> str:
        kind = "regenerate" if self.regenerate else "first"
        if self.fault in AT_COMMIT:
            return f"{self.fault}/{kind}"
        return f"{self.fault}@{self.step}/{kind}"


@dataclass
class ScenarioResult:
    """What happened, and every invariant that did not hold."""

    scenario: Scenario
    project_id: str
    saga_id: str
    outcome: str
    """The saga's state right after the generation (and recovery, for a crash)."""
    final: str
    """The state after faults were cleared and an operator retried, if it was needed."""
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _steps_of(fault: str) -> tuple[str, ...]:
    """The steps ``fault`` can hit."""
    if fault in FILES_ONLY:
        return ("files",)
    if fault in AT_COMMIT:
        return (STEPS[-1],)
    return STEPS


def all_scenarios() -> list[Scenario]:
    """Every fault × every step it can hit × {first generation, regeneration}; a fault at
    the commit, which belongs to no step, once per kind of generation."""
    return [
        Scenario(fault, step, regenerate)
        for fault in FAULTS
        for step in _steps_of(fault)
        for regenerate in (False, True)
    ]


def generation(seed: int, number: int) -> dict[str, str]:
    """Pages of generation ``number``: later ones rewrite some, add some, drop some."""
    rng = random.Random(seed * 1000 + number)  # noqa: S311 - test data, not secrets
    names = [f"wiki/page-{i:02d}.md" for i in range(number * 3, number * 3 + 8)]
    files = {name: f"# {name}\n\ngeneration {number}\n\n{rng.random()}\n" for name in names}
    files["wiki/index.md"] = "# Index\n\n" + "".join(f"- {name}\n" for name in names)
    return files


# -- running one scenario ---------------------------------------------------------------


def _wiki_saga(
    stack_urls: dict[str, str],
    token: str,
    project_id: str,
    saga_id: str,
    log_url: str,
    faults: FaultPlan | None = None,
) -> WikiGenerationSaga:
    return WikiGenerationSaga(
        project_id=project_id,
        user_id=USER,
        filesystem_url=stack_urls["filesystem"],
        git_url=stack_urls["git"],
        internal_headers=get_internal_headers(settings=Settings(internal_token=SecretStr(token))),
        saga_id=saga_id,
        saga_log=log_url,
        filesystem_timeout=CLIENT_TIMEOUT,
        git_timeout=CLIENT_TIMEOUT,
        step_retry=FAST_STEP_RETRY,
        compensation_retry=FAST_UNDO_RETRY,
        lease_seconds=LEASE_SECONDS,
        faults=faults,
        message=f"generation {saga_id}",
    )


def _proxy_for(stack: ServiceStack, step: str) -> FaultProxy:
    return stack.filesystem_proxy if step == "files" else stack.git_proxy


_REQUEST = {"files": ("POST", r"/batch"), "snapshot": ("POST", r"/snapshot/[^/]+")}
_UNDO = (("POST", r"/restore"), ("DELETE", r"/snapshot/[^/]+/[^/]+"))


def _install(stack: ServiceStack, scenario: Scenario) -> FaultPlan | None:
    """Set up a proxy fault; return a fault plan for faults timed by the saga itself."""
    fault, step = scenario.fault, scenario.step
    proxy = _proxy_for(stack, step)
    method, path = _REQUEST[step]
    late = CLIENT_TIMEOUT + 0.5
    rules = {
        "error_before": FaultRule(method, path, FaultKind.ERROR_BEFORE),
        "error_after": FaultRule(method, path, FaultKind.ERROR_AFTER),
        "late": FaultRule(method, path, FaultKind.LATE_AFTER, delay=late),
        "late_once": FaultRule(method, path, FaultKind.LATE_AFTER, delay=late, times=1),
        "drop_after": FaultRule(method, path, FaultKind.DROP_AFTER),
    }
    if fault in rules:
        proxy.add_rule(rules[fault])
    elif fault in ("undo_fails", "undo_fails_hard"):
        stack.git_proxy.add_rule(FaultRule(*_REQUEST["snapshot"], FaultKind.ERROR_BEFORE))
        times = 2 if fault == "undo_fails" else None
        for target in (stack.filesystem_proxy, stack.git_proxy):
            for undo_method, undo_path in _UNDO:
                target.add_rule(
                    FaultRule(undo_method, undo_path, FaultKind.ERROR_BEFORE, times=times)
                )
    elif fault == "file_fails":
        stack.set_filesystem_fault("fail_at_file:3")
    elif fault == "service_dies":
        stack.set_filesystem_fault("kill_at_file:3")
    elif fault in ("down", "down_briefly"):

        def take_down() -> None:
            proxy.set_down(True)
            if fault == "down_briefly":
                stack.later(0.4, lambda: proxy.set_down(False))

        return FaultPlan(FaultPoint.AFTER_INTENT, step=STEP_INDEX[step], action=take_down)
    return None


def _crash_env(scenario: Scenario) -> str:
    point = FaultPoint(scenario.fault.split(":", 1)[1])
    if point is FaultPoint.BEFORE_COMMIT:
        return point.value  # the commit belongs to no step
    return f"{point.value}:{STEP_INDEX[scenario.step]}"


def _needs_failure(scenario: Scenario) -> bool:
    """Compensation crash points need a failure to start compensating."""
    return scenario.fault in ("crash:before_compensation", "crash:after_compensation")


def run_scenario(
    stack: ServiceStack,
    scenario: Scenario,
    *,
    log_url: str,
    project_id: str,
    seed: int = 0,
) -> ScenarioResult:
    """Run one scenario end to end and check every invariant."""
    clock = time.monotonic()
    stack.clear_faults()
    urls = {"filesystem": stack.filesystem_proxy.url, "git": stack.git_proxy.url}
    filesystem, git = stack.direct_filesystem(), stack.direct_git()
    repository = stack.repository(project_id)
    violations: list[str] = []
    try:
        if scenario.regenerate:
            first = _wiki_saga(urls, stack.token, project_id, f"{project_id}-g1", log_url)
            done = first.execute_with_consistency(generation(seed, 1))
            if done["status"] != "success":
                violations.append(f"setup generation failed: {done['error']}")
        before = read_state(filesystem, repository, project_id, USER)
        generated = generation(seed, 2)
        saga_id = f"{project_id}-g2"
        snapshot_id = snapshot_id_for(saga_id)

        if scenario.fault.startswith("crash:"):
            if _needs_failure(scenario):
                stack.git_proxy.add_rule(FaultRule(*_REQUEST["snapshot"], FaultKind.ERROR_BEFORE))
            crash_at = _crash_env(scenario)
            child = _run_child(stack, urls, project_id, saga_id, log_url, generated, crash_at)
            violations += check_killed(child, crash_at)
        else:
            plan = _install(stack, scenario)
            _wiki_saga(
                urls, stack.token, project_id, saga_id, log_url, plan
            ).execute_with_consistency(generated)

        outcome, final, started, found = _settle_and_retry(stack, log_url, saga_id)
        violations += found
        after = read_state(filesystem, repository, project_id, USER)
        if final is SagaState.COMMITTED:
            violations += check_committed(after, repository, generated, snapshot_id)
        elif final in (SagaState.ROLLED_BACK, SagaState.PENDING):
            # PENDING: the saga never reached the log (killed before its first intent,
            # which creates it), so nothing may have changed either.
            violations += check_unchanged(before, after)
        else:
            violations.append(f"saga ended {final.value} after the operator's retry")
        if scenario.fault == "none" and final is not SagaState.COMMITTED:
            violations.append("a generation without faults did not commit")
        dropped = sorted(set(before.files) - set(generated))
        violations += check_replays(
            filesystem=filesystem,
            git=git,
            repository=repository,
            project_id=project_id,
            user_id=USER,
            saga_id=saga_id,
            snapshot_id=snapshot_id,
            message=f"generation {saga_id}",
            generated=generated,
            dropped=dropped,
            started=started,
        )
    finally:
        filesystem.close()
        git.close()
        stack.clear_faults()
    return ScenarioResult(
        scenario=scenario,
        project_id=project_id,
        saga_id=saga_id,
        outcome=outcome.value,
        final=final.value,
        violations=violations,
        seconds=time.monotonic() - clock,
    )


def _settle_and_retry(
    stack: ServiceStack, log_url: str, saga_id: str
) -> tuple[SagaState, SagaState, set[int], list[str]]:
    """Recover the saga if its owner died, clear the faults, and retry it if it failed.

    Returns the outcome before the retry, the final state, the started steps, violations.
    A saga the log never heard of (its process died before the first intent) is
    ``pending`` with no step started.
    """
    registry = publish_compensations(stack.headers)
    with open_saga_log(log_url) as log:
        try:
            record = _settle(log, saga_id, registry)
        except SagaNotFoundError:
            stack.clear_faults()
            return SagaState.PENDING, SagaState.PENDING, set(), []
        outcome = record.state
        violations = check_settled(record)
        stack.clear_faults()
        if record.state is SagaState.FAILED:
            retry_saga(log, saga_id, registry=registry, compensation_retry=FAST_UNDO_RETRY)
            record = log.get_saga(saga_id)
            violations += check_settled(record)
    # A rejected step provably sent nothing, so there is no request of it to replay.
    sent = {step.index for step in record.steps if step.state is not StepState.REJECTED}
    return outcome, record.state, sent, violations


def _settle(log: SagaLog, saga_id: str, registry: CompensationRegistry) -> SagaRecord:
    """Wait out a dead owner's lease and run recovery until the saga is settled."""
    deadline = time.monotonic() + 30
    record = log.get_saga(saga_id)
    while record.state in IN_FLIGHT_STATES:
        if time.monotonic() > deadline:
            break
        time.sleep(LEASE_SECONDS / 4)
        recover_sagas(
            log,
            registry=registry,
            lease_seconds=LEASE_SECONDS,
            compensation_retry=FAST_UNDO_RETRY,
        )
        record = log.get_saga(saga_id)
    return record


def _run_child(
    stack: ServiceStack,
    urls: dict[str, str],
    project_id: str,
    saga_id: str,
    log_url: str,
    generated: dict[str, str],
    crash_at: str,
) -> subprocess.CompletedProcess[str]:
    """Run the generation in a child process that ``crash_at`` kills (or freezes)."""
    spec = {
        "urls": urls,
        "project_id": project_id,
        "saga_id": saga_id,
        "log_url": log_url,
        "files": generated,
    }
    return subprocess.run(
        [sys.executable, "-m", "wikisaga.testing.chaos", "child"],
        input=json.dumps(spec),
        text=True,
        env={**os.environ, **stack.env, CRASH_AT_ENV: crash_at},
        capture_output=True,
        timeout=120,
        check=False,
    )


def check_killed(child: subprocess.CompletedProcess[str], crash_at: str) -> list[str]:
    """A planned crash happened: the child running the saga died of SIGKILL.

    Anything else (it exited, with any status, or died of another signal) means the crash
    point was never reached, and the end state came from an ordinary rollback or commit.
    """
    if child.returncode == -signal.SIGKILL:
        return []
    if child.returncode < 0:
        how = f"died of {signal.Signals(-child.returncode).name}"
    else:
        how = f"exited with status {child.returncode}"
    tail = child.stderr.strip()[-1500:] or "(nothing)"
    return [f"the child planned to crash at {crash_at} {how}, not of SIGKILL; stderr tail: {tail}"]


def _child_main() -> int:
    spec = json.loads(sys.stdin.read())
    token = os.environ["WIKISAGA_INTERNAL_TOKEN"]
    saga = _wiki_saga(spec["urls"], token, spec["project_id"], spec["saga_id"], spec["log_url"])
    result = saga.execute_with_consistency(spec["files"])
    return 0 if result["status"] == "success" else 1


# -- many random scenarios ----------------------------------------------------------------


def run_chaos(
    *,
    runs: int,
    seed: int,
    root: Path,
    log_url: str | None = None,
    report: Callable[[ScenarioResult], None] | None = None,
    faults: Sequence[str] = FAULTS,
) -> list[ScenarioResult]:
    """Run ``runs`` random scenarios (reproducible from ``seed``) on one service stack."""
    rng = random.Random(seed)  # noqa: S311 - reproducible schedules, not secrets
    url = log_url or f"sqlite:///{(root / 'sagas.db').resolve().as_posix()}"
    results = []
    with ServiceStack(root) as stack:
        for run in range(runs):
            fault = rng.choice(list(faults))
            step = "files" if fault in FILES_ONLY else rng.choice(STEPS)
            if fault in AT_COMMIT:
                step = STEPS[-1]
            scenario = Scenario(fault, step, rng.random() < 0.5)
            result = run_scenario(
                stack, scenario, log_url=url, project_id=f"chaos-{seed}-{run}", seed=seed + run
            )
            results.append(result)
            if report is not None:
                report(result)
    return results


def main(argv: list[str] | None = None) -> int:
    """``python -m wikisaga.testing.chaos child`` runs one generation from a JSON spec."""
    parser = argparse.ArgumentParser(prog="python -m wikisaga.testing.chaos")
    parser.add_argument("mode", choices=["child"])
    parser.parse_args(argv)
    return _child_main()


if __name__ == "__main__":
    raise SystemExit(main())
