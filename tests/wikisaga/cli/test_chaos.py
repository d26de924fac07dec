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


def _chaos(tmp_path: Path, *options: str, runs: int = 4) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "wikisaga",
            "chaos",
            "--runs",
            str(runs),
            "--seed",
            "3",
            "--dir",
            str(tmp_path / "chaos"),
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _ran_clean(done: subprocess.CompletedProcess[str], runs: int) -> list[str]:
    """The scenario lines of a run that reported no violation."""
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    ran = [line for line in lines if line.startswith("ok  ")]
    assert len(ran) == runs
    assert lines[-1].startswith(f"{runs} runs:")
    assert lines[-1].endswith("0 invariant violations")
    return ran


def test_chaos_command_runs_random_faults_over_the_pipeline_and_finds_no_violation(
    tmp_path: Path,
) -> None:
    """``wikisaga chaos --runs N --seed S`` runs N scenarios of the whole pipeline (the
    graph in SQLite by default) and reports none violated."""
    ran = _ran_clean(_chaos(tmp_path), 4)
    assert all(line.split()[1].endswith("+sqlite") for line in ran)
    assert (tmp_path / "chaos" / "graph.db").is_file()


def test_chaos_command_runs_the_publish_saga_alone_with_graph_none(tmp_path: Path) -> None:
    """``--graph none`` keeps the publish saga's scenarios: files and snapshot, no graph."""
    ran = _ran_clean(_chaos(tmp_path, "--graph", "none", runs=3), 3)
    assert not any("+" in line.split()[1] for line in ran)
    assert not (tmp_path / "chaos" / "graph.db").exists()


def test_chaos_command_runs_the_pipeline_on_neo4j(tmp_path: Path, neo4j_url: str) -> None:
    """``--graph neo4j --neo4j-url URL`` runs the pipeline's scenarios on that Neo4j."""
    ran = _ran_clean(_chaos(tmp_path, "--graph", "neo4j", "--neo4j-url", neo4j_url, runs=2), 2)
    assert all(line.split()[1].endswith("+neo4j") for line in ran)


def test_chaos_command_refuses_a_neo4j_url_without_the_neo4j_graph(tmp_path: Path) -> None:
    """A Neo4j URL for a run that uses no Neo4j is a usage error, and nothing runs."""
    done = _chaos(tmp_path, "--neo4j-url", "bolt://127.0.0.1:1", runs=1)
    assert done.returncode == 2
    assert "--neo4j-url goes with --graph neo4j" in done.stderr
    assert not (tmp_path / "chaos").exists()


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
