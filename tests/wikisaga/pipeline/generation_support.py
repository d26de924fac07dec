"""What the generation tests share: a stack of real services, documents in an embedded
Chroma, a SQLite graph, and readings of all three stores."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from wikisaga.config import Settings
from wikisaga.content.documents import document_store_for
from wikisaga.content.ingest import ingest
from wikisaga.graph import open_graph_store
from wikisaga.testing.invariants import WikiState, read_state
from wikisaga.testing.stack import ServiceStack

USER = "user-gen"

TOPICS = {
    "chroma": "Chroma is a vector database. Chroma uses SQLite. Chroma provides embeddings.",
    "neo4j": "Neo4j is a graph database. Neo4j uses Java. Cypher is part of Neo4j.",
    "git": "Git is a version control system. Git uses SHA-1. Git provides branches.",
    "fastapi": "FastAPI is a web framework. FastAPI uses Starlette. FastAPI uses Pydantic.",
}


def settings_for(
    stack: ServiceStack, data_dir: Path, *, orchestrator_url: str | None = None
) -> Settings:
    """Settings pointing at the stack's fault proxies, with stores under ``data_dir``
    (and at the orchestrator at ``orchestrator_url``, if given)."""
    extra = {"orchestrator_url": orchestrator_url} if orchestrator_url else {}
    return Settings(
        data_dir=data_dir,
        internal_token=SecretStr(stack.token),
        filesystem_server_url=stack.filesystem_proxy.url,
        git_server_url=stack.git_proxy.url,
        filesystem_timeout=3.0,
        git_timeout=3.0,
        **extra,
    )


def write_documents(root: Path, names: list[str]) -> Path:
    """One Markdown file per topic name under ``root/docs``; the folder."""
    folder = root / "docs"
    folder.mkdir(parents=True, exist_ok=True)
    for existing in folder.iterdir():
        existing.unlink()
    for name in names:
        body = TOPICS.get(name, f"{name.title()} is a tool. {name.title()} uses Python.")
        (folder / f"{name}.md").write_text(f"# {name.title()}\n\n{body}\n", encoding="utf-8")
    return folder


def ingest_documents(settings: Settings, project_id: str, root: Path, names: list[str]) -> None:
    """Ingest the topics ``names`` (only them: others are pruned) into the project."""
    folder = write_documents(root, names)
    with document_store_for(settings) as store:
        ingest(store, project_id=project_id, user_id=USER, paths=[folder], prune=True)


@dataclass(frozen=True)
class Everything:
    """The wiki, its history and its graph at one moment."""

    wiki: WikiState
    graph_current: str | None
    graph_generations: tuple[str, ...]
    relations: int


def read_everything(stack: ServiceStack, settings: Settings, project_id: str) -> Everything:
    with stack.direct_filesystem() as filesystem:
        wiki = read_state(filesystem, stack.repository(project_id), project_id, USER)
    with open_graph_store(settings=settings) as graph:
        current = graph.current_generation(project_id)
        generations = tuple(info.generation for info in graph.generations(project_id))
        relations = len(graph.relations(project_id))
    return Everything(wiki, current, generations, relations)


def raising(message: str) -> Any:
    """A fault action that fails the step it fires at."""

    def action() -> None:
        raise RuntimeError(message)

    return action
