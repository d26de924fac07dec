"""The chaos runner from the command line, and the invariant checks it relies on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from distributed_saga import SagaRecord, SagaState, StepRecord, StepState
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
    problems = check_unchanged(before, after)
    assert len(problems) == 2
    assert "a.md" in problems[0]
    assert "b.md" in problems[0]
    assert "refs/heads/main" in problems[1]


def test_settled_check_reports_stuck_and_unexplained_failed_sagas() -> None:
    """A saga left executing, or failed with nothing listed to undo, is a violation."""
    step = StepRecord(
        saga_id="s", index=0, name="a", state=StepState.COMPENSATION_FAILED, compensation="x"
    )
    assert check_settled(SagaRecord(saga_id="s", user_id=None, state=SagaState.EXECUTING))
    assert check_settled(SagaRecord(saga_id="s", user_id=None, state=SagaState.FAILED))
    assert (
        check_settled(SagaRecord(saga_id="s", user_id=None, state=SagaState.FAILED, steps=(step,)))
        == []
    )
