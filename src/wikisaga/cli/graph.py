"""``wikisaga graph show``: what readers of a project's knowledge graph see.

The graph is the one named by ``--graph-url``, else ``WIKISAGA_NEO4J_URI`` (with
``WIKISAGA_NEO4J_USER`` and ``WIKISAGA_NEO4J_PASSWORD``), else the SQLite graph in the data
directory. Store errors are :class:`~wikisaga.errors.GraphError`\\ s, printed as one line by
the command line's main.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Annotated

import typer

from wikisaga.config import Settings
from wikisaga.graph import GraphSummary, Relation, open_graph_store

__all__ = ["register"]

GraphUrl = Annotated[
    str | None,
    typer.Option(
        "--graph-url",
        help="graph URL: sqlite:///path, neo4j://host:7687 or bolt://host:7687 "
        "(default: WIKISAGA_NEO4J_URI, or SQLite in the data dir)",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="print JSON instead of text")]


def _plain(text: str) -> str:
    """``text`` as it is when printable, else quoted with its escapes (a name may hold a
    newline or a terminal control character)."""
    return text if text.isprintable() else repr(text)


def _line(relation: Relation) -> str:
    sources = len(relation.provenance)
    return (
        f"  {relation.weight:>8.2f}  {_plain(relation.subject)} --{_plain(relation.predicate)}--> "
        f"{_plain(relation.object)}  (confidence {relation.confidence:.2f}"
        f"{', ' + _plain(relation.method) if relation.method else ''}, "
        f"{sources} source{'' if sources == 1 else 's'})"
    )


def _print(project_id: str, summary: GraphSummary, states: Counter[str]) -> None:
    print(f"project     {project_id}")
    if summary.generation is None:
        print("generation  none current" + (f" ({_states(states)})" if states else ""))
        return
    print(f"generation  {_plain(summary.generation)} ({_states(states)})")
    print(f"entities    {summary.entities}")
    by_predicate = ", ".join(
        f"{_plain(name)} {count}" for name, count in sorted(summary.predicates.items())
    )
    print(f"relations   {summary.relations}" + (f" ({by_predicate})" if by_predicate else ""))
    if summary.strongest:
        print("strongest relations")
        for relation in summary.strongest:
            print(_line(relation))


def _states(states: Counter[str]) -> str:
    total = sum(states.values())
    parts = ", ".join(f"{count} {state}" for state, count in sorted(states.items()))
    return f"{total} generation{'' if total == 1 else 's'}: {parts}"


def show(
    project: Annotated[str, typer.Option("--project", help="the project whose graph to show")],
    strongest: Annotated[
        int, typer.Option(min=0, help="how many of the heaviest relations to list")
    ] = 10,
    json_output: Json = False,
    graph_url: GraphUrl = None,
) -> int:
    """The current generation of a project's graph: counts and the strongest relations."""
    settings = Settings.from_env()
    with open_graph_store(graph_url, settings=settings) as store:
        summary = store.summary(project, strongest=strongest)
        generations = store.generations(project)
    states = Counter(info.state.value for info in generations)
    if json_output:
        document = {
            "project_id": project,
            **summary.to_json(),
            "generations": [info.to_json() for info in generations],
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return 0
    _print(project, summary, states)
    return 0


def register(app: typer.Typer) -> None:
    """Add ``graph show`` to the command line."""
    group = typer.Typer(help="Inspect the knowledge graph.", no_args_is_help=True)
    group.command()(show)
    app.add_typer(group, name="graph")
