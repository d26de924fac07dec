"""Fixtures of the observability tests: promtool, and a registry serving saga metrics."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest
from observability_support import PromtoolRun, SampleReader
from prometheus_client import CollectorRegistry

from ci_support import unavailable
from wikisaga.observability import SagaMetrics


@pytest.fixture(scope="session")
def promtool() -> PromtoolRun:
    """Run ``promtool ARGS...``; skips when promtool is missing, but fails under CI (where
    scripts/test installs it), so the rule and metrics checks cannot quietly not run."""
    found = shutil.which("promtool")
    if found is None:
        unavailable(
            "promtool is not installed (Debian package prometheus; scripts/test installs it)",
            "the promtool checks",
        )
    path: str = found

    def run(
        *args: str, stdin: str | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [path, *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=cwd,
            check=False,
        )

    return run


@pytest.fixture
def saga_metrics() -> SagaMetrics:
    """A fresh SagaMetrics (it belongs to no registry until one registers it)."""
    return SagaMetrics()


@pytest.fixture
def sample(saga_metrics: SagaMetrics) -> SampleReader:
    """``sample(name, **labels)``: the current value of one series of ``saga_metrics``."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(saga_metrics)

    def read(name: str, labels: Mapping[str, str] | None = None, **more: str) -> float | None:
        return registry.get_sample_value(name, {**(labels or {}), **more})

    return read
