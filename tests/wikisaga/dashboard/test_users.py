"""The users store and ``wikisaga users``: keys shown once, stored hashed, checked in
constant time; removed users cannot sign in."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wikisaga.cli.app import app
from wikisaga.errors import InvalidUserId
from wikisaga.users import KEY_PREFIX, UserError, UserStore, hash_secret


def test_a_key_signs_in_its_user_and_only_its_hash_is_stored(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "users.db")
    key = store.add("alice")
    other = store.add("bob")
    assert key.startswith(KEY_PREFIX)
    assert key != other
    found = store.verify(key)
    assert found is not None
    assert found.user_id == "alice"
    assert store.verify(other).user_id == "bob"  # type: ignore[union-attr]
    raw = (tmp_path / "users.db").read_bytes()
    secret = key[len(KEY_PREFIX) + 9 :]  # after "wsk_<8 hex>_"; the secret may hold "_"
    assert secret.encode() not in raw
    with sqlite3.connect(tmp_path / "users.db") as db:
        salt, stored = db.execute(
            "SELECT salt, key_hash FROM users WHERE user_id = 'alice'"
        ).fetchone()
        salt_bob = db.execute("SELECT salt FROM users WHERE user_id = 'bob'").fetchone()[0]
    assert stored == hash_secret(secret, salt)
    assert salt != salt_bob  # a salt of each key's own


@pytest.mark.parametrize(
    "wrong",
    ["", "wsk_", "wsk_00000000_x", "not-a-key", "x" * 500],
)
def test_wrong_keys_sign_in_nobody(tmp_path: Path, wrong: str) -> None:
    store = UserStore(tmp_path / "users.db")
    key = store.add("alice")
    assert store.verify(wrong) is None
    key_id = key.split("_")[1]
    assert store.verify(f"{KEY_PREFIX}{key_id}_wrongsecret") is None
    assert store.verify(key[:-1]) is None


def test_remove_ends_the_key_and_add_refuses_a_duplicate(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "users.db")
    key = store.add("alice")
    with pytest.raises(UserError, match="exists"):
        store.add("alice")
    store.remove("alice")
    assert store.verify(key) is None
    assert store.key_id_of("alice") is None
    with pytest.raises(UserError, match="no user"):
        store.remove("alice")
    fresh = store.add("alice")
    assert store.verify(fresh) is not None
    assert store.verify(key) is None


def test_bad_user_ids_are_refused_and_change_nothing(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "users.db")
    with pytest.raises(InvalidUserId):
        store.add(" alice ")
    assert store.list_users() == []


def test_projects_are_claimed_once(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "users.db")
    assert store.claim_project("handbook", "alice") == "alice"
    assert store.claim_project("handbook", "bob") == "alice"
    assert store.project_user("handbook") == "alice"
    assert store.projects_of("alice") == ["handbook"]
    assert store.projects_of("bob") == []


def test_the_users_command_adds_lists_and_removes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WIKISAGA_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    added = runner.invoke(app, ["users", "add", "carol"])
    assert added.exit_code == 0, added.output
    key = added.stdout.strip().splitlines()[0]
    assert key.startswith(KEY_PREFIX)
    assert UserStore.in_data_dir(tmp_path).verify(key) is not None
    listed = runner.invoke(app, ["users", "list", "--json"])
    assert '"carol"' in listed.stdout
    assert key not in listed.stdout
    again = runner.invoke(app, ["users", "add", "carol"])
    assert again.exit_code != 0
    removed = runner.invoke(app, ["users", "remove", "carol"])
    assert removed.exit_code == 0
    assert UserStore.in_data_dir(tmp_path).verify(key) is None
