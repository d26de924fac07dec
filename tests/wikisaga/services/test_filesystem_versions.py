"""Versions and restore: plan a rollback before writing, undo the write exactly."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from service_support import OTHER, ClientFactory


def _save(client: httpx.Client, project: str, path: str, content: str) -> dict[str, Any]:
    response = client.post(
        "/save_file", json={"project_id": project, "file_path": path, "content": content}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _versions(client: httpx.Client, project: str, paths: list[str]) -> list[dict[str, Any]]:
    response = client.post(f"/versions/{project}", json={"paths": paths})
    assert response.status_code == 200, response.text
    files: list[dict[str, Any]] = response.json()["files"]
    return files


def _export(client: httpx.Client, project: str) -> Any:
    return client.get(f"/export/{project}").json()


def test_versions_name_the_current_version_or_null(client: httpx.Client, project_id: str) -> None:
    saved = _save(client, project_id, "a.md", "x")
    assert _versions(client, project_id, ["a.md", "b.md"]) == [
        {"path": "a.md", "version": saved["version"]},
        {"path": "b.md", "version": None},
    ]
    client.delete(f"/file/{project_id}/a.md")
    assert _versions(client, project_id, ["a.md"]) == [{"path": "a.md", "version": None}]


def test_get_and_post_versions_agree_and_keep_the_order_asked(
    client: httpx.Client, project_id: str
) -> None:
    _save(client, project_id, "z.md", "z")
    _save(client, project_id, "a.md", "a")
    paths = ["z.md", "missing.md", "a.md"]
    by_get = client.get(f"/versions/{project_id}", params={"paths": paths}).json()
    assert by_get["files"] == _versions(client, project_id, paths)
    assert [f["path"] for f in by_get["files"]] == paths


def test_a_planned_rollback_puts_back_every_file_exactly(
    client: httpx.Client, project_id: str
) -> None:
    """Ask versions, write a new generation, restore the answer: the export is identical."""
    _save(client, project_id, "wiki/index.md", "old index")
    _save(client, project_id, "wiki/keep.md", "kept page")
    _save(client, project_id, "wiki/drop.md", "page the new plan drops")
    before = _export(client, project_id)
    touched = ["wiki/index.md", "wiki/new.md", "wiki/drop.md"]
    plan = _versions(client, project_id, touched)

    response = client.post(
        "/batch",
        json={
            "project_id": project_id,
            "save": [
                {"file_path": "wiki/index.md", "content": "new index"},
                {"file_path": "wiki/new.md", "content": "brand new"},
            ],
            "delete": ["wiki/drop.md"],
        },
    )
    assert response.status_code == 200
    assert _export(client, project_id) != before

    restored = client.post("/restore", json={"project_id": project_id, "files": plan})

    assert restored.status_code == 200
    actions = {r["path"]: r["action"] for r in restored.json()["results"]}
    assert actions == {
        "wiki/index.md": "restored",
        "wiki/new.md": "deleted",
        "wiki/drop.md": "restored",
    }
    assert _export(client, project_id) == before


def test_restoring_what_is_already_restored_changes_nothing(
    client: httpx.Client, project_id: str
) -> None:
    first = _save(client, project_id, "a.md", "one")
    _save(client, project_id, "a.md", "two")
    body = {
        "project_id": project_id,
        "files": [{"path": "a.md", "version": first["version"]}, {"path": "b.md", "version": None}],
    }
    assert client.post("/restore", json=body).status_code == 200
    after_first = _export(client, project_id)

    again = client.post("/restore", json=body)

    assert again.status_code == 200
    assert [r["action"] for r in again.json()["results"]] == ["unchanged", "unchanged"]
    assert _export(client, project_id) == after_first


def test_every_earlier_version_stays_restorable(client: httpx.Client, project_id: str) -> None:
    versions = [_save(client, project_id, "a.md", f"content {i}")["version"] for i in range(4)]
    client.delete(f"/file/{project_id}/a.md")
    for i, version in enumerate(versions):
        body = {"project_id": project_id, "files": [{"path": "a.md", "version": version}]}
        assert client.post("/restore", json=body).status_code == 200
        current = client.get(f"/file/{project_id}/a.md").json()
        assert (current["version"], current["content"]) == (version, f"content {i}")


@pytest.mark.parametrize("wrong", ["unknown id", "version of another path", "other project"])
def test_restoring_to_a_version_that_is_not_of_that_path_is_404_and_changes_nothing(
    client: httpx.Client, project_id: str, wrong: str
) -> None:
    """A bad entry refuses the whole restore, including the good entry beside it."""
    a = _save(client, project_id, "a.md", "a1")
    _save(client, project_id, "a.md", "a2")
    b = _save(client, project_id, "b.md", "b")
    elsewhere = _save(client, f"{project_id}-2", "c.md", "x")
    version = {
        "unknown id": "v0000000000000000deadbeef",
        "version of another path": b["version"],
        "other project": elsewhere["version"],
    }[wrong]
    before = _export(client, project_id)

    response = client.post(
        "/restore",
        json={
            "project_id": project_id,
            "files": [
                {"path": "a.md", "version": a["version"]},
                {"path": "c.md", "version": version},
            ],
        },
    )

    assert response.status_code == 404
    assert response.json()["error"] == "version_not_found"
    assert _export(client, project_id) == before


def test_a_restore_naming_a_path_twice_is_400(client: httpx.Client, project_id: str) -> None:
    response = client.post(
        "/restore",
        json={
            "project_id": project_id,
            "files": [{"path": "a.md", "version": None}, {"path": "a.md", "version": None}],
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] == "duplicate_path"


def test_another_user_cannot_restore_into_a_project(
    client: httpx.Client, make_client: ClientFactory, project_id: str
) -> None:
    saved = _save(client, project_id, "a.md", "x")
    response = make_client(user=OTHER).post(
        "/restore",
        json={"project_id": project_id, "files": [{"path": "a.md", "version": None}]},
    )
    assert response.status_code == 403
    assert client.get(f"/file/{project_id}/a.md").json()["version"] == saved["version"]


def test_a_batch_with_one_bad_entry_writes_nothing(client: httpx.Client, project_id: str) -> None:
    _save(client, project_id, "existing.md", "old")
    before = _export(client, project_id)
    for bad in (
        {"save": [{"file_path": "ok.md", "content": "x"}, {"file_path": "../x", "content": "x"}]},
        {"save": [{"file_path": "ok.md", "content": "x"}], "delete": ["existing.md", "/abs"]},
        {
            "save": [
                {"file_path": "existing.md", "content": "new"},
                {"file_path": "big.md", "content": "x" * (1024 * 1024 + 1)},
            ]
        },
    ):
        response = client.post("/batch", json={"project_id": project_id, **bad})
        assert 400 <= response.status_code < 500
    assert _export(client, project_id) == before


def test_versions_for_too_many_paths_is_413(client: httpx.Client, project_id: str) -> None:
    response = client.post(
        f"/versions/{project_id}", json={"paths": [f"p{i}.md" for i in range(5001)]}
    )
    assert response.status_code == 413
