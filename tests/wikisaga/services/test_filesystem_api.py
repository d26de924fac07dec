"""The filesystem service's endpoints: the guide's shapes and ours, against a real process."""

from __future__ import annotations

import hashlib
import re
import socket

import httpx
import pytest
from service_support import OTHER, TOKEN, ClientFactory

from wikisaga.launcher import ServiceProcess
from wikisaga.services.filesystem.schemas import ExportResponse

VERSION = re.compile(r"^v[0-9a-f]{16}[0-9a-f]{8}$")


def _save(client: httpx.Client, project: str, path: str, content: str) -> dict[str, object]:
    response = client.post(
        "/save_file", json={"project_id": project, "file_path": path, "content": content}
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_health_answers_without_a_token(filesystem_service: ServiceProcess) -> None:
    response = httpx.get(f"{filesystem_service.url}/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": "filesystem"}


def test_save_file_answers_the_guide_shape_plus_versions(
    client: httpx.Client, project_id: str
) -> None:
    body = _save(client, project_id, "wiki/document.md", "# Hello\n")
    assert body["status"] == "success"
    assert body["path"] == "wiki/document.md"
    assert isinstance(body["file_id"], str)
    assert body["file_id"]
    assert VERSION.match(str(body["version"]))
    assert body["previous_version"] is None
    assert body["sha256"] == hashlib.sha256(b"# Hello\n").hexdigest()
    assert body["size"] == 8


def test_saving_again_makes_a_new_version_and_names_the_previous(
    client: httpx.Client, project_id: str
) -> None:
    first = _save(client, project_id, "a.md", "one")
    second = _save(client, project_id, "a.md", "one")
    assert second["version"] != first["version"]
    assert second["previous_version"] == first["version"]


def test_get_file_returns_content_and_current_version(
    client: httpx.Client, project_id: str
) -> None:
    saved = _save(client, project_id, "wiki/ünï cödé.md", "text é ✓\n")
    response = client.get(f"/file/{project_id}/wiki/ünï cödé.md")
    assert response.status_code == 200
    body = response.json()
    assert body["project_id"] == project_id
    assert body["path"] == "wiki/ünï cödé.md"
    assert body["content"] == "text é ✓\n"
    assert body["version"] == saved["version"]


def test_get_of_an_absent_file_is_a_404_json(client: httpx.Client, project_id: str) -> None:
    _save(client, project_id, "present.md", "x")
    response = client.get(f"/file/{project_id}/absent.md")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_delete_answers_the_guide_shape_and_removes_the_file(
    client: httpx.Client, project_id: str
) -> None:
    saved = _save(client, project_id, "wiki/sub/document.md", "x")
    response = client.delete(f"/file/{project_id}/wiki/sub/document.md")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    assert body["deleted"] is True
    assert body["previous_version"] == saved["version"]
    assert client.get(f"/file/{project_id}/wiki/sub/document.md").status_code == 404


def test_deleting_an_absent_file_succeeds(client: httpx.Client, project_id: str) -> None:
    response = client.delete(f"/file/{project_id}/never/was.md")
    assert response.status_code == 200
    assert response.json()["status"] == "success"
    assert response.json()["deleted"] is False


def test_listing_shows_current_files_with_metadata_filtered_by_prefix(
    client: httpx.Client, project_id: str
) -> None:
    a = _save(client, project_id, "wiki/a.md", "aaa")
    _save(client, project_id, "wiki/b.md", "bb")
    _save(client, project_id, "other/c.md", "c")
    client.delete(f"/file/{project_id}/wiki/b.md")
    response = client.get(f"/files/{project_id}", params={"prefix": "wiki/"})
    assert response.status_code == 200
    body = response.json()
    assert body["project_id"] == project_id
    assert [f["path"] for f in body["files"]] == ["wiki/a.md"]
    (entry,) = body["files"]
    assert entry["version"] == a["version"]
    assert entry["size"] == 3
    assert entry["sha256"] == hashlib.sha256(b"aaa").hexdigest()
    assert entry["updated_at"].endswith("Z")
    everything = client.get(f"/files/{project_id}").json()["files"]
    assert [f["path"] for f in everything] == ["other/c.md", "wiki/a.md"]


def test_a_project_nobody_wrote_to_lists_no_files(client: httpx.Client, project_id: str) -> None:
    response = client.get(f"/files/{project_id}")
    assert response.status_code == 200
    assert response.json() == {"project_id": project_id, "files": []}


def test_export_returns_every_current_file_with_content(
    client: httpx.Client, project_id: str
) -> None:
    _save(client, project_id, "b.md", "bee")
    saved = _save(client, project_id, "a/x.md", "ex")
    body = client.get(f"/export/{project_id}").json()
    assert body["project_id"] == project_id
    assert body["files"] == [
        {
            "path": "a/x.md",
            "content": "ex",
            "version": saved["version"],
            "sha256": hashlib.sha256(b"ex").hexdigest(),
        },
        {
            "path": "b.md",
            "content": "bee",
            "version": body["files"][1]["version"],
            "sha256": hashlib.sha256(b"bee").hexdigest(),
        },
    ]


def test_an_export_is_json_of_the_documented_model_and_keeps_any_text(
    client: httpx.Client, project_id: str
) -> None:
    text = 'Ünïcödé \u2028 \x7f "quoted" \\ 🐝 \U0010ffff\n'
    _save(client, project_id, "notes/é.md", text)
    response = client.get(f"/export/{project_id}")
    assert response.headers["content-type"] == "application/json"
    export = ExportResponse.model_validate_json(response.content)
    assert [(f.path, f.content) for f in export.files] == [("notes/é.md", text)]
    assert export.files[0].sha256 == hashlib.sha256(text.encode()).hexdigest()


def test_batch_saves_and_deletes_and_reports_each_path(
    client: httpx.Client, project_id: str
) -> None:
    old = _save(client, project_id, "keep.md", "old")
    _save(client, project_id, "gone.md", "bye")
    response = client.post(
        "/batch",
        json={
            "project_id": project_id,
            "save": [
                {"file_path": "keep.md", "content": "new"},
                {"file_path": "fresh.md", "content": "hi"},
            ],
            "delete": ["gone.md", "never.md"],
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    actions = [(r["path"], r["action"]) for r in body["results"]]
    assert actions == [
        ("keep.md", "saved"),
        ("fresh.md", "saved"),
        ("gone.md", "deleted"),
        ("never.md", "absent"),
    ]
    assert body["results"][0]["previous_version"] == old["version"]
    assert body["results"][1]["previous_version"] is None
    assert body["results"][2]["version"] is None
    paths = [f["path"] for f in client.get(f"/files/{project_id}").json()["files"]]
    assert paths == ["fresh.md", "keep.md"]


def test_a_batch_of_45_pages_lands_whole(client: httpx.Client, project_id: str) -> None:
    """The wiki's usual publish (45 pages of 4 KB) saves every page with its content.

    How fast it is belongs to the benchmarks (bench/), not to a functional test."""
    contents = {f"wiki/page-{i:02d}.md": f"page {i}\n" + "x" * 4096 for i in range(45)}
    save = [{"file_path": path, "content": text} for path, text in contents.items()]
    response = client.post("/batch", json={"project_id": project_id, "save": save})
    assert response.status_code == 200
    assert [r["action"] for r in response.json()["results"]] == ["saved"] * 45
    exported = client.get(f"/export/{project_id}").json()["files"]
    assert {f["path"]: f["content"] for f in exported} == contents


def test_unknown_routes_are_404_json(client: httpx.Client) -> None:
    response = client.get("/no/such/route")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "Not Found"}


def test_wrong_methods_are_405_json_with_allow(client: httpx.Client) -> None:
    response = client.get("/save_file")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
    assert "POST" in response.headers["allow"]


def test_schema_violations_are_422_json_with_the_error_shape(client: httpx.Client) -> None:
    response = client.post("/save_file", json={"project_id": "p"})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_error"
    assert "file_path" in body["detail"]


def test_malformed_json_is_422_json(client: httpx.Client) -> None:
    response = client.post(
        "/save_file", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"


def test_content_with_a_lone_surrogate_is_refused_422(
    client: httpx.Client, project_id: str
) -> None:
    raw = f'{{"project_id": "{project_id}", "file_path": "a.md", "content": "x\\ud800"}}'
    response = client.post(
        "/save_file", content=raw.encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_content"


def test_a_file_of_exactly_one_mebibyte_is_accepted(client: httpx.Client, project_id: str) -> None:
    """A content of exactly the limit is saved, and read back byte for byte."""
    content = "big\n" + "x" * (1024 * 1024 - 5) + "\n"
    saved = _save(client, project_id, "big.md", content)
    assert saved["size"] == 1024 * 1024
    assert saved["sha256"] == hashlib.sha256(content.encode()).hexdigest()
    read = client.get(f"/file/{project_id}/big.md").json()
    assert read["version"] == saved["version"]
    assert read["content"] == content


@pytest.mark.parametrize(
    "content",
    ["x" * (1024 * 1024 + 1), "é" * (512 * 1024 + 1)],
    ids=["ascii", "two-byte characters"],
)
def test_a_file_over_one_mebibyte_is_413(
    client: httpx.Client, project_id: str, content: str
) -> None:
    response = client.post(
        "/save_file", json={"project_id": project_id, "file_path": "big.md", "content": content}
    )
    assert response.status_code == 413
    assert response.json()["error"] == "file_too_large"
    assert client.get(f"/file/{project_id}/big.md").status_code == 404


def test_a_batch_naming_too_many_files_is_413(client: httpx.Client, project_id: str) -> None:
    response = client.post(
        "/batch",
        json={"project_id": project_id, "delete": [f"f{i}.md" for i in range(5001)]},
    )
    assert response.status_code == 413
    assert response.json()["error"] == "too_many_files"


def test_a_batch_naming_one_path_twice_is_400(client: httpx.Client, project_id: str) -> None:
    response = client.post(
        "/batch",
        json={
            "project_id": project_id,
            "save": [{"file_path": "a.md", "content": "1"}],
            "delete": ["a.md"],
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] == "duplicate_path"


def test_a_request_declaring_a_body_over_256_mib_is_413_before_it_is_sent(
    filesystem_service: ServiceProcess,
) -> None:
    request = (
        "POST /batch HTTP/1.1\r\n"
        f"Host: {filesystem_service.host}\r\n"
        f"X-INTERNAL-TOKEN: {TOKEN}\r\nX-User-ID: alice\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {256 * 1024 * 1024 + 1}\r\n\r\n"
    )
    with socket.create_connection((filesystem_service.host, filesystem_service.port), 10) as sock:
        sock.sendall(request.encode())
        answer = ""
        while "}" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk.decode()
    assert answer.startswith("HTTP/1.1 413")
    assert '"payload_too_large"' in answer


def test_a_too_long_idempotency_key_is_400(client: httpx.Client, project_id: str) -> None:
    response = client.delete(f"/file/{project_id}/a.md", headers={"Idempotency-Key": "k" * 201})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_idempotency_key"


def test_metrics_count_requests_by_route_template(
    client: httpx.Client, project_id: str, make_client: ClientFactory
) -> None:
    _save(client, project_id, "m.md", "x")
    make_client(user=OTHER).get(f"/file/{project_id}/m.md")
    text = client.get("/metrics").text
    assert re.search(
        r'wikisaga_http_requests_total\{method="POST",route="/save_file",'
        r'service="filesystem",status="200"\} [1-9]',
        text,
    )
    assert 'route="/file/{project_id}/{path:path}"' in text
    assert project_id not in text
    assert "wikisaga_http_request_duration_seconds_bucket" in text
    assert re.search(r'wikisaga_http_errors_total\{error="forbidden",.*\} [1-9]', text)


def test_openapi_documents_every_endpoint(filesystem_service: ServiceProcess) -> None:
    schema = httpx.get(f"{filesystem_service.url}/openapi.json").json()
    paths = schema["paths"]
    assert set(paths) >= {
        "/save_file",
        "/file/{project_id}/{path}",
        "/file/{project_id}/{filename}",
        "/files/{project_id}",
        "/batch",
        "/versions/{project_id}",
        "/restore",
        "/export/{project_id}",
        "/health",
        "/metrics",
    }
    save = paths["/save_file"]["post"]
    assert {"401", "403", "422"} <= set(save["responses"])
    assert httpx.get(f"{filesystem_service.url}/docs").status_code == 200
