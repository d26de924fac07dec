"""SIGKILL in the middle of a large batch: after a restart every file is old or new, never torn."""

from __future__ import annotations

import functools
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from service_support import headers

from wikisaga.launcher import ServiceProcess

FILES = 2000
SIZE = 64 * 1024


def _content(generation: str, index: int) -> str:
    head = f"{generation} generation, file {index}\n"
    return head + generation[0] * (SIZE - len(head))


@functools.cache
def _batch(project: str, generation: str) -> bytes:
    """The JSON body of a batch saving every file of ``generation`` (built once: 128 MiB)."""
    body = {
        "project_id": project,
        "save": [
            {"file_path": f"wiki/{i:04d}.md", "content": _content(generation, i)}
            for i in range(FILES)
        ],
    }
    return json.dumps(body).encode()


def _post_batch(client: httpx.Client, project: str, generation: str) -> httpx.Response:
    return client.post(
        "/batch",
        content=_batch(project, generation),
        headers={"Content-Type": "application/json"},
    )


@pytest.fixture(scope="module", autouse=True)
def _free_bodies() -> Iterator[None]:
    """Drop the cached 128 MiB bodies when the module is done."""
    yield
    _batch.cache_clear()


def _objects_dir(service: ServiceProcess, project: str) -> Path:
    return Path(service.env["WIKISAGA_DATA_DIR"]) / "filesystem" / "projects" / project / "objects"


def _entries(directory: Path) -> int:
    try:
        return sum(1 for _ in directory.iterdir())
    except FileNotFoundError:
        return 0


@pytest.mark.parametrize("kill_when", ["0.2 s after the request", "while blobs are written"])
def test_sigkill_during_a_large_batch_leaves_every_file_old_or_new(
    fresh_filesystem: ServiceProcess, kill_when: str
) -> None:
    service = fresh_filesystem
    project = "crash-project"
    with httpx.Client(base_url=service.url, headers=headers(), timeout=120) as client:
        assert _post_batch(client, project, "old").status_code == 200
    objects = _objects_dir(service, project)
    _batch(project, "new")  # built before the clock starts
    seeded_blobs = _entries(objects)
    outcome: dict[str, object] = {}

    def send_new_generation() -> None:
        try:
            with httpx.Client(base_url=service.url, headers=headers(), timeout=120) as client:
                outcome["status"] = _post_batch(client, project, "new").status_code
        except httpx.TransportError as e:
            outcome["error"] = e

    sender = threading.Thread(target=send_new_generation)
    sender.start()
    if kill_when == "0.2 s after the request":
        time.sleep(0.2)
    else:
        deadline = time.monotonic() + 60
        while _entries(objects) < seeded_blobs + 50 and time.monotonic() < deadline:
            time.sleep(0.002)
        assert _entries(objects) >= seeded_blobs + 50, "the new blobs never started to appear"
    service.kill()
    sender.join(60)
    assert "status" not in outcome, "the batch finished before the kill; the test proves nothing"

    service.start()
    with httpx.Client(base_url=service.url, headers=headers(), timeout=120) as client:
        exported = client.get(f"/export/{project}").json()["files"]

    assert len(exported) == FILES
    generations = set()
    for i, item in enumerate(exported):
        assert item["path"] == f"wiki/{i:04d}.md"
        assert item["content"] in (_content("old", i), _content("new", i)), "torn file"
        assert hashlib.sha256(item["content"].encode()).hexdigest() == item["sha256"]
        generations.add(item["content"].split(" ", 1)[0])
    assert len(generations) == 1, "a batch must be all or nothing, even across a crash"
    leftovers = [p.name for p in objects.iterdir() if p.name.startswith(".tmp-")]
    assert leftovers == []
    assert _entries(objects) == FILES * len(generations), "unreferenced blobs were not swept"


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
