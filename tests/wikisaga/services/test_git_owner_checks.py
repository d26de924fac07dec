"""Who may snapshot a project, when a new snapshot's owner check is the export's own.

The filesystem service's export refuses another user's project itself, so a new snapshot
asks the registry nothing more; anything the repository already holds (a repeat, a
conflict, a deleted id) is answered only after the registry says the user owns the
project, and an empty export (how a project nobody owns exports) is looked up too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import httpx
import pytest
from git_fixtures import OTHER, OWNER, GitStack, bare, new_project, run_git, start_stack

from wikisaga.services.git.repository import (
    NotProjectOwner,
    ProjectNotFound,
    ProjectRepositories,
    SnapshotConflict,
    SnapshotDeleted,
)

# -- the repository layer, with an export that checks the owner as the filesystem's does --


class Registry:
    """Owners by project, counting how often they are looked up."""

    def __init__(self, owners: Mapping[str, str]) -> None:
        self.owners = dict(owners)
        self.lookups = 0

    def owner_of(self, project_id: str) -> str | None:
        self.lookups += 1
        return self.owners.get(project_id)


class Exports:
    """An export of each project's files that refuses anyone but its owner (and exports
    a project nobody owns as no files), as ``GET /export/{project_id}`` does; counts the
    exports that read files."""

    def __init__(self, registry: Registry, files: Mapping[str, Mapping[str, bytes]]) -> None:
        self.registry = registry
        self.files = files
        self.reads = 0

    def of(self, project_id: str, user_id: str) -> Callable[[], Mapping[str, bytes]]:
        def export() -> Mapping[str, bytes]:
            owner = self.registry.owners.get(project_id)
            if owner is not None and owner != user_id:
                raise NotProjectOwner(project_id)
            if owner is None:
                return {}
            self.reads += 1
            return self.files.get(project_id, {})

        return export


@pytest.fixture
def registry() -> Registry:
    return Registry({"p": "u", "empty": "u"})


@pytest.fixture
def exports(registry: Registry) -> Exports:
    return Exports(registry, {"p": {"a.md": b"a"}})


@pytest.fixture
def repositories(tmp_path: Path, registry: Registry) -> ProjectRepositories:
    return ProjectRepositories(tmp_path / "git", owners=registry.owner_of)


def snapshot(
    repositories: ProjectRepositories,
    exports: Exports,
    user: str,
    snapshot_id: str,
    message: str = "m",
    project: str = "p",
) -> bool:
    _, created = repositories.create_snapshot(
        project, user, snapshot_id, message, exports.of(project, user), export_checks_owner=True
    )
    return created


def test_a_new_snapshot_asks_the_registry_nothing_when_the_export_checks(
    repositories: ProjectRepositories, registry: Registry, exports: Exports
) -> None:
    """First and later new snapshots: no owner lookup, one export each."""
    assert snapshot(repositories, exports, "u", "s1")
    assert snapshot(repositories, exports, "u", "s2")
    assert (registry.lookups, exports.reads) == (0, 2)


def test_without_the_export_check_the_registry_is_asked_first(
    repositories: ProjectRepositories, registry: Registry, exports: Exports
) -> None:
    """An export that does not say it checks the owner is only called after a lookup."""
    repositories.create_snapshot("p", "u", "s1", "m", exports.of("p", "u"))
    assert (registry.lookups, exports.reads) == (1, 1)
    with pytest.raises(NotProjectOwner):
        repositories.create_snapshot("p", "x", "s2", "m", exports.of("p", "x"))
    assert (registry.lookups, exports.reads) == (2, 1)


def test_a_repeat_is_answered_only_after_the_registry_says_owner(
    repositories: ProjectRepositories, registry: Registry, exports: Exports
) -> None:
    """A repeat reads no files but asks the registry; another user's repeat, conflict or
    deleted id is NotProjectOwner, never the snapshot or its state."""
    assert snapshot(repositories, exports, "u", "s1", "one")
    repositories.delete_snapshot("p", "u", "gone")
    lookups = registry.lookups
    assert not snapshot(repositories, exports, "u", "s1", "one")
    assert registry.lookups == lookups + 1
    with pytest.raises(SnapshotConflict):
        snapshot(repositories, exports, "u", "s1", "two")
    with pytest.raises(SnapshotDeleted):
        snapshot(repositories, exports, "u", "gone")
    for snapshot_id, message in (("s1", "one"), ("s1", "two"), ("gone", "m"), ("new", "m")):
        with pytest.raises(NotProjectOwner):
            snapshot(repositories, exports, "intruder", snapshot_id, message)
    assert exports.reads == 1
    assert bare(repositories.path("p"), "tag", "-l") == "s1"


def test_an_empty_export_is_looked_up(
    repositories: ProjectRepositories, registry: Registry, exports: Exports
) -> None:
    """No files: a project nobody owns is ProjectNotFound and gets no repository; the
    owner's project with no files gets an empty snapshot."""
    with pytest.raises(ProjectNotFound):
        snapshot(repositories, exports, "u", "s1", project="nobody")
    assert not repositories.exists("nobody")
    assert snapshot(repositories, exports, "u", "s1", project="empty")
    assert registry.lookups == 2
    tree = bare(repositories.path("empty"), "rev-parse", "main^{tree}")
    assert tree == bare(repositories.path("empty"), "hash-object", "-t", "tree", "/dev/null")


# -- through the services ------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitStack]:
    with start_stack(tmp_path_factory.mktemp("git-owner-checks")) as running:
        yield running


def repository_state(repo: Path) -> tuple[str, str, str]:
    """Every ref, every reflog line and every object: what a write would change."""
    refs = bare(repo, "for-each-ref", "--format=%(refname) %(objectname)")
    logs = "\n".join(
        f"{p.relative_to(repo)}:{p.read_text()}"
        for p in sorted((repo / "logs").rglob("*"))
        if p.is_file()
    )
    objects = bare(repo, "cat-file", "--batch-all-objects", "--batch-check=%(objectname)")
    return refs, logs, objects


def test_the_filesystem_export_refuses_another_user_and_exports_nobodys_as_nothing(
    stack: GitStack,
) -> None:
    """What the git service relies on: GET /export is 403 for another user's project,
    and a project nobody owns exports 200 with no files (hence the lookup after it)."""
    project = new_project()
    stack.save_files(project, {"a.md": "a"})
    refused = httpx.get(f"{stack.fs.url}/export/{project}", headers=stack.headers(OTHER))
    assert refused.status_code == 403
    assert refused.json()["error"] == "forbidden"
    assert "a.md" not in refused.text
    nobody = httpx.get(f"{stack.fs.url}/export/{new_project()}", headers=stack.headers(OWNER))
    assert nobody.status_code == 200
    assert nobody.json()["files"] == []


def test_another_users_first_snapshot_is_403_and_creates_no_repository(stack: GitStack) -> None:
    """A project with files and no repository yet: another user's snapshot is 403 and
    there is still no repository (git cannot open one)."""
    project = new_project()
    stack.save_files(project, {"secret.md": "owner's data"})
    response = stack.snapshot(project, snapshot_id="s1", user=OTHER)
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "forbidden"
    assert "owner's data" not in response.text
    assert run_git(f"--git-dir={stack.repo(project)}", "rev-parse").returncode != 0
    assert not stack.repo(project).exists()


@pytest.mark.parametrize("snapshot_id", ["s-new", "s1", "gone"])
def test_another_users_snapshot_of_a_snapshotted_project_is_403_and_changes_nothing(
    stack: GitStack, snapshot_id: str
) -> None:
    """A project with snapshots: another user's new id, the id of an existing snapshot
    and a deleted id are all 403 (never 200, 409 or the commit), and no ref, reflog or
    object changes (git for-each-ref, the reflogs, git cat-file --batch-all-objects)."""
    project = new_project()
    stack.save_files(project, {"secret.md": "owner's data"})
    assert stack.snapshot(project, "m", snapshot_id="s1").status_code == 201
    assert stack.delete(project, "gone").status_code == 200
    repo = stack.repo(project)
    before = repository_state(repo)
    response = stack.snapshot(project, "m", snapshot_id=snapshot_id, user=OTHER)
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "forbidden"
    assert "commit" not in response.json()
    assert repository_state(repo) == before
    bare(repo, "fsck", "--full", "--strict")


def test_the_owners_project_with_every_file_deleted_snapshots_as_an_empty_tree(
    stack: GitStack,
) -> None:
    """An empty export of a project its owner emptied is a snapshot (201) of no files,
    not a 404: the lookup after an empty export tells the two apart."""
    project = new_project()
    stack.save_files(project, {"a.md": "a"})
    stack.delete_file(project, "a.md")
    response = stack.snapshot(project, snapshot_id="empty")
    assert response.status_code == 201, response.text
    repo = stack.repo(project)
    assert bare(repo, "ls-tree", "-r", "main") == ""
    assert stack.snapshot(new_project(), snapshot_id="empty").status_code == 404
