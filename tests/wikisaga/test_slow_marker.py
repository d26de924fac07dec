"""The ``slow`` marker: slow tests run only when pytest is given ``--run-slow``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SAMPLE = """
import pytest

@pytest.mark.slow
def test_long_soak():
    pass

def test_quick():
    pass
"""


def _pytest(directory: Path, *args: str, ci: bool) -> subprocess.CompletedProcess[str]:
    """Run pytest on a scratch suite holding the repository's conftest and pytest config."""
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    if ci:
        env["CI"] = "1"
    # Only the plugin the config needs (its timeout setting): the others take seconds to load.
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    plugins = ["-p", "no:cacheprovider", "-p", "pytest_timeout"]
    return subprocess.run(
        [sys.executable, "-m", "pytest", *plugins, "-rs", "-v", *args],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "tests").mkdir()
    for name in ("conftest.py", "ci_support.py"):  # the conftest and what it imports
        shutil.copy(ROOT / "tests" / name, tmp_path / "tests" / name)
    (tmp_path / "tests" / "test_sample.py").write_text(SAMPLE)
    return tmp_path


@pytest.mark.parametrize("ci", [False, True], ids=["locally", "in CI"])
def test_slow_tests_are_skipped_unless_asked_for(suite: Path, ci: bool) -> None:
    """Without --run-slow a slow test is skipped with the reason, locally and in CI."""
    done = _pytest(suite, ci=ci)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test_sample.py::test_long_soak SKIPPED" in done.stdout
    assert "SKIPPED [1] tests/test_sample.py:4: a slow test: run it with --run-slow" in done.stdout
    assert "test_sample.py::test_quick PASSED" in done.stdout
    assert "1 passed, 1 skipped" in done.stdout


@pytest.mark.parametrize("ci", [False, True], ids=["locally", "in CI"])
def test_run_slow_runs_them(suite: Path, ci: bool) -> None:
    """With --run-slow the slow test runs too."""
    done = _pytest(suite, "--run-slow", ci=ci)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test_sample.py::test_long_soak PASSED" in done.stdout
    assert "2 passed" in done.stdout
