"""Every domain error reaches a caller as the HTTP status and code its service's table
names, and anything unknown is a 500 that says nothing of its cause."""

from __future__ import annotations

import inspect

import pytest

import wikisaga.errors
from wikisaga.errors import (
    ConfigError,
    CorruptStorage,
    IdempotencyKeyReused,
    IdempotencyKeyRevoked,
    InvalidFilePath,
    InvalidProjectId,
    InvalidSnapshotId,
    InvalidUserId,
    ItemNotFound,
    NotProjectOwner,
    PathClash,
    StoreError,
    TooLarge,
    UnsafeStorage,
    WikisagaError,
)
from wikisaga.services._common.errors import Translations, to_service_error
from wikisaga.services.filesystem.deps import ERRORS as FILESYSTEM_ERRORS
from wikisaga.services.git import errors as repository
from wikisaga.services.git.deps import ERRORS as GIT_ERRORS
from wikisaga.services.git.source import (
    FilesystemBadExport,
    FilesystemTimeout,
    FilesystemUnavailable,
)

FILESYSTEM_CASES: list[tuple[Exception, int, str]] = [
    (InvalidProjectId("bad"), 400, "invalid_path"),
    (InvalidFilePath("bad"), 400, "invalid_path"),
    (InvalidUserId("bad"), 400, "invalid_user_id"),
    (NotProjectOwner("theirs"), 403, "forbidden"),
    (ItemNotFound("gone"), 404, "not_found"),
    (ItemNotFound("no such version", code="version_not_found"), 404, "version_not_found"),
    (IdempotencyKeyRevoked("rolled back"), 409, "idempotency_key_revoked"),
    (PathClash("a is a file, a/b wants it a directory"), 409, "path_clash"),
    (UnsafeStorage("a symlink"), 409, "unsafe_storage"),
    (TooLarge("big"), 413, "payload_too_large"),
    (IdempotencyKeyReused("other request"), 422, "idempotency_key_reused"),
    (CorruptStorage("blob missing"), 500, "corrupt_storage"),
]

GIT_CASES: list[tuple[Exception, int, str]] = [
    (InvalidProjectId("bad"), 400, "invalid_path"),
    (InvalidSnapshotId("bad"), 400, "invalid_snapshot_id"),
    (repository.NotProjectOwner("p"), 403, "forbidden"),
    (NotProjectOwner("the filesystem says no"), 403, "forbidden"),
    (repository.ProjectNotFound("p"), 404, "project_not_found"),
    (repository.SnapshotNotFound("p", "s"), 404, "snapshot_not_found"),
    (repository.SnapshotConflict("p", "s"), 409, "snapshot_conflict"),
    (repository.SnapshotDeleted("p", "s"), 409, "snapshot_deleted"),
    (repository.InvalidSnapshotFiles("a and a/b"), 502, "filesystem_bad_export"),
    (FilesystemBadExport("not json"), 502, "filesystem_bad_export"),
    (FilesystemUnavailable("refused"), 502, "filesystem_unavailable"),
    (FilesystemTimeout("slow"), 504, "filesystem_timeout"),
    (repository.GitCommandFailed(["git", "x"], "boom"), 500, "git_failed"),
]


def _check(table: Translations, error: Exception, status: int, code: str) -> None:
    answer = to_service_error(error, table)
    assert (answer.status_code, answer.error_code) == (status, code)
    assert answer.detail == str(error) or str(error) in answer.detail


@pytest.mark.parametrize(("error", "status", "code"), FILESYSTEM_CASES, ids=repr)
def test_filesystem_errors_map_through_its_table(error: Exception, status: int, code: str) -> None:
    _check(FILESYSTEM_ERRORS, error, status, code)


@pytest.mark.parametrize(("error", "status", "code"), GIT_CASES, ids=repr)
def test_git_errors_map_through_its_table(error: Exception, status: int, code: str) -> None:
    _check(GIT_ERRORS, error, status, code)


@pytest.mark.parametrize("error", [RuntimeError("secret path /x"), ConfigError("nope")])
def test_anything_unknown_is_a_500_that_keeps_its_cause_to_itself(error: Exception) -> None:
    answer = to_service_error(error, GIT_ERRORS)
    assert (answer.status_code, answer.error_code, answer.detail) == (
        500,
        "internal_error",
        "internal error",
    )


def test_every_error_of_the_application_has_one_root() -> None:
    """Each class in ``wikisaga.errors`` (and the git repository's) is a WikisagaError;
    store errors are StoreErrors, so a service's table can fall back on them."""
    classes = [
        value
        for module in (wikisaga.errors, repository)
        for value in vars(module).values()
        if inspect.isclass(value)
        and issubclass(value, Exception)
        and value.__module__ == module.__name__
    ]
    assert len(classes) > 20
    for cls in classes:
        assert issubclass(cls, WikisagaError), cls
    assert issubclass(repository.GitRepositoryError, StoreError)
