"""``wikisaga graph show`` prints what readers of a project's graph see."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wikisaga.cli.app import GROUPS, main
from wikisaga.cli.graph import register
from wikisaga.graph import Entity, Provenance, Relation, open_graph_store


@pytest.fixture
def graph_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/graph.db"
    with open_graph_store(url) as store:
        entities = [Entity("fastapi", "FastAPI"), Entity("starlette\nnext", "Starlette")]
        uses = Relation(
            "fastapi",
            "uses",
            "starlette\nnext",
            3.0,
            "pattern",
            0.9,
            (Provenance("d", "a.md", "s", 0, 1),),
        )
        store.stage("web", "g1", entities, [uses])
        store.make_current("web", "g1")
        store.stage("web", "g2", entities)
    return url


def test_the_command_group_is_registered() -> None:
    assert register in GROUPS


def test_show_prints_counts_and_the_strongest_relations(
    graph_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["graph", "show", "--project", "web", "--graph-url", graph_url]) == 0
    out = capsys.readouterr().out
    assert "generation  g1 (2 generations: 1 current, 1 staged)" in out
    assert "entities    2" in out
    assert "relations   1 (uses 1)" in out
    # A name with a newline is shown escaped, on one line.
    assert "3.00  fastapi --uses--> 'starlette\\nnext'  (confidence 0.90, pattern, 1 source)" in out


def test_show_json_is_the_summary_and_the_generations(
    graph_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["graph", "show", "--project", "web", "--graph-url", graph_url, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["project_id"] == "web"
    assert (shown["generation"], shown["entities"], shown["relations"]) == ("g1", 2, 1)
    assert shown["strongest"][0]["object"] == "starlette\nnext"
    assert [g["state"] for g in shown["generations"]] == ["current", "staged"]


def test_a_project_without_a_current_generation_says_so(
    graph_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["graph", "show", "--project", "other", "--graph-url", graph_url]) == 0
    assert "generation  none current" in capsys.readouterr().out


def test_the_default_graph_is_sqlite_in_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WIKISAGA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("WIKISAGA_NEO4J_URI", raising=False)
    assert main(["graph", "show", "--project", "web"]) == 0
    assert (tmp_path / "data" / "graph.db").is_file()
    assert "none current" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--project", "../etc"], "project id must match"),
        (["--project", "web", "--graph-url", "bolt://127.0.0.1:1"], "did not answer"),
        (["--project", "web", "--graph-url", "ftp://x"], "unsupported graph URL scheme"),
    ],
)
def test_errors_are_one_line_and_exit_1(
    graph_url: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    if "--graph-url" not in args:
        args = [*args, "--graph-url", graph_url]
    assert main(["graph", "show", *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("wikisaga: error: ")
    assert message in err
    assert "Traceback" not in err
