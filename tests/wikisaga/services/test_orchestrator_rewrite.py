"""The orchestrator with summary rewriting on (``WIKISAGA_LLM_*``), over real HTTP, against
the OpenAI-compatible test server: rewritten pages and warnings in the answer, the API key
never in the log, incremental requests keeping previous pages, a source map reused only
by the setup that made it; with rewriting off, pages byte-identical to the generator's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from service_support import TOKEN, headers, service_env

from wikisaga.clients.orchestrator import document_body
from wikisaga.config import Settings
from wikisaga.content.generator import generate_wiki
from wikisaga.content.ingest import make_document
from wikisaga.content.records import Document
from wikisaga.errors import ConfigError
from wikisaga.launcher import ServiceProcess
from wikisaga.services.orchestrator.main import create_app
from wikisaga.testing.llm_server import LlmServer

SAMPLE = Path(__file__).parents[1] / "content" / "generator" / "sample"
PROJECT = "python-web"
API_KEY = "sk-never-logged-0123456789"


@pytest.fixture(scope="module")
def llm() -> Iterator[LlmServer]:
    with LlmServer() as server:
        yield server


@pytest.fixture(scope="module")
def orchestrator(
    llm: LlmServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    base = tmp_path_factory.mktemp("orchestrator-rewrite")
    env = service_env(
        base / "data",
        WIKISAGA_LLM_BASE_URL=llm.url,
        WIKISAGA_LLM_MODEL="tiny-test-model",
        WIKISAGA_LLM_API_KEY=API_KEY,
        WIKISAGA_LLM_TIMEOUT="2",
    )
    with ServiceProcess("orchestrator", env=env, log_dir=base / "logs") as service:
        yield service


@pytest.fixture
def http(orchestrator: ServiceProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=orchestrator.url, headers=headers(), timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def documents() -> list[Document]:
    return [
        make_document(PROJECT, f"docs/{path.name}", path.read_bytes())
        for path in sorted(SAMPLE.glob("*.md"))
    ]


def body(documents: list[Document], **extra: Any) -> dict[str, Any]:
    return {"project_id": PROJECT, "documents": [document_body(d) for d in documents], **extra}


def offline(documents: list[Document]) -> dict[str, str]:
    return {page.file_path: page.content for page in generate_wiki(documents).files}


def files(answer: dict[str, Any]) -> dict[str, str]:
    return {item["file_path"]: item["content"] for item in answer["files"]}


def test_summaries_are_rewritten_and_the_key_is_never_logged(
    http: httpx.Client, llm: LlmServer, orchestrator: ServiceProcess, documents: list[Document]
) -> None:
    """Pages with a summary come back rewritten (and listed), the others as the offline
    generator makes them; the key went to the endpoint, not into the service's log."""
    llm.behave("faithful")
    answer = http.post("/generate", json=body(documents)).json()
    expected = offline(documents)
    got = files(answer)
    assert set(got) == set(expected)
    assert answer["rewritten"]
    assert answer["warnings"] == []
    for path, content in got.items():
        if path in answer["rewritten"]:
            assert content != expected[path]
            assert '  model: "tiny-test-model"\n---\n' in content
        else:
            assert content == expected[path]
    assert llm.requests[0].headers["Authorization"] == f"Bearer {API_KEY}"
    assert answer["source_map"]["generator"].endswith("+rewrite:tiny-test-model")
    assert API_KEY not in orchestrator.log_tail()


def test_a_failed_rewrite_keeps_the_offline_text_and_says_why(
    http: httpx.Client, llm: LlmServer, orchestrator: ServiceProcess, documents: list[Document]
) -> None:
    llm.behave("drop_citation")
    answer = http.post("/generate", json=body(documents)).json()
    assert files(answer) == offline(documents)
    assert answer["rewritten"] == []
    assert answer["warnings"]
    assert all("drops the citation" in warning for warning in answer["warnings"])
    assert "keeps its offline summary: the answer drops the citation" in orchestrator.log_tail()


def test_an_unchanged_page_keeps_its_previous_text(
    http: httpx.Client, llm: LlmServer, documents: list[Document]
) -> None:
    """Handing back the answer's source map: nothing is rendered or rewritten again (the
    caller keeps its rewritten pages); an offline service's map is not reused (its pages
    are rendered and rewritten), nor is this one's by an offline service."""
    llm.behave("faithful")
    first = http.post("/generate", json=body(documents)).json()
    llm.behave("faithful")
    again = http.post(
        "/generate",
        json=body(
            documents,
            relations=first["relations"]["documents"],
            source_map=first["source_map"],
        ),
    ).json()
    assert again["files"] == []
    assert len(again["unchanged"]) == len(first["files"])
    assert llm.requests == []

    settings = Settings(internal_token=TOKEN)
    with TestClient(create_app(settings), headers=headers()) as plain:
        offline_answer = plain.post("/generate", json=body(documents)).json()
        assert offline_answer["rewritten"] == []
        assert offline_answer["warnings"] == []
        assert files(offline_answer) == offline(documents)
        reused = plain.post(
            "/generate", json=body(documents, source_map=first["source_map"])
        ).json()
        assert reused["unchanged"] == []
        assert files(reused) == offline(documents)
    from_offline = http.post(
        "/generate", json=body(documents, source_map=offline_answer["source_map"])
    ).json()
    assert from_offline["unchanged"] == []
    assert from_offline["rewritten"]


def test_a_base_url_without_a_model_is_refused_at_start() -> None:
    settings = Settings(internal_token=TOKEN, llm_base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ConfigError, match="WIKISAGA_LLM_MODEL"):
        create_app(settings)


def test_the_settings_keep_the_key_secret_and_check_the_url() -> None:
    settings = Settings.from_env(
        {"WIKISAGA_LLM_BASE_URL": "http://127.0.0.1:9/v1/", "WIKISAGA_LLM_API_KEY": API_KEY}
    )
    assert settings.llm_base_url == "http://127.0.0.1:9/v1"
    assert API_KEY not in repr(settings)
    with pytest.raises(ConfigError, match="WIKISAGA_LLM_BASE_URL='ftp://host'") as refused:
        Settings.from_env({"WIKISAGA_LLM_BASE_URL": "ftp://host", "WIKISAGA_LLM_API_KEY": API_KEY})
    assert API_KEY not in str(refused.value)
    with pytest.raises(ConfigError, match="WIKISAGA_LLM_TIMEOUT"):
        Settings.from_env({"WIKISAGA_LLM_TIMEOUT": "soon"})
