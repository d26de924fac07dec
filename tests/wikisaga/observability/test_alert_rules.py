"""The shipped Prometheus rules: promtool accepts them, their unit tests pass, every alert
is tested and documented, and the package ships the files."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import yaml
from observability_support import PromtoolRun

from wikisaga.observability import alert_rules_path, alert_rules_test_path

ROOT = Path(__file__).resolve().parents[3]


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(alert_rules_path().read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def _alert_names() -> list[str]:
    return [rule["alert"] for rule in _rules() if "alert" in rule]


def test_promtool_check_rules_accepts_the_rules_file(promtool: PromtoolRun) -> None:
    done = promtool("check", "rules", str(alert_rules_path()))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in done.stdout


def test_promtool_test_rules_passes_the_rules_unit_tests(promtool: PromtoolRun) -> None:
    done = promtool("test", "rules", str(alert_rules_test_path()))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_the_rules_cover_the_guides_alert_conditions_and_design_section_8() -> None:
    expressions = {rule["alert"]: rule["expr"] for rule in _rules() if "alert" in rule}
    metric_of_alert = {
        "WikisagaCompensationFailed": "wikisaga_saga_compensation_failures_total",
        "WikisagaConsecutiveSagaFailures": "wikisaga_sagas_finished_total",
        "WikisagaSagaFailureRatioHigh": "wikisaga_sagas_finished_total",
        "WikisagaRollbackSlow": "histogram_quantile(0.95",
        "WikisagaSagasNeedIntervention": "wikisaga_sagas_needing_intervention",
        "WikisagaSagaLogUnreadable": "wikisaga_saga_log_up",
        "WikisagaServiceDown": 'up{job=~"wikisaga.*"} == 0',
    }
    assert set(expressions) == set(metric_of_alert)
    for alert, needle in metric_of_alert.items():
        assert needle in expressions[alert], alert


def test_every_alert_is_shown_both_firing_and_not_firing() -> None:
    suite = yaml.safe_load(alert_rules_test_path().read_text(encoding="utf-8"))
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in suite["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check["exp_alerts"] else quiet).add(check["alertname"])
    assert firing == set(_alert_names())
    assert quiet == set(_alert_names())


def test_every_alert_has_a_runbook_section_in_docs_operations() -> None:
    docs = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    headings = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in docs.splitlines()
        if line.startswith("#")
    }
    for rule in _rules():
        if "alert" in rule:
            anchor = rule["annotations"]["runbook"].partition("#")[2]
            assert anchor == rule["alert"].lower()
            assert anchor in headings, f"docs/operations.md has no section {rule['alert']}"


def test_the_package_ships_the_rules_and_their_tests() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["wikisaga"]
    package_dir = ROOT / "src" / "wikisaga"
    for path in (alert_rules_path(), alert_rules_test_path()):
        assert path.is_file()
        shipped = path.relative_to(package_dir).as_posix()
        assert any(fnmatch(shipped, pattern) for pattern in patterns), shipped
