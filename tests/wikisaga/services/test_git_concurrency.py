"""Concurrent snapshots through the HTTP service: one project at a time, projects in
parallel, never a corrupt repository."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from git_fixtures import GitStack, bare, new_project, start_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitStack]:
    with start_stack(tmp_path_factory.mktemp("git-concurrency")) as running:
        yield running


def assert_linear_history(stack: GitStack, project: str, created: dict[str, str]) -> None:
    """main is one chain holding exactly the created commits, each tag names its commit,
    and git fsck --full finds nothing wrong."""
    repo = stack.repo(project)
    chain = bare(repo, "rev-list", "--parents", "main").splitlines()
    commits = [line.split()[0] for line in chain]
    for child, line in zip(commits, chain, strict=True):
        parents = line.split()[1:]
        assert len(parents) <= 1, f"{child} is a merge"
    for newer, older in itertools.pairwise(chain):
        assert newer.split()[1] == older.split()[0]
    assert sorted(commits) == sorted(created.values())
    for snapshot_id, commit in created.items():
        assert bare(repo, "rev-parse", f"refs/tags/{snapshot_id}") == commit
    bare(repo, "fsck", "--full", "--strict")


def test_concurrent_snapshots_of_one_project_form_one_linear_chain(stack: GitStack) -> None:
    """Twelve simultaneous snapshots of one project all succeed, as twelve commits in one
    chain with no lost update, each tagged correctly."""
    project = new_project()
    stack.save_files(project, {"a.md": "a", "b/c.md": "c"})
    ids = [f"snap-{i:02d}" for i in range(12)]
    with ThreadPoolExecutor(len(ids)) as pool:
        responses = list(pool.map(lambda s: stack.snapshot(project, f"m {s}", snapshot_id=s), ids))
    assert [r.status_code for r in responses] == [201] * len(ids)
    assert_linear_history(
        stack, project, {r.json()["snapshot_id"]: r.json()["commit"] for r in responses}
    )


def test_concurrent_repeats_of_one_snapshot_id_create_it_once(stack: GitStack) -> None:
    """Ten simultaneous requests with one snapshot id make one commit; one answers 201,
    the others 200 with the same body."""
    project = new_project()
    stack.save_files(project, {"a.md": "a"})
    with ThreadPoolExecutor(10) as pool:
        responses = list(
            pool.map(lambda _: stack.snapshot(project, "m", snapshot_id="same"), range(10))
        )
    assert sorted(r.status_code for r in responses) == [200] * 9 + [201]
    assert len({r.text for r in responses}) == 1
    assert bare(stack.repo(project), "rev-list", "--count", "main") == "1"


def test_concurrent_snapshots_of_different_projects_are_all_kept_apart(stack: GitStack) -> None:
    """Four projects snapshotted four times each, all at once: every project gets its own
    linear chain of exactly its own four commits."""
    projects = [new_project() for _ in range(4)]
    for project in projects:
        stack.save_files(project, {"name.md": project})
    jobs = [(p, f"s{i}") for p in projects for i in range(4)]
    with ThreadPoolExecutor(len(jobs)) as pool:
        responses = list(
            pool.map(lambda job: stack.snapshot(job[0], "m", snapshot_id=job[1]), jobs)
        )
    assert all(r.status_code == 201 for r in responses)
    for project in projects:
        created = {
            r.json()["snapshot_id"]: r.json()["commit"]
            for r in responses
            if r.json()["project_id"] == project
        }
        assert len(created) == 4
        assert_linear_history(stack, project, created)
        tree = bare(stack.repo(project), "show", "main:name.md")
        assert tree == project


def test_concurrent_creates_and_deletes_keep_the_repository_sound(stack: GitStack) -> None:
    """Deleting snapshots while others are created never merges, loses a surviving tag or
    corrupts the repository: surviving tags are on main, deleted ones are gone."""
    project = new_project()
    stack.save_files(project, {"a.md": "a"})
    for i in range(6):
        assert stack.snapshot(project, snapshot_id=f"old-{i}").status_code == 201

    def work(job: tuple[str, str]) -> httpx.Response:
        kind, snapshot_id = job
        if kind == "delete":
            return stack.delete(project, snapshot_id)
        return stack.snapshot(project, snapshot_id=snapshot_id)

    jobs = [("delete", f"old-{i}") for i in range(0, 6, 2)] + [
        ("create", f"new-{i}") for i in range(6)
    ]
    with ThreadPoolExecutor(len(jobs)) as pool:
        responses = list(pool.map(work, jobs))
    assert all(r.status_code in (200, 201) for r in responses)
    repo = stack.repo(project)
    tags = set(bare(repo, "tag", "-l").split())
    assert tags == {f"old-{i}" for i in (1, 3, 5)} | {f"new-{i}" for i in range(6)}
    on_main = set(bare(repo, "rev-list", "main").split())
    for tag in tags:
        assert bare(repo, "rev-parse", f"refs/tags/{tag}") in on_main
    assert bare(repo, "rev-list", "--merges", "main") == ""
    bare(repo, "fsck", "--full", "--strict")
