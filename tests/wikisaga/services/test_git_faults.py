"""The git service when the filesystem service is down, slow or answers nonsense:
a clear 502/504 JSON error, and nothing created."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from git_fixtures import TOKEN, bare, new_project, start_stack

from wikisaga.launcher import ServiceProcess, free_port

Reply = Callable[[str], tuple[int, bytes]]


@contextmanager
def fake_filesystem(reply: Reply) -> Iterator[str]:
    """An HTTP server answering every GET with ``reply(path)``; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = reply(self.path)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def silent_filesystem() -> Iterator[str]:
    """A socket that accepts connections and never answers; yields its URL."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


@contextmanager
def git_service(tmp_path: Path, filesystem_url: str) -> Iterator[ServiceProcess]:
    env = {
        "WIKISAGA_INTERNAL_TOKEN": TOKEN,
        "WIKISAGA_DATA_DIR": str(tmp_path / "data"),
        "WIKISAGA_FILESYSTEM_SERVER_URL": filesystem_url,
        "WIKISAGA_FILESYSTEM_TIMEOUT": "0.5",
    }
    with ServiceProcess("git", env=env, log_dir=tmp_path / "logs") as service:
        yield service


def post_snapshot(service: ServiceProcess, project: str) -> tuple[int, dict[str, str]]:
    response = httpx.post(
        f"{service.url}/snapshot/{project}",
        json={"user_id": "alice", "message": "m", "snapshot_id": "snap-1"},
        headers={"X-INTERNAL-TOKEN": TOKEN, "X-User-ID": "alice"},
        timeout=30,
    )
    return response.status_code, response.json()


def export_body(project: str, files: dict[str, str], *, bad_digest: bool = False) -> bytes:
    entries = [
        {
            "path": path,
            "content": content,
            "version": "v1",
            "sha256": "0" * 64 if bad_digest else hashlib.sha256(content.encode()).hexdigest(),
        }
        for path, content in files.items()
    ]
    return json.dumps({"project_id": project, "files": entries}).encode()


def test_filesystem_down_is_502_and_creates_no_repository(tmp_path: Path) -> None:
    """Nothing listening at the filesystem URL: 502 filesystem_unavailable naming the
    service, and no repository directory appears."""
    project = new_project()
    with git_service(tmp_path, f"http://127.0.0.1:{free_port()}") as service:
        status, body = post_snapshot(service, project)
    assert status == 502
    assert body["error"] == "filesystem_unavailable"
    assert "unreachable" in body["detail"]
    assert not (tmp_path / "data" / "git" / f"{project}.git").exists()


def test_filesystem_silent_is_504_and_creates_no_repository(tmp_path: Path) -> None:
    """A filesystem service that never answers: 504 after the configured timeout."""
    project = new_project()
    with silent_filesystem() as url, git_service(tmp_path, url) as service:
        status, body = post_snapshot(service, project)
    assert status == 504
    assert body["error"] == "filesystem_timeout"
    assert not (tmp_path / "data" / "git" / f"{project}.git").exists()


def _project_of(path: str) -> str:
    return path.rsplit("/", 1)[1]


REPLIES: dict[str, tuple[Reply, int, str]] = {
    "500": (
        lambda p: (500, b'{"error":"internal_error","detail":"disk"}'),
        502,
        "filesystem_unavailable",
    ),
    "401": (
        lambda p: (401, b'{"error":"unauthorized","detail":"token"}'),
        502,
        "filesystem_unavailable",
    ),
    "not-json": (lambda p: (200, b"not json"), 502, "filesystem_bad_export"),
    "no-files-list": (lambda p: (200, b'{"files": "nope"}'), 502, "filesystem_bad_export"),
    "other-project": (
        lambda p: (200, export_body("other-project", {"a.md": "a"})),
        502,
        "filesystem_bad_export",
    ),
    "bad-sha256": (
        lambda p: (200, export_body(_project_of(p), {"a.md": "a"}, bad_digest=True)),
        502,
        "filesystem_bad_export",
    ),
    "dot-dot-path": (
        lambda p: (200, export_body(_project_of(p), {"../x.md": "a"})),
        502,
        "filesystem_bad_export",
    ),
    "file-and-directory": (
        lambda p: (200, export_body(_project_of(p), {"a": "file", "a/b.md": "a"})),
        502,
        "filesystem_bad_export",
    ),
    "403": (lambda p: (403, b'{"error":"forbidden","detail":"not yours"}'), 403, "forbidden"),
    "404": (lambda p: (404, b'{"error":"not_found","detail":"no"}'), 404, "project_not_found"),
}


def _dispatch(path: str) -> tuple[int, bytes]:
    # Project ids are "<case>--<unique>", so one fake serves every case.
    case = _project_of(path).split("--", 1)[0]
    return REPLIES[case][0](path)


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServiceProcess, Path]]:
    base = tmp_path_factory.mktemp("git-faulty-filesystem")
    with fake_filesystem(_dispatch) as url, git_service(base, url) as service:
        yield service, base / "data" / "git"


@pytest.mark.parametrize("case", list(REPLIES))
def test_every_filesystem_failure_maps_to_a_clear_error_and_creates_nothing(
    faulty: tuple[ServiceProcess, Path], case: str
) -> None:
    """Each way the export can fail has its own status and error code; no repository."""
    service, git_root = faulty
    project = f"{case}--{new_project()}"
    _, status, code = REPLIES[case]
    got_status, body = post_snapshot(service, project)
    assert (got_status, body["error"]) == (status, code), body
    assert not (git_root / f"{project}.git").exists()


def test_filesystem_outage_leaves_existing_history_untouched_and_recovers(
    tmp_path: Path,
) -> None:
    """With the real filesystem service stopped, a snapshot of an existing project is 502
    and adds no commit or tag; once it is back, the same snapshot id succeeds."""
    with start_stack(tmp_path) as stack:
        project = new_project()
        stack.save_files(project, {"a.md": "a"})
        head = stack.snapshot(project, snapshot_id="before").json()["commit"]
        stack.fs.stop()
        failed = stack.snapshot(project, snapshot_id="during")
        assert failed.status_code == 502
        assert failed.json()["error"] == "filesystem_unavailable"
        repo = stack.repo(project)
        assert bare(repo, "rev-parse", "main") == head
        assert bare(repo, "tag", "-l") == "before"
        stack.fs.start()
        retried = stack.snapshot(project, snapshot_id="during")
        assert retried.status_code == 201
        assert bare(repo, "rev-parse", "main^") == head
