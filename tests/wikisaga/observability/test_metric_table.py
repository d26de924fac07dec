"""One metric table, written twice (the module docstring, docs/operations.md): both name
exactly the series a scrape serves, with the same types and labels."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from distributed_saga.log.memory import MemorySagaLog
from wikisaga.observability import SagaLogCollector, SagaMetrics, saga_metrics

ROOT = Path(__file__).resolve().parents[3]
Row = tuple[str, str, frozenset[str]]


def _docstring_rows() -> set[Row]:
    rows = set()
    for line in (saga_metrics.__doc__ or "").splitlines():
        match = re.fullmatch(r"``(wikisaga_\w+)``\s+(counter|gauge|histogram)\s*(.*)", line)
        if match:
            labels = frozenset(re.findall(r"``(\w+)``", match[3]))
            rows.add((match[1], match[2], labels))
    return rows


def _docs_rows() -> set[Row]:
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    rows = set()
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"`wikisaga_\w+`", cells[0]):
            # "`step`, `outcome`: `completed`, `failed`": names before the colon.
            labels = frozenset(re.findall(r"`(\w+)`", cells[2].partition(":")[0]))
            rows.add((cells[0].strip("`"), cells[1], labels))
    return rows


def _served_rows() -> set[Row]:
    metrics = SagaMetrics(known_steps=["Create git snapshot of wiki files"])
    metrics.set_jobs({"queued": 1})
    metrics.record_stage("publish", 1.0)
    registry = CollectorRegistry(auto_describe=True)
    registry.register(metrics)
    registry.register(SagaLogCollector(MemorySagaLog()))
    rows = set()
    for family in registry.collect():
        # A counter's family is named without _total; its samples carry it.
        name = family.name + ("_total" if family.type == "counter" else "")
        labels = {label for s in family.samples for label in s.labels if label != "le"}
        rows.add((name, family.type, frozenset(labels)))
    return rows


def _documented_values() -> dict[tuple[str, str], frozenset[str]]:
    """``(metric, label) -> values`` for each label the docs list values for
    ("`outcome`: `committed`, `rolled_back`, `failed`": the values after the colon)."""
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    values = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"`wikisaga_\w+`", cells[0]):
            names, _, listed = cells[2].partition(":")
            if listed:
                label = re.findall(r"`(\w+)`", names)[-1]
                values[(cells[0].strip("`"), label)] = frozenset(re.findall(r"`(\w+)`", listed))
    return values


def test_the_label_values_the_docs_list_are_exactly_those_served() -> None:
    """Series whose label values are known in advance exist from the start, and the docs
    list those values: a new outcome or reason in the code must reach the table."""
    documented = _documented_values()
    assert len(documented) == 7
    metrics = SagaMetrics(known_steps=["Create git snapshot of wiki files"])
    registry = CollectorRegistry(auto_describe=True)
    registry.register(metrics)
    registry.register(SagaLogCollector(MemorySagaLog()))
    served: dict[tuple[str, str], set[str]] = {}
    for family in registry.collect():
        name = family.name + ("_total" if family.type == "counter" else "")
        for s in family.samples:
            for label, value in s.labels.items():
                if label != "le":
                    served.setdefault((name, label), set()).add(value)
    for key, values in documented.items():
        assert served.get(key) == set(values), key


def test_the_docstring_and_the_docs_hold_the_same_table() -> None:
    assert _docstring_rows() == _docs_rows()
    assert len(_docs_rows()) == 17


def test_the_table_names_exactly_the_series_a_scrape_serves() -> None:
    assert _docs_rows() == _served_rows()
