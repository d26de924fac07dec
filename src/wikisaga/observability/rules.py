"""The Prometheus rules file shipped with the package, and its unit tests.

``alerts.yml`` holds the alerting rules (and one recording rule) that docs/operations.md
explains; ``alerts_test.yml`` beside it is their ``promtool test rules`` suite. Point
Prometheus' ``rule_files`` at :func:`alert_rules_path`, or copy the file from there.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["ALERT_RULES_FILE", "ALERT_RULES_TEST_FILE", "alert_rules_path", "alert_rules_test_path"]

ALERT_RULES_FILE = "alerts.yml"
ALERT_RULES_TEST_FILE = "alerts_test.yml"


def _shipped(name: str) -> Path:
    # The package is installed as files (setuptools package data), never zipped, so the
    # resource is a real path that promtool and Prometheus can read.
    return Path(str(files(__package__ or "wikisaga.observability").joinpath(name)))


def alert_rules_path() -> Path:
    """Where the installed package keeps ``alerts.yml``."""
    return _shipped(ALERT_RULES_FILE)


def alert_rules_test_path() -> Path:
    """Where the installed package keeps ``alerts_test.yml`` (it names ``alerts.yml``
    relative to itself, so ``promtool test rules`` runs it from anywhere)."""
    return _shipped(ALERT_RULES_TEST_FILE)
