"""SIGKILL in the middle of a large batch: after a restart every file is old or new, never torn.

Two storages are crashed: contents of 64 KB, stored inline in the metadata database, and
contents over 256 KiB, stored as blob files. The service dies at a point the test can
name: by its own fault hook once the first or the last content of the batch is stored
(``kill_at_file:N``), or from outside once it has written 50 contents' worth of bytes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import signal
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from service_support import headers, wait_until

from wikisaga.launcher import ServiceProcess
from wikisaga.services.filesystem._faults import FAULT_ENV

SHAPES = {"inline": (2000, 64 * 1024), "files": (300, 300 * 1024)}
"""Files per batch and bytes per file: 128 MiB stored inline, 88 MiB stored as files."""


def _content(generation: str, index: int, size: int) -> str:
    head = f"{generation} generation, file {index}\n"
    return head + generation[0] * (size - len(head))


@functools.cache
def _batch(project: str, generation: str, shape: str) -> bytes:
    """The JSON body of a batch saving every file of ``generation`` (built once)."""
    files, size = SHAPES[shape]
    body = {
        "project_id": project,
        "save": [
            {"file_path": f"wiki/{i:04d}.md", "content": _content(generation, i, size)}
            for i in range(files)
        ],
    }
    return json.dumps(body).encode()


def _post_batch(client: httpx.Client, project: str, generation: str, shape: str) -> httpx.Response:
    return client.post(
        "/batch",
        content=_batch(project, generation, shape),
        headers={"Content-Type": "application/json"},
    )


@pytest.fixture(scope="module", autouse=True)
def _free_bodies() -> Iterator[None]:
    """Drop the cached 128 MiB bodies when the module is done."""
    yield
    _batch.cache_clear()


def _objects_dir(service: ServiceProcess, project: str) -> Path:
    return Path(service.env["WIKISAGA_DATA_DIR"]) / "filesystem" / "projects" / project / "objects"


def _entries(directory: Path) -> list[str]:
    try:
        return [p.name for p in directory.iterdir()]
    except FileNotFoundError:
        return []


def _written_bytes(service: ServiceProcess) -> int:
    """Bytes the service process has passed to write() so far (all its threads)."""
    io = Path(f"/proc/{service.pid}/io").read_text()
    return int(next(line for line in io.splitlines() if line.startswith("wchar:")).split()[1])


def _inline_blobs(service: ServiceProcess, project: str) -> int:
    db = Path(service.env["WIKISAGA_DATA_DIR"]) / "filesystem" / "meta.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM blobs WHERE project_id = ?", (project,)
        ).fetchone()
    conn.close()
    return int(count)


def _send(
    service: ServiceProcess, project: str, shape: str
) -> tuple[threading.Thread, dict[str, object]]:
    """Send the new generation's batch from a thread; its outcome lands in the dict."""
    outcome: dict[str, object] = {}

    def send_new_generation() -> None:
        try:
            with httpx.Client(base_url=service.url, headers=headers(), timeout=120) as client:
                outcome["status"] = _post_batch(client, project, "new", shape).status_code
        except httpx.TransportError as e:
            outcome["error"] = e

    sender = threading.Thread(target=send_new_generation)
    sender.start()
    return sender, outcome


def _check_restarted(service: ServiceProcess, project: str, shape: str, allowed: set[str]) -> None:
    """After a restart every file is whole, of one generation among ``allowed``, and no
    temporary file or unreferenced blob of the crashed batch is left."""
    files, size = SHAPES[shape]
    service.start()
    with httpx.Client(base_url=service.url, headers=headers(), timeout=120) as client:
        exported = client.get(f"/export/{project}").json()["files"]

    assert len(exported) == files
    generations = set()
    for i, item in enumerate(exported):
        assert item["path"] == f"wiki/{i:04d}.md"
        assert item["content"] in (_content("old", i, size), _content("new", i, size)), "torn"
        assert hashlib.sha256(item["content"].encode()).hexdigest() == item["sha256"]
        generations.add(item["content"].split(" ", 1)[0])
    assert len(generations) == 1, "a batch must be all or nothing, even across a crash"
    assert generations <= allowed
    objects = _objects_dir(service, project)
    leftovers = [name for name in _entries(objects) if name.startswith(".tmp-")]
    assert leftovers == []
    stored = {"inline": _inline_blobs(service, project), "files": len(_entries(objects))}
    assert stored[shape] == files, "unreferenced blobs were not swept"
    assert stored[next(other for other in SHAPES if other != shape)] == 0


@pytest.mark.parametrize("stored", ["first", "last"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_sigkill_once_contents_are_stored_leaves_every_file_old(
    fresh_filesystem: ServiceProcess, shape: str, stored: str
) -> None:
    """The service kills itself (``kill_at_file:N``) once the first, or the last, content
    of a large batch is stored, before the batch is committed: after a restart every file
    is at its old version and nothing of the batch is left."""
    service = fresh_filesystem
    project = "crash-project"
    files, _ = SHAPES[shape]
    with httpx.Client(base_url=service.url, headers=headers(), timeout=120) as client:
        assert _post_batch(client, project, "old", shape).status_code == 200
    service.stop()
    service.env[FAULT_ENV] = f"kill_at_file:{1 if stored == 'first' else files}"
    service.start()

    sender, outcome = _send(service, project, shape)
    sender.join(120)
    assert not sender.is_alive()
    assert isinstance(outcome.get("error"), httpx.TransportError), outcome
    wait_until(lambda: not service.alive, "the service died at its fault hook")
    assert service.returncode == -signal.SIGKILL
    service.kill()  # closes its log
    del service.env[FAULT_ENV]
    _check_restarted(service, project, shape, allowed={"old"})


@pytest.mark.parametrize("shape", list(SHAPES))
def test_sigkill_while_contents_are_written_leaves_every_file_old_or_new(
    fresh_filesystem: ServiceProcess, shape: str
) -> None:
    """SIGKILL from outside once the service has written 50 contents' worth of the batch:
    after a restart every file is old or new, never torn, all of one generation."""
    service = fresh_filesystem
    project = "crash-project"
    _, size = SHAPES[shape]
    with httpx.Client(base_url=service.url, headers=headers(), timeout=120) as client:
        assert _post_batch(client, project, "old", shape).status_code == 200
    objects = _objects_dir(service, project)
    _batch(project, "new", shape)  # built before the clock starts
    seeded_blobs = len(_entries(objects))
    written_before = _written_bytes(service)

    sender, outcome = _send(service, project, shape)
    # At least 50 contents' worth of bytes written (to blob files or to the WAL).
    wait_until(
        lambda: _written_bytes(service) >= written_before + 50 * size,
        "the service wrote 50 contents' worth",
        timeout=60,
    )
    if shape == "files":
        assert len(_entries(objects)) > seeded_blobs, "no new blob file appeared"
    service.kill()
    sender.join(60)
    assert not sender.is_alive()
    assert "status" not in outcome, "the batch finished before the kill; the test proves nothing"
    _check_restarted(service, project, shape, allowed={"old", "new"})


def test_an_answered_idempotency_key_survives_a_sigkill(fresh_filesystem: ServiceProcess) -> None:
    body = {"project_id": "durable", "file_path": "a.md", "content": "x"}
    key = {"Idempotency-Key": "durable-key"}
    with httpx.Client(base_url=fresh_filesystem.url, headers=headers(), timeout=30) as client:
        first = client.post("/save_file", json=body, headers=key)
    fresh_filesystem.kill()
    fresh_filesystem.start()
    with httpx.Client(base_url=fresh_filesystem.url, headers=headers(), timeout=30) as client:
        replay = client.post("/save_file", json=body, headers=key)
        current = client.get("/file/durable/a.md").json()
    assert replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert current["version"] == first.json()["version"]


def test_acknowledged_writes_survive_a_sigkill(fresh_filesystem: ServiceProcess) -> None:
    with httpx.Client(base_url=fresh_filesystem.url, headers=headers(), timeout=30) as client:
        saved = [
            client.post(
                "/save_file",
                json={"project_id": "acked", "file_path": f"f{i}.md", "content": f"c{i}"},
            ).json()
            for i in range(20)
        ]
    fresh_filesystem.kill()
    fresh_filesystem.start()
    with httpx.Client(base_url=fresh_filesystem.url, headers=headers(), timeout=30) as client:
        listing = client.get("/files/acked").json()["files"]
    assert {f["path"]: f["version"] for f in listing} == {s["path"]: s["version"] for s in saved}
