"""The chaos runner from the command line, and the invariant checks it relies on."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from distributed_saga import SagaRecord, SagaState, StepRecord, StepState
from wikisaga.testing.chaos import check_killed
from wikisaga.testing.invariants import WikiState, check_settled, check_unchanged


def test_chaos_command_runs_random_faults_and_finds_no_violation(tmp_path: Path) -> None:
    """``wikisaga chaos --runs N --seed S`` runs N scenarios and reports none violated."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "wikisaga",
            "chaos",
            "--runs",
            "4",
            "--seed",
            "3",
            "--dir",
            str(tmp_path / "chaos"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert sum(1 for line in lines if line.startswith("ok  ")) == 4
    assert lines[-1].startswith("4 runs:")
    assert lines[-1].endswith("0 invariant violations")


def test_chaos_command_refuses_an_unknown_fault(tmp_path: Path) -> None:
    """A fault name it does not know is a usage error (exit 2), and nothing runs."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "wikisaga",
            "chaos",
            "--runs",
            "1",
            "--fault",
            "meteor",
            "--dir",
            str(tmp_path / "chaos"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "unknown fault 'meteor'" in done.stderr
    assert not (tmp_path / "chaos").exists()


def test_unchanged_check_reports_changed_files_and_history() -> None:
    """A rolled-back generation that left a file or a ref changed is a violation."""
    before = WikiState(files={"a.md": "1"}, refs={"refs/heads/main": "c1"})
    assert check_unchanged(before, before) == []
    after = WikiState(files={"a.md": "2", "b.md": "x"}, refs={"refs/heads/main": "c2"})
    assert check_unchanged(before, after) == [
        "files changed by a rolled-back generation: ['a.md', 'b.md']",
        "git refs changed by a rolled-back generation: ['refs/heads/main']",
    ]


def test_settled_check_reports_stuck_and_unexplained_failed_sagas() -> None:
    """A saga left executing, or failed with nothing listed to undo, is a violation."""
    step = StepRecord(
        saga_id="s", index=0, name="a", state=StepState.COMPENSATION_FAILED, compensation="x"
    )
    assert check_settled(SagaRecord(saga_id="s", user_id=None, state=SagaState.EXECUTING)) == [
        "saga s left executing"
    ]
    assert check_settled(SagaRecord(saga_id="s", user_id=None, state=SagaState.FAILED)) == [
        "saga s is failed but lists nothing left to undo"
    ]
    assert (
        check_settled(SagaRecord(saga_id="s", user_id=None, state=SagaState.FAILED, steps=(step,)))
        == []
    )


def _child(code: str) -> subprocess.CompletedProcess[str]:
    """A real child process that writes a line to stderr, then runs ``code``."""
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; sys.stderr.write('rolled back in process\\n'); {code}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_planned_crash_that_killed_the_child_is_no_violation() -> None:
    """A child that died of SIGKILL crashed as planned."""
    child = _child("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    assert child.returncode == -signal.SIGKILL
    assert check_killed(child, "after_compensation:1") == []


@pytest.mark.parametrize(
    ("code", "how"),
    [
        ("raise SystemExit(0)", "exited with status 0"),
        ("raise SystemExit(1)", "exited with status 1"),
        ("import os, signal; os.kill(os.getpid(), signal.SIGTERM)", "died of SIGTERM"),
    ],
    ids=["committed", "rolled back", "another signal"],
)
def test_a_planned_crash_that_did_not_happen_is_a_violation_naming_it(code: str, how: str) -> None:
    """A child that exited, whatever its status, or died of another signal never reached
    its crash point: the violation names the point, what happened and the stderr tail."""
    assert check_killed(_child(code), "before_compensation:0") == [
        f"the child planned to crash at before_compensation:0 {how}, not of SIGKILL; "
        "stderr tail: rolled back in process"
    ]
