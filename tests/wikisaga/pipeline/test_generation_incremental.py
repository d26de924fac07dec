"""Incremental regeneration through the orchestrator service, on real services: the last
committed generation's record (source map, per-document relations, page digests) is
handed back, only what changed is redone, and what is published equals a full generation
byte for byte; a missing, corrupt or contradicted record costs a full render, never a
wrong page; a request over the service's limits fails clearly or goes without the
record."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from generation_support import USER, read_everything, settings_for

from wikisaga.clients.orchestrator import OrchestratorClient, RequestLimits
from wikisaga.config import Settings
from wikisaga.content.chunking import chunk_text
from wikisaga.content.generator import generate_wiki
from wikisaga.content.ingest import make_document
from wikisaga.content.records import Document
from wikisaga.errors import GenerationFailed
from wikisaga.launcher import ServiceProcess
from wikisaga.pipeline.generation import (
    OrchestratorPages,
    PageSource,
    generate_project_wiki,
    local_pages,
)
from wikisaga.pipeline.previous import GenerationRecords
from wikisaga.testing.llm_server import LlmServer
from wikisaga.testing.stack import ServiceStack

SAMPLE = Path(__file__).parents[1] / "content" / "generator" / "sample"
_projects = iter(range(10_000))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceStack]:
    with ServiceStack(tmp_path_factory.mktemp("incremental-stack")) as running:
        yield running


@pytest.fixture(scope="module")
def orchestrator(
    stack: ServiceStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    base = tmp_path_factory.mktemp("incremental-orchestrator")
    env = {"WIKISAGA_INTERNAL_TOKEN": stack.token, "WIKISAGA_DATA_DIR": str(base / "data")}
    with ServiceProcess("orchestrator", env=env, log_dir=base) as service:
        yield service


@pytest.fixture
def project_id() -> str:
    return f"inc-{next(_projects)}"


@pytest.fixture
def settings(stack: ServiceStack, orchestrator: ServiceProcess, tmp_path: Path) -> Settings:
    return settings_for(stack, tmp_path / "data", orchestrator_url=orchestrator.url)


def sample(project_id: str) -> list[Document]:
    return [
        make_document(project_id, f"docs/{path.name}", path.read_bytes())
        for path in sorted(SAMPLE.glob("*.md"))
    ]


def changed(documents: Sequence[Document], index: int, extra: str) -> list[Document]:
    """The documents with ``extra`` appended to the one at ``index``."""
    result = list(documents)
    old = result[index]
    text = f"{old.text}\n\n{extra}\n"
    result[index] = dataclasses.replace(
        old,
        text=text,
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
        chunks=chunk_text(text, old.outline, old.doc_id),
    )
    return result


class Run:
    """One generation's result and the details of its generate_pages step."""

    def __init__(
        self,
        settings: Settings,
        project_id: str,
        documents: Sequence[Document],
        pages: PageSource | None = None,
    ) -> None:
        self.steps: dict[str, dict[str, Any]] = {}

        def progress(step: str, state: str, details: Any) -> None:
            if state != "running":
                self.steps[step] = {"state": state, **details}

        self.result = generate_project_wiki(
            project_id,
            USER,
            settings=settings,
            documents=lambda _project: documents,
            pages=pages,
            progress=progress,
        )
        self.pages = self.steps["generate_pages"]


def published(stack: ServiceStack, project_id: str) -> dict[str, str]:
    """Every current file of the project, by path."""
    with stack.direct_filesystem() as filesystem:
        return {
            entry["path"]: entry["content"] for entry in filesystem.export(project_id, user_id=USER)
        }


class Full:
    """What a full generation of some documents writes, made by the same generator as
    the pipeline's (the orchestrator service, or this process for ``local``)."""

    def __init__(self, stack: ServiceStack, orchestrator: ServiceProcess | None) -> None:
        self.stack = stack
        self.orchestrator = orchestrator

    def __call__(self, project_id: str, documents: Sequence[Document]) -> dict[str, str]:
        if self.orchestrator is None:
            return {page.file_path: page.content for page in generate_wiki(documents).files}
        with OrchestratorClient(
            self.orchestrator.url, headers=self.stack.headers, timeout=60
        ) as client:
            answer = client.generate(project_id, documents, user_id=USER)
        return {item["file_path"]: item["content"] for item in answer["files"]}


@pytest.fixture
def full_generation(stack: ServiceStack, orchestrator: ServiceProcess) -> Full:
    return Full(stack, orchestrator)


def records(settings: Settings) -> GenerationRecords:
    return GenerationRecords(settings.data_dir / "generations")


@pytest.mark.parametrize("source", ["orchestrator", "local"])
def test_one_changed_document_is_redone_alone_and_the_wiki_equals_a_full_generation(
    stack: ServiceStack,
    settings: Settings,
    orchestrator: ServiceProcess,
    project_id: str,
    source: str,
) -> None:
    """The second generation extracts and renders only what the changed document touches,
    keeps the other pages' files, and publishes exactly a full generation's pages."""
    pages = local_pages if source == "local" else None
    full_generation = Full(stack, None if source == "local" else orchestrator)
    documents = sample(project_id)
    first = Run(settings, project_id, documents, pages)
    assert first.pages["unchanged"] == 0
    assert first.result["warnings"] == []
    assert published(stack, project_id) == full_generation(project_id, documents)
    record = records(settings).path(project_id, first.result["saga_id"])
    assert record.is_file()

    edited = changed(documents, 2, "Starlette is used by FastAPI to serve requests.")
    second = Run(settings, project_id, edited, pages)
    assert second.result["warnings"] == []
    assert second.pages["changed_documents"] == 1
    if source == "orchestrator":  # it keeps analyses; the local generator analyses all
        assert second.pages["analysed_documents"] == 1
    assert 0 < second.pages["rendered"] < second.pages["files"]
    assert second.pages["unchanged"] == second.pages["files"] - second.pages["rendered"]
    assert second.result["files_created"] == second.pages["files"]
    assert published(stack, project_id) == full_generation(project_id, edited)
    # The first record made way for the second one.
    assert not record.exists()
    assert records(settings).path(project_id, second.result["saga_id"]).is_file()


def test_without_a_record_the_generation_is_full_and_says_so(
    stack: ServiceStack, settings: Settings, project_id: str, full_generation: Full
) -> None:
    """A missing record, then a corrupt one: a full generation each time, with a warning,
    and the same pages as the incremental path would have published."""
    documents = sample(project_id)
    first = Run(settings, project_id, documents)
    records(settings).path(project_id, first.result["saga_id"]).unlink()

    edited = changed(documents, 0, "Uvicorn serves ASGI applications such as FastAPI.")
    second = Run(settings, project_id, edited)
    assert second.pages["unchanged"] == 0
    assert any("left no record" in warning for warning in second.result["warnings"])
    assert published(stack, project_id) == full_generation(project_id, edited)

    records(settings).path(project_id, second.result["saga_id"]).write_text(
        '{"format": 1, "saga_id": "truncat', encoding="utf-8"
    )
    third = Run(settings, project_id, documents)
    assert third.pages["unchanged"] == 0
    assert any("unreadable" in warning for warning in third.result["warnings"])
    assert published(stack, project_id) == full_generation(project_id, documents)


def test_a_page_changed_since_its_generation_is_rendered_again(
    stack: ServiceStack, settings: Settings, project_id: str, full_generation: Full
) -> None:
    """A page whose file no longer has the recorded digest is not reused: it is rendered
    again (with a warning naming it) and the wiki equals a full generation."""
    documents = sample(project_id)
    Run(settings, project_id, documents)
    with stack.direct_filesystem() as filesystem:
        filesystem.save_file(project_id, "wiki/index.md", "# edited by hand\n", user_id=USER)

    again = Run(settings, project_id, documents)
    assert again.pages["rendered"] == 1
    assert again.pages["unchanged"] == again.pages["files"] - 1
    assert any("wiki/index.md" in warning for warning in again.result["warnings"])
    assert published(stack, project_id) == full_generation(project_id, documents)


def test_a_request_over_the_limits_fails_clearly_or_goes_without_the_record(
    stack: ServiceStack,
    settings: Settings,
    orchestrator: ServiceProcess,
    project_id: str,
    full_generation: Full,
) -> None:
    """Too many documents: GenerationFailed naming the limit, nothing sent or changed. A
    body over the limit only with the previous record: sent without it (a full
    generation, with a warning)."""
    documents = sample(project_id)
    headers = stack.headers
    few = OrchestratorPages(orchestrator.url, headers, 60, limits=RequestLimits(max_documents=3))
    before = read_everything(stack, settings, project_id)
    with pytest.raises(GenerationFailed, match="8 documents, more than the orchestrator's 3"):
        Run(settings, project_id, documents, few)
    assert read_everything(stack, settings, project_id) == before

    Run(settings, project_id, documents)
    client = OrchestratorClient(orchestrator.url, headers=headers, timeout=60)
    with client:
        _, size = client.request_body(project_id, documents)
    tight = OrchestratorPages(
        orchestrator.url, headers, 60, limits=RequestLimits(max_body_bytes=size + 100)
    )
    edited = changed(documents, 5, "Pydantic validates the settings of Starlette.")
    again = Run(settings, project_id, edited, tight)
    assert again.pages["unchanged"] == 0
    assert any("could not be sent" in warning for warning in again.result["warnings"])
    assert published(stack, project_id) == full_generation(project_id, edited)


@pytest.fixture(scope="module")
def llm() -> Iterator[LlmServer]:
    with LlmServer() as server:
        yield server


@pytest.fixture(scope="module")
def rewriting_orchestrator(
    stack: ServiceStack, llm: LlmServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    base = tmp_path_factory.mktemp("incremental-rewriting")
    env = {
        "WIKISAGA_INTERNAL_TOKEN": stack.token,
        "WIKISAGA_DATA_DIR": str(base / "data"),
        "WIKISAGA_LLM_BASE_URL": llm.url,
        "WIKISAGA_LLM_MODEL": "tiny-test-model",
        "WIKISAGA_LLM_TIMEOUT": "2",
    }
    with ServiceProcess("orchestrator", env=env, log_dir=base) as service:
        yield service


def test_a_rewritten_page_keeps_its_text_until_its_plan_changes(
    stack: ServiceStack,
    llm: LlmServer,
    rewriting_orchestrator: ServiceProcess,
    project_id: str,
    tmp_path: Path,
) -> None:
    """With rewriting on: pages the regeneration does not render keep their rewritten
    text, only rendered pages are sent to the model, and a rendered page whose rewrite
    fails is published offline with the orchestrator's warning in the result."""
    settings = settings_for(stack, tmp_path / "data", orchestrator_url=rewriting_orchestrator.url)
    documents = sample(project_id)
    llm.behave("faithful")
    Run(settings, project_id, documents)
    first = published(stack, project_id)
    rewritten = {path for path, content in first.items() if "\nrewritten:\n" in content}
    assert len(rewritten) >= 5

    llm.behave("faithful")
    edited = changed(documents, 2, "Starlette is used by FastAPI to serve requests.")
    second = Run(settings, project_id, edited)
    assert 0 < len(llm.requests) < len(rewritten)
    assert second.pages["unchanged"] > 0
    again = published(stack, project_id)
    assert {path for path, content in again.items() if "\nrewritten:\n" in content} == rewritten
    kept = [path for path in rewritten if again[path] == first[path]]
    assert len(kept) >= len(rewritten) - len(llm.requests)

    llm.behave("error")
    third = Run(settings, project_id, changed(edited, 4, "Uvicorn runs FastAPI applications."))
    assert llm.requests
    offline = [w for w in third.result["warnings"] if "keeps its offline summary" in w]
    assert len(offline) == len(llm.requests)
    final = published(stack, project_id)
    assert sum("\nrewritten:\n" in content for content in final.values()) == len(rewritten) - len(
        offline
    )
