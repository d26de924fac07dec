"""The backend's documents upload as a real process, with real filesystem and git services
and the embedded Chroma the pipeline reads: upload then generate then read, the report of
``wikisaga ingest``, and refusals that store nothing."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from pydantic import SecretStr
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from wikisaga.config import Settings
from wikisaga.content.documents import document_store_for
from wikisaga.content.ingest import ingest
from wikisaga.launcher import ServiceProcess
from wikisaga.testing.stack import ServiceStack

USER = "alice"
OTHER = "bob"
MAX_FILE = 100 * 1024
MAX_UPLOAD = 256 * 1024
_projects = iter(range(10_000))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

DOCS = {
    "chroma.md": "# Chroma\n\nChroma is a vector database. Chroma uses SQLite.\n",
    "graphs/neo4j.rst": "Neo4j\n=====\n\nNeo4j is a graph database. Neo4j uses Java.\n",
    "git.txt": "Git is a version control system. Git uses SHA-1.\n",
}


class Backend:
    def __init__(self, stack: ServiceStack, process: ServiceProcess) -> None:
        self.stack = stack
        self.client = httpx.Client(base_url=process.url, timeout=60)
        self.settings = Settings(data_dir=stack.data_dir, internal_token=SecretStr(stack.token))

    def call(
        self, method: str, path: str, *, user: str | None = USER, token: bool = True, **kw: Any
    ) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if token:
            headers["X-INTERNAL-TOKEN"] = self.stack.token
        if user is not None:
            headers["X-User-ID"] = user
        return self.client.request(method, path, headers=headers, **kw)

    def upload(
        self, project: str, docs: dict[str, str | bytes], *, user: str = USER, **kw: Any
    ) -> httpx.Response:
        files = [("files", (path, content, "text/plain")) for path, content in docs.items()]
        return self.call("POST", f"/projects/{project}/documents", user=user, files=files, **kw)

    def stored(self, project: str) -> dict[str, str]:
        """Source path -> content hash of what the document store holds, read directly."""
        with document_store_for(self.settings) as store:
            return {info.source_path: info.content_hash for info in store.list_documents(project)}

    def wait(self, job_id: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.call("GET", f"/jobs/{job_id}").json()
            if job["status"] in ("succeeded", "failed"):
                return dict(job)
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} did not finish")


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with ServiceStack(tmp_path_factory.mktemp("documents-stack")) as stack:
        env = {
            **stack.env,
            "WIKISAGA_FILESYSTEM_SERVER_URL": stack.filesystem_proxy.url,
            "WIKISAGA_GIT_SERVER_URL": stack.git_proxy.url,
            "WIKISAGA_PAGE_GENERATOR": "local",
            "WIKISAGA_INGEST_MAX_BYTES": str(MAX_FILE),
            "WIKISAGA_BACKEND_UPLOAD_MAX_BYTES": str(MAX_UPLOAD),
        }
        with ServiceProcess("backend", env=env, log_dir=stack.root, startup_timeout=60) as proc:
            running = Backend(stack, proc)
            yield running
            running.client.close()


@pytest.fixture
def project() -> str:
    return f"docs-{next(_projects)}"


def _sha(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def test_upload_then_generate_then_read_the_wiki(
    backend: Backend, project: str, tmp_path: Path
) -> None:
    """A multipart upload answers what ``wikisaga ingest`` of the same files reports; the
    documents are listed with their hashes; a generation then publishes a wiki of them."""
    answer = backend.upload(project, dict(DOCS))
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["added"] == sorted(DOCS)
    assert report["counts"] == {
        "added": 3,
        "updated": 0,
        "unchanged": 0,
        "removed": 0,
        "skipped": 0,
    }

    # The library ingest of the same files in a folder reports the same, project aside.
    folder = tmp_path / "docs"
    for path, text in DOCS.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text, encoding="utf-8")
    with document_store_for(backend.settings) as store:
        local = ingest(store, project_id=f"{project}-cli", user_id=USER, paths=[folder])
    assert {**local.as_json(), "project_id": project} == report

    listed = backend.call("GET", f"/projects/{project}/documents").json()["documents"]
    assert [doc["path"] for doc in listed] == sorted(DOCS)
    assert {doc["path"]: doc["content_hash"] for doc in listed} == {
        path: _sha(text) for path, text in DOCS.items()
    }
    assert all(doc["chunk_count"] > 0 and doc["doc_id"].startswith("doc-") for doc in listed)
    assert backend.stored(project) == {path: _sha(text) for path, text in DOCS.items()}

    changed = {**DOCS, "git.txt": "Git is a version control system. Git stores trees.\n"}
    again = backend.upload(project, changed).json()
    assert (again["updated"], again["unchanged"]) == (
        ["git.txt"],
        ["chroma.md", "graphs/neo4j.rst"],
    )

    job = backend.call("POST", "/generate_wiki", json={"project_id": project}).json()
    assert backend.wait(job["job_id"])["status"] == "succeeded"
    wiki = backend.call("GET", f"/projects/{project}/wiki").json()
    pages = [backend.call("GET", f"/projects/{project}/wiki/{f}").json() for f in wiki["files"]]
    text = "\n".join(page["content"] for page in pages)
    assert "Neo4j" in text
    assert "Chroma" in text

    # Now the filesystem service knows the project's owner: another user is refused first.
    refused = backend.upload(project, {"intruder.md": "# Mine\n\nNow it is mine.\n"}, user=OTHER)
    assert refused.status_code == 403
    assert "intruder.md" not in backend.stored(project)


def test_a_json_upload_with_prune_removes_what_it_does_not_name(
    backend: Backend, project: str
) -> None:
    """The JSON body is the same ingest; ``prune=true`` removes the documents not in it, as
    ``wikisaga ingest --prune`` does; DELETE removes one document."""
    assert backend.upload(project, dict(DOCS)).status_code == 200
    body = {"documents": [{"path": "chroma.md", "content": DOCS["chroma.md"]}]}
    answer = backend.call(
        "POST", f"/projects/{project}/documents", params={"prune": "true"}, json=body
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["unchanged"] == ["chroma.md"]
    assert report["removed"] == ["git.txt", "graphs/neo4j.rst"]
    assert list(backend.stored(project)) == ["chroma.md"]

    deleted = backend.call("DELETE", f"/projects/{project}/documents/chroma.md")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["documents"] == []
    assert backend.stored(project) == {}
    gone = backend.call("DELETE", f"/projects/{project}/documents/chroma.md")
    assert (gone.status_code, gone.json()["error"]) == (404, "document_not_found")


@pytest.mark.parametrize(
    ("bad", "status", "error"),
    [
        ({"../escape.md": "# x\n\ntext\n"}, 400, "invalid_path"),
        ({"/etc/passwd.md": "# x\n\ntext\n"}, 400, "invalid_path"),
        ({".hidden/notes.md": "# x\n\ntext\n"}, 400, "invalid_path"),
        ({"a\\b.md": "# x\n\ntext\n"}, 400, "invalid_path"),
        ({"report.pdf": "%PDF-1.7"}, 422, "unsupported_format"),
        ({"image.png": b"\x89PNG\r\n\x1a\n\0\0"}, 422, "unsupported_format"),
        ({"binary.txt": b"text\0with a NUL"}, 422, "unreadable_document"),
        ({"latin1.txt": "caf\xe9".encode("latin-1")}, 422, "unreadable_document"),
        ({"blank.md": "   \n\n"}, 422, "unreadable_document"),
        ({"big.md": "# Big\n\n" + "word " * (MAX_FILE // 5)}, 413, "payload_too_large"),
        ({"chroma.md/inner.md": "# x\n\ntext\n"}, 422, "path_clash"),
    ],
)
def test_one_wrong_document_refuses_the_upload_and_stores_nothing(
    backend: Backend, project: str, bad: dict[str, str | bytes], status: int, error: str
) -> None:
    """A good document next to a wrong one: the answer names the problem, and the store
    holds nothing of the project afterwards."""
    answer = backend.upload(project, {"chroma.md": DOCS["chroma.md"], **bad})
    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == error
    assert backend.stored(project) == {}
    listed = backend.call("GET", f"/projects/{project}/documents")
    assert listed.json()["documents"] == []


def test_the_route_has_its_own_body_limit_above_the_services(
    backend: Backend, project: str
) -> None:
    """A file over the backend's 64 KiB body limit but under the per-file one is ingested;
    a request over WIKISAGA_BACKEND_UPLOAD_MAX_BYTES is 413 and stores nothing; the other
    routes keep their 64 KiB."""
    large = "# Large\n\n" + "Chroma stores vectors in collections. " * 2000  # ~76 KiB
    assert 64 * 1024 < len(large) < MAX_FILE
    answer = backend.upload(project, {"large.md": large})
    assert answer.status_code == 200, answer.text
    assert backend.stored(project) == {"large.md": _sha(large)}

    many = {f"part-{n}.md": large for n in range(4)}  # ~300 KiB in all
    refused = backend.upload(project, many)
    assert (refused.status_code, refused.json()["error"]) == (413, "payload_too_large")
    assert backend.stored(project) == {"large.md": _sha(large)}

    body = {"project_id": project, "padding": "x" * 70_000}
    assert backend.call("POST", "/generate_wiki", json=body).status_code == 413

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted as it streams in
        yield b'--b0undary\r\nContent-Disposition: form-data; name="files"; '
        yield b'filename="streamed.md"\r\n\r\n# Streamed\n\n'
        for _ in range(MAX_UPLOAD // 10_000 + 2):
            yield b"Chroma is. " * 1000
        yield b"\r\n--b0undary--\r\n"

    streamed = backend.call(
        "POST",
        f"/projects/{project}/documents",
        content=chunked(),
        headers={"Content-Type": "multipart/form-data; boundary=b0undary"},
    )
    assert (streamed.status_code, streamed.json()["error"]) == (413, "payload_too_large")
    assert backend.stored(project) == {"large.md": _sha(large)}


def test_another_users_documents_are_refused_and_kept(backend: Backend, project: str) -> None:
    """Bob cannot upload into, nor list, a project whose documents Alice ingested."""
    assert backend.upload(project, dict(DOCS)).status_code == 200
    before = backend.stored(project)
    refused = backend.upload(project, {"chroma.md": "# Bob's\n\nBob rewrote it.\n"}, user=OTHER)
    assert (refused.status_code, refused.json()["error"]) == (403, "forbidden")
    assert backend.stored(project) == before
    listed = backend.call("GET", f"/projects/{project}/documents", user=OTHER)
    assert listed.status_code == 403
    for path in ("chroma.md", "not-stored.md"):
        deleted = backend.call("DELETE", f"/projects/{project}/documents/{path}", user=OTHER)
        assert (deleted.status_code, deleted.json()["error"]) == (403, "forbidden"), path
    pruned = backend.call(
        "POST",
        f"/projects/{project}/documents",
        params={"prune": "true"},
        json={"documents": [{"path": "mine.md", "content": "# Mine\n\nBob's own.\n"}]},
        user=OTHER,
    )
    assert pruned.status_code == 403
    assert backend.stored(project) == before


def test_auth_and_bodies_the_route_does_not_take(backend: Backend, project: str) -> None:
    """401 without the token, 400 without X-User-ID, 415 for another media type, 422 for
    an empty upload or a part that is not a file; none of them stores anything."""
    wrong = backend.upload(project, dict(DOCS), token=False, headers={"X-INTERNAL-TOKEN": "no"})
    assert wrong.status_code == 401
    no_token = backend.call("POST", f"/projects/{project}/documents", token=False, json={})
    assert no_token.status_code == 401
    assert backend.call("GET", f"/projects/{project}/documents", token=False).status_code == 401
    no_user = backend.call("POST", f"/projects/{project}/documents", user=None, json={})
    assert (no_user.status_code, no_user.json()["error"]) == (400, "missing_user_id")
    text = backend.call("POST", f"/projects/{project}/documents", content=b"hello")
    assert text.status_code == 415
    empty = backend.call("POST", f"/projects/{project}/documents", json={"documents": []})
    assert empty.status_code == 422
    assert empty.json()["detail"].startswith("body.documents: ")
    for body in (b"{not json", b"[]", b"[" * 5000 + b"]" * 5000):
        broken = backend.call(
            "POST",
            f"/projects/{project}/documents",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        assert broken.status_code == 422, broken.text
        assert broken.json()["detail"].startswith("body: "), broken.text  # where it is wrong
    field = backend.call(
        "POST",
        f"/projects/{project}/documents",
        data={"note": "x"},
        files=[("files", ("a.md", b"# a\n\nA.\n"))],
    )
    assert (field.status_code, field.json()["error"]) == (422, "invalid_upload")
    bad_project = backend.call("GET", "/projects/..%2Fetc/documents")
    assert bad_project.status_code in (400, 404)
    assert backend.stored(project) == {}


DOCUMENT_OPERATIONS = [
    "POST /projects/{project_id}/documents",
    "GET /projects/{project_id}/documents",
    "DELETE /projects/{project_id}/documents/{path}",
]


@pytest.mark.parametrize("label", DOCUMENT_OPERATIONS)
def test_generated_requests_never_get_a_server_error(backend: Backend, label: str) -> None:
    """Requests generated from the backend's own /openapi.json (multipart and JSON bodies),
    with the token and a user, answer without a 5xx, with a documented status, content
    type and body shape."""
    schema = schemathesis.openapi.from_url(f"{backend.client.base_url}/openapi.json")
    operations = {op.label: op for op in (r.ok() for r in schema.get_all_operations())}

    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=operations[label].as_strategy())
    def check(case: schemathesis.Case) -> None:
        headers = dict(case.headers or {})
        headers["X-INTERNAL-TOKEN"] = backend.stack.token
        headers["X-User-ID"] = USER
        case.headers = headers
        case.call_and_validate(base_url=str(backend.client.base_url), checks=CHECKS, timeout=30)

    check()


def _multipart(parts: list[tuple[bytes, bytes]], boundary: str = "b0undary") -> dict[str, Any]:
    """A multipart body written byte for byte: (Content-Disposition value, content)."""
    body = b"".join(
        f"--{boundary}\r\nContent-Disposition: ".encode()
        + disposition
        + b"\r\nContent-Type: text/plain\r\n\r\n"
        + content
        + b"\r\n"
        for disposition, content in parts
    )
    return {
        "content": body + f"--{boundary}--\r\n".encode(),
        "headers": {"Content-Type": f"multipart/form-data; boundary={boundary}"},
    }


def test_a_file_name_that_is_not_utf8_or_missing_is_refused(backend: Backend, project: str) -> None:
    """The form parser reads a file name that is not UTF-8 as Latin-1, a guess (wrong for
    any other encoding): it is refused rather than guessed at, as a part without a file
    name is, each with an answer that says what to send; nothing is stored."""
    good = (b'form-data; name="files"; filename="chroma.md"', DOCS["chroma.md"].encode())
    latin1 = (b'form-data; name="files"; filename="caf\xe9.md"', b"# Cafe\n\nA cafe.\n")
    answer = backend.call("POST", f"/projects/{project}/documents", **_multipart([good, latin1]))
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_path"), answer.text
    assert "not UTF-8" in answer.json()["detail"]

    nameless = (b'form-data; name="files"', b"# Cafe\n\nA cafe.\n")
    answer = backend.call("POST", f"/projects/{project}/documents", **_multipart([good, nameless]))
    assert (answer.status_code, answer.json()["error"]) == (422, "invalid_upload"), answer.text
    assert "has no file name" in answer.json()["detail"]

    overlong = {"documents": [{"path": "a" * 2000 + ".md", "content": "# A\n\nA.\n"}]}
    answer = backend.call("POST", f"/projects/{project}/documents", json=overlong)
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_path")
    assert len(answer.json()["detail"]) < 400  # the path is not echoed back whole
    assert backend.stored(project) == {}

    utf8 = (b'form-data; name="files"; filename="caf\xc3\xa9.md"', b"# Cafe\n\nA cafe.\n")
    answer = backend.call("POST", f"/projects/{project}/documents", **_multipart([utf8]))
    assert answer.status_code == 200, answer.text
    assert list(backend.stored(project)) == ["caf\u00e9.md"]


def test_a_path_with_a_trailing_line_feed_names_no_other_document(
    backend: Backend, project: str
) -> None:
    """The router reads '/a.md\\n' as '/a.md' (its pattern's '$' matches before a final
    line feed): a path holding a control character is refused before routing, so DELETE
    of 'chroma.md%0A' deletes nothing, here and on the filesystem service behind."""
    assert backend.upload(project, dict(DOCS)).status_code == 200
    before = backend.stored(project)
    for suffix in ("%0A", "%0D", "%00"):
        answer = backend.call("DELETE", f"/projects/{project}/documents/chroma.md{suffix}")
        assert (answer.status_code, answer.json()["error"]) == (400, "invalid_path"), suffix
    assert backend.stored(project) == before

    with backend.stack.direct_filesystem() as filesystem:
        filesystem.save_file(project, "wiki/a.md", "kept", user_id=USER)
    answer = httpx.delete(
        f"{backend.stack.filesystem.url}/file/{project}/wiki/a.md%0A",
        headers={**backend.stack.headers, "X-User-ID": USER},
    )
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_path")
    with backend.stack.direct_filesystem() as filesystem:
        assert [entry["path"] for entry in filesystem.list_files(project, user_id=USER)] == [
            "wiki/a.md"
        ]


def test_two_user_headers_are_refused(backend: Backend, project: str) -> None:
    """Two X-User-ID headers name two users; neither acts (the first one did before, so a
    client's header ahead of a proxy's would win): 400, nothing stored."""
    headers = [
        ("X-INTERNAL-TOKEN", backend.stack.token),
        ("X-User-ID", OTHER),
        ("X-User-ID", USER),
    ]
    body = {"documents": [{"path": "chroma.md", "content": DOCS["chroma.md"]}]}
    request = backend.client.build_request(
        "POST", f"/projects/{project}/documents", json=body, headers=headers
    )
    answer = backend.client.send(request)
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_user_id")
    assert "more than once" in answer.json()["detail"]
    assert backend.stored(project) == {}
