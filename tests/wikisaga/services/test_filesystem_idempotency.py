"""Idempotency-Key on writes: a replay returns the first answer and changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from service_support import OTHER, ClientFactory


def _key() -> dict[str, str]:
    return {"Idempotency-Key": f"key-{uuid.uuid4().hex}"}


def _writes(project: str) -> dict[str, tuple[str, str, dict[str, Any] | None]]:
    """One request of each write endpoint: (method, url, body)."""
    return {
        "save_file": (
            "POST",
            "/save_file",
            {"project_id": project, "file_path": "wiki/a.md", "content": "replayed"},
        ),
        "delete_file": ("DELETE", f"/file/{project}/wiki/seed.md", None),
        "batch": (
            "POST",
            "/batch",
            {
                "project_id": project,
                "save": [{"file_path": "wiki/b.md", "content": "b"}],
                "delete": ["wiki/seed.md"],
            },
        ),
        "restore": (
            "POST",
            "/restore",
            {"project_id": project, "files": [{"path": "wiki/seed.md", "version": None}]},
        ),
    }


@pytest.fixture
def seeded(client: httpx.Client, project_id: str) -> str:
    response = client.post(
        "/save_file",
        json={"project_id": project_id, "file_path": "wiki/seed.md", "content": "seed"},
    )
    assert response.status_code == 200
    return project_id


def _state(client: httpx.Client, project: str) -> Any:
    return client.get(f"/export/{project}").json()


@pytest.mark.parametrize("endpoint", ["save_file", "delete_file", "batch", "restore"])
def test_a_replay_returns_the_first_answer_and_changes_nothing(
    client: httpx.Client, seeded: str, endpoint: str
) -> None:
    method, url, body = _writes(seeded)[endpoint]
    key = _key()
    first = client.request(method, url, json=body, headers=key)
    assert first.status_code == 200
    assert "Idempotent-Replayed" not in first.headers
    after_first = _state(client, seeded)

    replay = client.request(method, url, json=body, headers=key)

    assert replay.status_code == 200
    assert replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert _state(client, seeded) == after_first


def test_a_replay_after_later_writes_does_not_undo_them(client: httpx.Client, seeded: str) -> None:
    """The replayed save answers with its old version; the newer save stays current."""
    body = {"project_id": seeded, "file_path": "wiki/seed.md", "content": "first"}
    key = _key()
    first = client.post("/save_file", json=body, headers=key).json()
    newer = client.post("/save_file", json={**body, "content": "newer"}).json()

    replay = client.post("/save_file", json=body, headers=key)

    assert replay.json()["version"] == first["version"]
    current = client.get(f"/file/{seeded}/wiki/seed.md").json()
    assert (current["version"], current["content"]) == (newer["version"], "newer")


@pytest.mark.parametrize("endpoint", ["save_file", "batch", "restore"])
def test_the_same_key_with_a_different_body_is_422_and_changes_nothing(
    client: httpx.Client, seeded: str, endpoint: str
) -> None:
    method, url, body = _writes(seeded)[endpoint]
    assert body is not None
    key = _key()
    assert client.request(method, url, json=body, headers=key).status_code == 200
    before = _state(client, seeded)
    changed = {**body, "project_id": seeded}
    if endpoint == "save_file":
        changed["content"] = "something else"
    elif endpoint == "batch":
        changed["save"] = [{"file_path": "wiki/c.md", "content": "c"}]
    else:
        changed["files"] = [{"path": "wiki/other.md", "version": None}]

    response = client.request(method, url, json=changed, headers=key)

    assert response.status_code == 422
    assert response.json()["error"] == "idempotency_key_reused"
    assert _state(client, seeded) == before


def test_the_same_key_on_another_endpoint_is_422(client: httpx.Client, seeded: str) -> None:
    key = _key()
    assert client.delete(f"/file/{seeded}/wiki/x.md", headers=key).status_code == 200
    response = client.delete(f"/file/{seeded}/wiki/y.md", headers=key)
    assert response.status_code == 422
    assert response.json()["error"] == "idempotency_key_reused"


def test_keys_are_scoped_per_user(
    client: httpx.Client, make_client: ClientFactory, seeded: str, project_id: str
) -> None:
    """Another user's identical key is a different key: it neither replays nor conflicts."""
    key = _key()
    mine = client.post(
        "/save_file",
        json={"project_id": seeded, "file_path": "a.md", "content": "x"},
        headers=key,
    )
    theirs_project = f"{project_id}-theirs"
    theirs = make_client(user=OTHER).post(
        "/save_file",
        json={"project_id": theirs_project, "file_path": "a.md", "content": "x"},
        headers=key,
    )
    assert (mine.status_code, theirs.status_code) == (200, 200)
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.json()["version"] != mine.json()["version"]


def test_a_refused_request_does_not_use_up_its_key(client: httpx.Client, seeded: str) -> None:
    key = _key()
    refused = client.post(
        "/save_file",
        json={"project_id": seeded, "file_path": "../x.md", "content": "x"},
        headers=key,
    )
    assert refused.status_code == 400
    accepted = client.post(
        "/save_file",
        json={"project_id": seeded, "file_path": "x.md", "content": "x"},
        headers=key,
    )
    assert accepted.status_code == 200
    assert "Idempotent-Replayed" not in accepted.headers


def test_a_replayed_batch_creates_no_new_versions(client: httpx.Client, seeded: str) -> None:
    body = {
        "project_id": seeded,
        "save": [{"file_path": f"p{i}.md", "content": "x"} for i in range(5)],
    }
    key = _key()
    first = client.post("/batch", json=body, headers=key).json()
    for _ in range(3):
        client.post("/batch", json=body, headers=key)
    paths = [f"p{i}.md" for i in range(5)]
    current = client.post(f"/versions/{seeded}", json={"paths": paths}).json()["files"]
    assert [f["version"] for f in current] == [r["version"] for r in first["results"]]


def test_a_restore_revokes_the_key_of_a_batch_that_never_arrived(
    client: httpx.Client, seeded: str
) -> None:
    """A batch whose rollback ran before it arrived is refused (409) and writes nothing."""
    key = f"key-{uuid.uuid4().hex}"
    restore = client.post(
        "/restore",
        json={
            "project_id": seeded,
            "files": [{"path": "wiki/late.md", "version": None}],
            "revoke_idempotency_keys": [key],
        },
    )
    assert restore.status_code == 200
    before = _state(client, seeded)

    late = client.post(
        "/batch",
        json={"project_id": seeded, "save": [{"file_path": "wiki/late.md", "content": "late"}]},
        headers={"Idempotency-Key": key},
    )

    assert late.status_code == 409
    assert late.json()["error"] == "idempotency_key_revoked"
    assert _state(client, seeded) == before


def test_revoking_an_answered_key_keeps_its_replay_harmless(
    client: httpx.Client, seeded: str
) -> None:
    """Revoking a key whose request was applied keeps its answer: a replay changes nothing."""
    key = {"Idempotency-Key": f"key-{uuid.uuid4().hex}"}
    body = {"project_id": seeded, "save": [{"file_path": "wiki/new.md", "content": "new"}]}
    first = client.post("/batch", json=body, headers=key)
    assert first.status_code == 200
    undo = client.post(
        "/restore",
        json={
            "project_id": seeded,
            "files": [{"path": "wiki/new.md", "version": None}],
            "revoke_idempotency_keys": [key["Idempotency-Key"]],
        },
    )
    assert undo.status_code == 200
    before = _state(client, seeded)

    replay = client.post("/batch", json=body, headers=key)

    assert replay.status_code == 200
    assert replay.json() == first.json()
    assert _state(client, seeded) == before
    assert "wiki/new.md" not in {f["path"] for f in before["files"]}


def test_a_restore_refuses_malformed_keys_to_revoke(client: httpx.Client, seeded: str) -> None:
    """Keys to revoke follow the Idempotency-Key rules; a bad one is 422 and nothing changes."""
    before = _state(client, seeded)
    response = client.post(
        "/restore",
        json={
            "project_id": seeded,
            "files": [{"path": "wiki/seed.md", "version": None}],
            "revoke_idempotency_keys": ["has space"],
        },
    )
    assert response.status_code == 422
    assert _state(client, seeded) == before
