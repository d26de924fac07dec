"""The orchestrator's limits (in process, with small limits): body size, document count,
document size, one generation at a time; and its schema's vocabularies."""

from __future__ import annotations

import asyncio
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from service_support import headers
from starlette.types import Message, Receive, Scope, Send

from wikisaga.config import Settings
from wikisaga.content.relations import EntityKind, Predicate
from wikisaga.services._common import ServiceMetrics
from wikisaga.services.orchestrator import schemas
from wikisaga.services.orchestrator._gate import GenerationGate
from wikisaga.services.orchestrator.config import OrchestratorLimits
from wikisaga.services.orchestrator.main import create_app

LIMITS = OrchestratorLimits(max_body_bytes=4000, max_documents=2, max_document_chars=500)


@pytest.fixture
def client() -> Iterator[TestClient]:
    settings = Settings(internal_token="test-internal-token-0123456789")
    with TestClient(create_app(settings, limits=LIMITS), headers=headers()) as test_client:
        yield test_client


def item(
    number: int, text: str = "The service answers every request it is sent."
) -> dict[str, Any]:
    return {
        "doc_id": f"doc-{number}",
        "source_path": f"doc-{number}.txt",
        "title": f"Doc {number}",
        "content_hash": "0" * 64,
        "text": text,
    }


def test_a_small_request_is_generated(client: TestClient) -> None:
    response = client.post("/generate", json={"project_id": "p", "documents": [item(1)]})
    assert response.status_code == 200, response.text


def test_a_body_over_the_limit_is_413_before_it_is_parsed(client: TestClient) -> None:
    response = client.post(
        "/generate",
        content=b'{"project_id": "p", "documents": [' + b" " * 5000 + b"]}",
        headers={"Content-Type": "application/json"},
    )
    assert (response.status_code, response.json()["error"]) == (413, "payload_too_large")


def test_too_many_documents_is_413(client: TestClient) -> None:
    documents = [item(n, "Short.") for n in range(3)]
    response = client.post("/generate", json={"project_id": "p", "documents": documents})
    assert (response.status_code, response.json()["error"]) == (413, "too_many_documents")


def test_a_document_over_the_limit_is_413(client: TestClient) -> None:
    response = client.post(
        "/generate", json={"project_id": "p", "documents": [item(1, "word " * 200)]}
    )
    assert (response.status_code, response.json()["error"]) == (413, "document_too_large")


def test_analyses_are_kept_within_their_bound() -> None:
    """Analyses of at most ``analysis_cache_chars`` characters of text are kept between
    requests, the least recently used going first; with 0, every request analyses all."""
    documents = [item(n, f"Service {n} answers every request it is sent.") for n in range(2)]
    size = len(documents[0]["text"])
    settings = Settings(internal_token="test-internal-token-0123456789")

    def analysed(limits: OrchestratorLimits, *requests: list[dict[str, Any]]) -> list[Any]:
        with TestClient(create_app(settings, limits=limits), headers=headers()) as client:
            return [
                client.post("/generate", json={"project_id": "p", "documents": docs}).json()[
                    "analysed_documents"
                ]
                for docs in requests
            ]

    both = OrchestratorLimits(analysis_cache_chars=2 * size)
    assert analysed(both, documents, documents) == [["doc-0", "doc-1"], []]
    one = OrchestratorLimits(analysis_cache_chars=size)
    assert analysed(one, documents, documents[1:], documents[:1]) == [
        ["doc-0", "doc-1"],
        [],
        ["doc-0"],
    ]
    off = OrchestratorLimits(analysis_cache_chars=0)
    assert analysed(off, documents, documents) == [["doc-0", "doc-1"], ["doc-0", "doc-1"]]


def test_a_request_beyond_the_running_generations_waits_then_gets_503() -> None:
    """With one generation running, a second waits its turn (its body unread) and is
    refused with 503 busy and Retry-After once the wait is over; the first finishes."""
    release = asyncio.Event()
    read_bodies: list[str] = []

    async def slow_app(scope: Scope, receive: Receive, send: Send) -> None:
        read_bodies.append(scope["path"])
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})

    gate = GenerationGate(
        slow_app, path="/generate", limit=1, wait_seconds=0.05, metrics=ServiceMetrics("t")
    )

    async def call() -> list[Message]:
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            sent.append(message)

        scope = {"type": "http", "path": "/generate", "method": "POST", "headers": []}
        await gate(scope, receive, send)
        return sent

    async def scenario() -> tuple[list[Message], list[Message]]:
        first = asyncio.create_task(call())
        await asyncio.sleep(0.01)
        second = await call()
        release.set()
        return await first, second

    first, second = asyncio.run(scenario())
    assert first[0]["status"] == 200
    assert second[0]["status"] == 503
    assert (b"retry-after", b"1") in second[0]["headers"]
    assert b'"busy"' in second[1]["body"]
    assert read_bodies == ["/generate"]


def test_the_schema_spells_the_extractors_vocabularies() -> None:
    hints = typing.get_type_hints(schemas.TripleBody)
    assert set(typing.get_args(hints["predicate"])) == {p.value for p in Predicate}
    kinds = typing.get_type_hints(schemas.EntityBody)["kind"]
    assert set(typing.get_args(kinds)) == {k.value for k in EntityKind}
