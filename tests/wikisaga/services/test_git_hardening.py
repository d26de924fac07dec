"""Deleted content is really gone, and crash leftovers do not outlive a restart.

A deleted snapshot's commit used to stay reachable from its tombstone ref, and protocol v2
serves any object that exists, so ``git fetch <url> <commit>`` still showed the deleted
content. Tombstones now name the empty tree and a delete prunes what no ref reaches, so
the fetch fails in every protocol version and the objects are not in the repository. A
git killed in the middle of ``fast-import`` or a ref update leaves temporary packs and
stale locks; the service removes them when it starts.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from git_fixtures import (
    OWNER,
    TOKEN,
    GitStack,
    bare,
    git_env,
    new_project,
    run_git,
    start_stack,
    tree_files,
)

from wikisaga.services.git.repository import ProjectRepositories


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitStack]:
    with start_stack(tmp_path_factory.mktemp("git-hardening")) as running:
        yield running


def fetch_by_id(
    stack: GitStack, project: str, commit: str, protocol: str
) -> subprocess.CompletedProcess[str]:
    """``git fetch <url> <commit>`` into a new empty repository, as the owner."""
    target = stack.work_dir / f"fetch-{time.monotonic_ns()}"
    run_git("init", "-q", target)
    return run_git(
        "-C",
        target,
        "-c",
        f"protocol.version={protocol}",
        "-c",
        f"http.extraHeader=X-INTERNAL-TOKEN: {TOKEN}",
        "-c",
        f"http.extraHeader=X-User-ID: {OWNER}",
        "fetch",
        "--quiet",
        f"{stack.url}/git/{project}.git",
        commit,
    )


def all_objects(repo: Path) -> set[str]:
    """Every object id the bare repository holds, reachable or not."""
    listed = bare(repo, "cat-file", "--batch-all-objects", "--batch-check=%(objectname)")
    return set(listed.split())


def blob_id(content: str) -> str:
    done = subprocess.run(
        ["git", "hash-object", "--stdin"],
        input=content.encode(),
        capture_output=True,
        env=git_env(),
        check=True,
    )
    return done.stdout.decode().strip()


def assert_sound(repo: Path) -> None:
    """git fsck --full --strict finds nothing wrong."""
    bare(repo, "fsck", "--full", "--strict", "--no-dangling")


# -- deleted snapshots -----------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["0", "2"])
def test_a_deleted_head_snapshot_cannot_be_fetched_by_its_commit_id(
    stack: GitStack, protocol: str
) -> None:
    """After DELETE /snapshot/{p}/todel, fetching its commit by id fails over protocol v0
    and v2, and neither the commit nor the deleted content is left in the repository;
    the remaining snapshot still clones and the repository passes fsck --strict."""
    project = new_project()
    secret = f"deleted content {protocol} {time.monotonic_ns()}\n"
    stack.save_files(project, {"a.md": "kept\n"})
    kept = stack.snapshot(project, snapshot_id="keep").json()["commit"]
    stack.save_files(project, {"a.md": secret})
    deleted = stack.snapshot(project, snapshot_id="todel").json()["commit"]
    assert fetch_by_id(stack, project, deleted, "2").returncode == 0  # reachable: served

    assert stack.delete(project, "todel").json() == {"status": "success"}

    fetched = fetch_by_id(stack, project, deleted, protocol)
    assert fetched.returncode != 0, fetched.stderr
    repo = stack.repo(project)
    objects = all_objects(repo)
    assert deleted not in objects
    assert blob_id(secret) not in objects
    assert bare(repo, "cat-file", "-t", "refs/wikisaga/deleted/todel") == "tree"
    assert stack.snapshot(project, snapshot_id="todel").json()["error"] == "snapshot_deleted"
    assert_sound(repo)
    clone = stack.clone(project, protocol=protocol)
    assert tree_files(clone) == {"a.md": b"kept\n"}
    assert bare(clone / ".git", "rev-parse", "HEAD") == kept


def test_deleting_the_only_snapshot_leaves_no_trace_of_its_content(stack: GitStack) -> None:
    """The root commit's snapshot deleted: main is gone, so is every object of it, and a
    fetch by id fails; the id stays refused."""
    project = new_project()
    secret = f"only snapshot {time.monotonic_ns()}\n"
    stack.save_files(project, {"wiki/page.md": secret})
    commit = stack.snapshot(project, snapshot_id="only").json()["commit"]
    assert stack.delete(project, "only").status_code == 200
    repo = stack.repo(project)
    objects = all_objects(repo)
    assert commit not in objects
    assert blob_id(secret) not in objects
    for protocol in ("0", "2"):
        assert fetch_by_id(stack, project, commit, protocol).returncode != 0
    assert_sound(repo)
    assert stack.snapshot(project, snapshot_id="only").status_code == 409


def test_a_repository_config_cannot_open_unadvertised_objects(stack: GitStack) -> None:
    """upload-pack runs with its want rules on the command line: a repository config that
    allows any object in a want does not let protocol v0 fetch an unadvertised one."""
    project = new_project()
    stack.save_files(project, {"a.md": "a"})
    stack.snapshot(project, snapshot_id="s1")
    repo = stack.repo(project)
    tree = bare(repo, "rev-parse", "main^{tree}")
    identity = ("-c", "user.name=someone", "-c", "user.email=someone@localhost")
    dangling = bare(repo, *identity, "commit-tree", "-m", "never published", tree)
    bare(repo, "config", "uploadpack.allowAnySHA1InWant", "true")
    bare(repo, "config", "--unset-all", "uploadpack.hideRefs")
    try:
        assert fetch_by_id(stack, project, dangling, "0").returncode != 0
        refs = bare(stack.clone(project) / ".git", "for-each-ref", "--format=%(refname)")
        assert "refs/wikisaga" not in refs
    finally:
        bare(repo, "config", "--unset", "uploadpack.allowAnySHA1InWant")
        bare(repo, "config", "uploadpack.hideRefs", "refs/wikisaga")


def test_snapshots_and_deletes_from_separate_writers_keep_the_repository_sound(
    tmp_path: Path,
) -> None:
    """Two writers sharing no in-process lock (as two service processes would): one keeps
    snapshotting, the other keeps deleting the head, which prunes. Every surviving tag
    names a commit whose objects are all there, and fsck --strict passes."""
    ProjectRepositories(tmp_path).create_snapshot("p", "u", "base", "m", {"a": b"base"})
    stop = threading.Event()
    errors: list[BaseException] = []

    def create() -> None:
        writer = ProjectRepositories(tmp_path)
        for i in range(12):
            try:
                writer.create_snapshot("p", "u", f"s{i}", "m", {"a": b"%d" % i, "b": b"x" * i})
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
        stop.set()

    def delete() -> None:
        writer = ProjectRepositories(tmp_path)
        while not stop.is_set():
            try:
                head = writer.list_snapshots("p", "u")[0].snapshot_id
                if head != "base":
                    writer.delete_snapshot("p", "u", head)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    threads = [threading.Thread(target=create), threading.Thread(target=delete)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    repo = tmp_path / "p.git"
    assert_sound(repo)
    for tag in bare(repo, "tag", "-l").split():
        bare(repo, "ls-tree", "-r", tag)
