"""The orchestrator service over real HTTP: trust rules, refused bodies, a generation
round trip, an incremental one, its client, OpenAPI and metrics."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from service_support import OWNER, TOKEN, headers, service_env

from wikisaga.clients import OrchestratorClient, ServiceRejected
from wikisaga.clients.orchestrator import document_body
from wikisaga.content.chunking import chunk_text
from wikisaga.content.ingest import make_document
from wikisaga.content.records import Document
from wikisaga.content.relations import EXTRACTOR_VERSION
from wikisaga.launcher import ServiceProcess

SAMPLE = Path(__file__).parents[1] / "content" / "generator" / "sample"
PROJECT = "python-web"


@pytest.fixture(scope="module")
def orchestrator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    base = tmp_path_factory.mktemp("orchestrator")
    service = ServiceProcess("orchestrator", env=service_env(base / "data"), log_dir=base / "logs")
    with service:
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


def test_generate_needs_the_internal_token(
    orchestrator: ServiceProcess, documents: list[Document]
) -> None:
    for token in (None, "wrong-token"):
        response = httpx.post(
            f"{orchestrator.url}/generate", json=body(documents), headers=headers(OWNER, token)
        )
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"


def test_generate_needs_a_user(orchestrator: ServiceProcess, documents: list[Document]) -> None:
    response = httpx.post(
        f"{orchestrator.url}/generate", json=body(documents), headers=headers(None, TOKEN)
    )
    assert response.status_code == 400
    assert response.json()["error"] == "missing_user_id"


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"project_id": PROJECT, "documents": []}, "validation_error"),
        ({"project_id": PROJECT}, "validation_error"),
        ({"project_id": PROJECT, "documents": [{"doc_id": "d"}]}, "validation_error"),
        ({"project_id": PROJECT, "documents": "not a list"}, "validation_error"),
        ([1, 2, 3], "validation_error"),
    ],
)
def test_bad_bodies_are_422(http: httpx.Client, payload: object, error: str) -> None:
    response = http.post("/generate", json=payload)
    assert response.status_code == 422
    assert response.json()["error"] == error
    assert set(response.json()) >= {"error", "detail"}


def test_spans_outside_the_text_and_duplicates_are_422(
    http: httpx.Client, documents: list[Document]
) -> None:
    item = document_body(documents[0])
    outside = {**item, "chunks": [{"index": 0, "start": 0, "end": len(item["text"]) + 5}]}
    response = http.post("/generate", json={"project_id": PROJECT, "documents": [outside]})
    assert (response.status_code, response.json()["error"]) == (422, "invalid_chunk")

    wrong = {**item, "chunks": [{"index": 0, "start": 0, "end": 5, "text": "other"}]}
    response = http.post("/generate", json={"project_id": PROJECT, "documents": [wrong]})
    assert (response.status_code, response.json()["error"]) == (422, "invalid_chunk")

    response = http.post("/generate", json={"project_id": PROJECT, "documents": [item, item]})
    assert (response.status_code, response.json()["error"]) == (422, "invalid_documents")

    foreign = {**item, "project_id": "another"}
    response = http.post("/generate", json={"project_id": PROJECT, "documents": [foreign]})
    assert (response.status_code, response.json()["error"]) == (422, "invalid_documents")


def test_a_bad_project_id_is_400(http: httpx.Client, documents: list[Document]) -> None:
    response = http.post("/generate", json={**body(documents), "project_id": "../etc"})
    assert (response.status_code, response.json()["error"]) == (400, "invalid_path")


def test_a_generation_round_trip(http: httpx.Client, documents: list[Document]) -> None:
    """Pages under wiki/, the plan, the relations (merged and per document) and the source
    map; the same request twice gives the same answer."""
    response = http.post("/generate", json=body(documents))
    assert response.status_code == 200, response.text
    answer = response.json()
    paths = [f["file_path"] for f in answer["files"]]
    assert paths == sorted(paths)
    assert all(p.startswith("wiki/") and p.endswith(".md") for p in paths)
    assert {"wiki/index.md", "wiki/entities/fastapi.md", "wiki/sources/docs-fastapi.md"} <= set(
        paths
    )
    assert [p["file_path"] for p in answer["plan"]] == paths
    assert answer["relations"]["entities"]
    assert answer["relations"]["triples"]
    assert len(answer["relations"]["documents"]) == len(documents)
    assert set(answer["source_map"]["sources"]) == {d.doc_id for d in documents}
    assert answer["unchanged"] == []
    assert answer["deleted"] == []
    again = http.post("/generate", json=body(documents)).json()
    assert again.pop("analysed_documents") == []  # kept from the first request
    answer.pop("analysed_documents")
    assert again == answer


def test_documents_as_the_store_gives_them_are_accepted(
    http: httpx.Client, documents: list[Document]
) -> None:
    """``dataclasses.asdict(document)`` (chunk texts, code included) is a valid item and
    gives the same pages as the client's smaller form."""
    full = {"project_id": PROJECT, "documents": [dataclasses.asdict(d) for d in documents]}
    response = http.post("/generate", json=full)
    assert response.status_code == 200, response.text
    assert response.json()["files"] == http.post("/generate", json=body(documents)).json()["files"]


def test_an_incremental_round_trip(http: httpx.Client, documents: list[Document]) -> None:
    """Handing back relations and the source map: only the changed document is analysed
    again (the others' analyses were kept), only pages whose plan changed are sent; laid
    over the first answer's files, they are the full generation's."""
    first = http.post("/generate", json=body(documents)).json()
    changed = list(documents)
    old = changed[3]
    text = old.text + "\n\nPydantic is used by FastAPI to read request bodies."
    changed[3] = dataclasses.replace(
        old,
        text=text,
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
        chunks=chunk_text(text, old.outline, old.doc_id),
    )
    again = http.post(
        "/generate",
        json=body(
            changed,
            relations=first["relations"]["documents"],
            source_map=first["source_map"],
        ),
    ).json()
    full = http.post("/generate", json=body(changed)).json()
    assert again["changed_documents"] == [old.doc_id]
    assert again["analysed_documents"] == [old.doc_id]
    assert 0 < len(again["files"]) < len(full["files"])
    merged = {f["file_path"]: f["content"] for f in first["files"]}
    for path in again["deleted"]:
        merged.pop(path)
    merged.update({f["file_path"]: f["content"] for f in again["files"]})
    assert merged == {f["file_path"]: f["content"] for f in full["files"]}
    assert again["source_map"] == full["source_map"]
    assert again["relations"] == full["relations"]


def test_relations_handed_back_are_reused_only_under_the_same_extraction_rules(
    http: httpx.Client, documents: list[Document]
) -> None:
    """Each document's relations come with the version of the rules that found them;
    handed back with it they are used as given (a marker triple added to one reaches the
    merged graph), and under another version, or none, they are extracted again."""
    first = http.post("/generate", json=body(documents)).json()
    kept = first["relations"]["documents"]
    assert {record["extractor"] for record in kept} == {EXTRACTOR_VERSION}
    record = next(r for r in kept if r["triples"])
    marker = {**record["triples"][0], "predicate": "uses", "object": "marker entity"}
    record["triples"].append(marker)
    record["entities"].append(
        {"key": "marker entity", "name": "marker entity", "kind": "phrase", "mentions": 1}
    )

    def merged_objects(records: list[dict[str, Any]]) -> set[str]:
        answer = http.post("/generate", json=body(documents, relations=records))
        assert answer.status_code == 200, answer.text
        return {t["object"] for t in answer.json()["relations"]["triples"]}

    assert "marker entity" in merged_objects(kept)
    record["extractor"] = "wikisaga-relations/0"
    assert "marker entity" not in merged_objects(kept)
    del record["extractor"]
    assert "marker entity" not in merged_objects(kept)


def test_the_client(orchestrator: ServiceProcess, documents: list[Document]) -> None:
    with OrchestratorClient(
        orchestrator.url, headers={"X-INTERNAL-TOKEN": TOKEN}, timeout=120
    ) as client:
        answer = client.generate(PROJECT, documents, user_id=OWNER)
        assert "wiki/index.md" in {f["file_path"] for f in answer["files"]}
        again = client.generate(
            PROJECT,
            documents,
            user_id=OWNER,
            relations=answer["relations"]["documents"],
            source_map=answer["source_map"],
        )
        assert again["files"] == []
        assert len(again["unchanged"]) == len(answer["files"])
        with pytest.raises(ServiceRejected) as refused:
            client.generate(PROJECT, [], user_id=OWNER)
        assert refused.value.status == 422


def test_openapi_and_metrics(http: httpx.Client, orchestrator: ServiceProcess) -> None:
    schema = httpx.get(f"{orchestrator.url}/openapi.json").json()
    operation = schema["paths"]["/generate"]["post"]
    assert {"401", "413", "422", "503"} <= set(operation["responses"])
    assert "GenerateRequest" in schema["components"]["schemas"]
    assert httpx.get(f"{orchestrator.url}/metrics").status_code == 401
    metrics = http.get("/metrics")
    assert metrics.status_code == 200
    assert 'wikisaga_http_requests_total{method="POST",route="/generate"' in metrics.text
