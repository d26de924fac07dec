"""A batch that replaces a project's files, and undoing a batch by its Idempotency-Key."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from service_support import OTHER, ClientFactory

from wikisaga.services.filesystem.store import Idempotency

OLD = {
    "wiki/index.md": "# Index\n\nold\n",
    "wiki/kept.md": "kept, byte for byte: \u00e9\u00e8 \U0001f600\r\n",
    "wiki/dropped.md": "a page the new generation no longer has\n",
    "notes/other.md": "outside wiki/, dropped too\n",
}
NEW = {"wiki/index.md": "# Index\n\nnew\n", "wiki/kept.md": OLD["wiki/kept.md"], "wiki/new.md": "n"}


def _key() -> str:
    return f"key-{uuid.uuid4().hex}"


def _batch(
    client: httpx.Client,
    project: str,
    files: dict[str, str],
    *,
    key: str | None = None,
    replace: bool = True,
    delete: list[str] | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {
        "project_id": project,
        "save": [{"file_path": path, "content": content} for path, content in files.items()],
    }
    if replace:
        body["replace"] = True
    if delete is not None:
        body["delete"] = delete
    return client.post("/batch", json=body, headers={"Idempotency-Key": key} if key else {})


def _undo(
    client: httpx.Client, project: str, key: str, *, own_key: str | None = None
) -> httpx.Response:
    return client.post(
        "/restore",
        json={"project_id": project, "undo_idempotency_key": key},
        headers={"Idempotency-Key": own_key} if own_key else {},
    )


def _export(client: httpx.Client, project: str) -> dict[str, tuple[str, str, str]]:
    """path -> (content, version, sha256) of every current file."""
    response = client.get(f"/export/{project}")
    assert response.status_code in (200, 404), response.text
    if response.status_code == 404:
        return {}
    return {f["path"]: (f["content"], f["version"], f["sha256"]) for f in response.json()["files"]}


def _contents(client: httpx.Client, project: str) -> dict[str, str]:
    return {path: entry[0] for path, entry in _export(client, project).items()}


@pytest.fixture
def old_wiki(client: httpx.Client, project_id: str) -> dict[str, tuple[str, str, str]]:
    """The project holding OLD; its export."""
    response = _batch(client, project_id, OLD, replace=False)
    assert response.status_code == 200, response.text
    return _export(client, project_id)


def test_replace_leaves_exactly_the_saved_files_and_reports_each_deletion(
    client: httpx.Client, project_id: str, old_wiki: dict[str, tuple[str, str, str]]
) -> None:
    response = _batch(client, project_id, NEW, key=_key())

    assert response.status_code == 200, response.text
    assert _contents(client, project_id) == NEW
    results = response.json()["results"]
    assert [(r["path"], r["action"]) for r in results] == [
        ("wiki/index.md", "saved"),
        ("wiki/kept.md", "saved"),
        ("wiki/new.md", "saved"),
        # every current file the batch did not save, by path, with the version it had
        ("notes/other.md", "deleted"),
        ("wiki/dropped.md", "deleted"),
    ]
    previous = {r["path"]: r["previous_version"] for r in results}
    assert previous == {
        "wiki/index.md": old_wiki["wiki/index.md"][1],
        "wiki/kept.md": old_wiki["wiki/kept.md"][1],
        "wiki/new.md": None,
        "notes/other.md": old_wiki["notes/other.md"][1],
        "wiki/dropped.md": old_wiki["wiki/dropped.md"][1],
    }


def test_undo_by_key_brings_the_old_wiki_back_byte_for_byte_with_its_versions(
    client: httpx.Client, project_id: str, old_wiki: dict[str, tuple[str, str, str]]
) -> None:
    key = _key()
    assert _batch(client, project_id, NEW, key=key).status_code == 200
    # The batch's answer is left unread, as when it is lost on the way back: the undo
    # needs nothing but the key.
    response = _undo(client, project_id, key)

    assert response.status_code == 200, response.text
    assert _export(client, project_id) == old_wiki
    assert {r["path"]: r["action"] for r in response.json()["results"]} == {
        "wiki/index.md": "restored",
        "wiki/kept.md": "restored",
        "wiki/new.md": "deleted",
        "notes/other.md": "restored",
        "wiki/dropped.md": "restored",
    }


def test_an_undo_repeated_changes_nothing(
    client: httpx.Client, project_id: str, old_wiki: dict[str, tuple[str, str, str]]
) -> None:
    key = _key()
    assert _batch(client, project_id, NEW, key=key).status_code == 200
    assert _undo(client, project_id, key).status_code == 200

    again = _undo(client, project_id, key)

    assert again.status_code == 200, again.text
    assert {r["action"] for r in again.json()["results"]} == {"unchanged"}
    assert _export(client, project_id) == old_wiki
    # The batch's replay still answers as the first time and changes nothing either.
    replay = _batch(client, project_id, NEW, key=key)
    assert replay.status_code == 200
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert _export(client, project_id) == old_wiki


def test_an_undo_with_its_own_key_replays_its_first_answer(
    client: httpx.Client, project_id: str, old_wiki: dict[str, tuple[str, str, str]]
) -> None:
    key, own = _key(), _key()
    assert _batch(client, project_id, NEW, key=key).status_code == 200
    first = _undo(client, project_id, key, own_key=own)
    replay = _undo(client, project_id, key, own_key=own)

    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json() == first.json()
    assert _export(client, project_id) == old_wiki


def test_undoing_a_batch_that_never_arrived_revokes_its_key(
    client: httpx.Client, project_id: str, old_wiki: dict[str, tuple[str, str, str]]
) -> None:
    key = _key()
    response = _undo(client, project_id, key)

    assert response.status_code == 200, response.text
    assert response.json()["results"] == []
    assert _export(client, project_id) == old_wiki

    late = _batch(client, project_id, NEW, key=key)

    assert late.status_code == 409
    assert late.json()["error"] == "idempotency_key_revoked"
    assert _export(client, project_id) == old_wiki
    assert _undo(client, project_id, key).json()["results"] == []  # repeated: still nothing


def test_the_undo_leaves_what_the_batch_did_not_change(
    client: httpx.Client, project_id: str, old_wiki: dict[str, tuple[str, str, str]]
) -> None:
    """A plain batch's ``absent`` deletes are not touched, and files it did not name stay."""
    key = _key()
    response = _batch(
        client,
        project_id,
        {"wiki/index.md": "changed"},
        key=key,
        replace=False,
        delete=["wiki/never.md", "wiki/dropped.md"],
    )
    assert [r["action"] for r in response.json()["results"]] == ["saved", "absent", "deleted"]

    undone = _undo(client, project_id, key)

    assert [(r["path"], r["action"]) for r in undone.json()["results"]] == [
        ("wiki/index.md", "restored"),
        ("wiki/dropped.md", "restored"),
    ]
    assert _export(client, project_id) == old_wiki


def test_another_users_undo_is_refused_and_writes_nothing(
    client: httpx.Client,
    make_client: ClientFactory,
    project_id: str,
    old_wiki: dict[str, tuple[str, str, str]],
) -> None:
    answered, unused = _key(), _key()
    assert _batch(client, project_id, NEW, key=answered).status_code == 200
    after_batch = _export(client, project_id)
    intruder = make_client(user=OTHER)

    for key in (answered, unused):
        refused = _undo(intruder, project_id, key)
        assert refused.status_code == 403
        assert refused.json()["error"] == "forbidden"
    assert _export(client, project_id) == after_batch
    # Neither key was revoked for its owner: the unused one still applies, the answered
    # one is still undone by its owner.
    assert _batch(client, "x" + project_id, {"a.md": "a"}, key=unused).status_code == 200
    assert _undo(client, project_id, answered).status_code == 200
    assert _export(client, project_id) == old_wiki


def test_a_key_of_another_projects_batch_is_refused_and_writes_nothing(
    client: httpx.Client, project_id: str, old_wiki: dict[str, tuple[str, str, str]]
) -> None:
    other = f"{project_id}-other"
    key = _key()
    assert _batch(client, other, {"wiki/a.md": "a"}, key=key).status_code == 200
    assert _batch(client, project_id, NEW).status_code == 200
    before = _export(client, project_id), _export(client, other)

    refused = _undo(client, project_id, key)

    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == "idempotency_key_not_a_batch"
    assert "another project" in refused.json()["detail"]
    assert (_export(client, project_id), _export(client, other)) == before
    # The key is still the other project's to undo.
    assert _undo(client, other, key).status_code == 200
    assert _export(client, other) == {}


@pytest.mark.parametrize("request_kind", ["save_file", "delete_file", "restore_version"])
def test_a_key_that_answered_another_request_is_refused_and_writes_nothing(
    client: httpx.Client,
    project_id: str,
    old_wiki: dict[str, tuple[str, str, str]],
    request_kind: str,
) -> None:
    key = {"Idempotency-Key": _key()}
    if request_kind == "save_file":
        body = {"project_id": project_id, "file_path": "wiki/index.md", "content": "one file"}
        assert client.post("/save_file", json=body, headers=key).status_code == 200
    elif request_kind == "delete_file":
        assert client.delete(f"/file/{project_id}/wiki/dropped.md", headers=key).status_code == (
            200
        )
    else:
        assert _batch(client, project_id, {"wiki/index.md": "v2"}, replace=False).status_code == (
            200
        )
        body = {
            "project_id": project_id,
            "files": [{"path": "wiki/index.md", "version": old_wiki["wiki/index.md"][1]}],
        }
        assert client.post("/restore", json=body, headers=key).status_code == 200
    before = _export(client, project_id)

    refused = _undo(client, project_id, key["Idempotency-Key"])

    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == "idempotency_key_not_a_batch"
    assert _export(client, project_id) == before


@pytest.mark.parametrize(
    "form",
    [
        {},  # neither
        {"files": [], "undo_idempotency_key": "KEY"},  # both
        {"files": [{"path": "wiki/index.md", "version": None}], "undo_idempotency_key": "KEY"},
    ],
)
def test_a_restore_names_exactly_one_of_files_and_an_undo_key(
    client: httpx.Client,
    project_id: str,
    old_wiki: dict[str, tuple[str, str, str]],
    form: dict[str, Any],
) -> None:
    key = _key()
    body = {name: key if value == "KEY" else value for name, value in form.items()}
    response = client.post("/restore", json={"project_id": project_id, **body})

    assert response.status_code == 400
    assert response.json()["error"] == "restore_needs_files_or_undo_key"
    assert _export(client, project_id) == old_wiki
    # The key named was not revoked by the refused request.
    assert _batch(client, project_id, NEW, key=key).status_code == 200


def test_replace_with_deletes_is_refused_and_writes_nothing(
    client: httpx.Client, project_id: str, old_wiki: dict[str, tuple[str, str, str]]
) -> None:
    key = _key()
    response = _batch(client, project_id, NEW, key=key, delete=["wiki/dropped.md"])

    assert response.status_code == 400
    assert response.json()["error"] == "replace_with_delete"
    assert _export(client, project_id) == old_wiki
    # The key was not used: the corrected request takes effect.
    assert _batch(client, project_id, NEW, key=key).status_code == 200
    assert _contents(client, project_id) == NEW


def test_a_refused_replace_writes_nothing(
    client: httpx.Client, project_id: str, old_wiki: dict[str, tuple[str, str, str]]
) -> None:
    """A clash inside the request, or a file over the limit, refuses the whole batch: no
    file is saved and none of the others is deleted."""
    clash = _batch(client, project_id, {"wiki/x.md": "file", "wiki/x.md/y.md": "below it"})
    too_big = _batch(client, project_id, {"wiki/a.md": "a", "wiki/big.md": "x" * ((1 << 20) + 1)})

    assert clash.status_code == 409
    assert clash.json()["error"] == "path_clash"
    assert too_big.status_code == 413
    assert _export(client, project_id) == old_wiki


def test_replace_may_turn_a_file_into_a_directory_and_the_undo_turns_it_back(
    client: httpx.Client, project_id: str
) -> None:
    """A stored file the batch does not save is gone after it, so a path below it is no
    clash; the undo deletes the path below before it restores the file."""
    assert _batch(client, project_id, {"wiki/topic": "a file"}).status_code == 200
    before = _export(client, project_id)
    key = _key()

    response = _batch(client, project_id, {"wiki/topic/intro.md": "now a folder"}, key=key)

    assert response.status_code == 200, response.text
    assert _contents(client, project_id) == {"wiki/topic/intro.md": "now a folder"}
    assert _undo(client, project_id, key).status_code == 200
    assert _export(client, project_id) == before


def test_replace_with_nothing_empties_the_project_and_the_undo_refills_it(
    client: httpx.Client, project_id: str, old_wiki: dict[str, tuple[str, str, str]]
) -> None:
    key = _key()
    response = _batch(client, project_id, {}, key=key)

    assert response.status_code == 200
    assert {r["action"] for r in response.json()["results"]} == {"deleted"}
    assert _export(client, project_id) == {}
    assert _undo(client, project_id, key).status_code == 200
    assert _export(client, project_id) == old_wiki


def _stored_fingerprint(storage_root: Path, key: str) -> str:
    with sqlite3.connect(storage_root / "meta.db") as conn:
        row = conn.execute("SELECT fingerprint FROM idempotency WHERE key = ?", (key,)).fetchone()
    assert row is not None
    return str(row[0])


def test_requests_without_the_new_fields_hash_as_they_did_before_them(
    client: httpx.Client, project_id: str, filesystem_data_dir: Path
) -> None:
    """A key answered before ``replace`` and ``undo_idempotency_key`` existed still replays:
    a plain batch and a restore of versions are fingerprinted over the old bodies."""
    batch_key, restore_key = _key(), _key()
    _batch(client, project_id, {"a.md": "a"}, key=batch_key, replace=False, delete=[])
    files = [{"path": "a.md", "version": None}]
    client.post(
        "/restore",
        json={"project_id": project_id, "files": files},
        headers={"Idempotency-Key": restore_key},
    )

    old_batch = {
        "project_id": project_id,
        "save": [{"file_path": "a.md", "content": "a"}],
        "delete": [],
    }
    old_restore = {"project_id": project_id, "files": files, "revoke_idempotency_keys": []}
    assert _stored_fingerprint(filesystem_data_dir, batch_key) == Idempotency.fingerprint_of(
        "POST", "/batch", old_batch
    )
    assert _stored_fingerprint(filesystem_data_dir, restore_key) == Idempotency.fingerprint_of(
        "POST", "/restore", old_restore
    )
