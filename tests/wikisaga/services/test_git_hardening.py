"""Deleted content is really gone, and crash leftovers do not outlive a restart.

A deleted snapshot's commit used to stay reachable from its tombstone ref, and protocol v2
serves any object that exists, so ``git fetch <url> <commit>`` still showed the deleted
content. Tombstones now name the empty tree and a delete prunes what no ref reaches, so
the fetch fails in every protocol version and the objects are not in the repository. A
git killed in the middle of ``fast-import`` or a ref update leaves temporary packs and
stale locks; the service removes them when it starts.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
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

from wikisaga.launcher import ServiceProcess
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


# -- start-up ----------------------------------------------------------------------------------


def _killed_fast_import(repo: Path) -> None:
    """Start ``git fast-import`` on ``repo``, feed it part of a large blob, SIGKILL it."""
    process = subprocess.Popen(
        ["git", f"--git-dir={repo}", "fast-import", "--quiet"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=git_env(),
    )
    assert process.stdin is not None
    size = 64 * 1024 * 1024
    process.stdin.write(b"blob\nmark :1\ndata %d\n" % size + b"x" * (4 * 1024 * 1024))
    process.stdin.flush()
    deadline = time.monotonic() + 10
    pack_dir = repo / "objects" / "pack"
    while not list(pack_dir.glob("tmp_pack_*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.kill()
    process.wait()
    with suppress(BrokenPipeError):
        process.stdin.close()


def test_start_up_removes_what_a_killed_git_left_and_snapshots_work_again(
    tmp_path: Path,
) -> None:
    """A fast-import killed mid-pack leaves tmp_pack_*; a killed ref update leaves
    refs/heads/main.lock, after which every snapshot fails. Restarting the service removes
    them (and other temporary and lock files older than the start, and a half-built
    repository), keeps a lock made after the start, and snapshots work again."""
    with start_stack(tmp_path) as stack:
        project = new_project()
        stack.save_files(project, {"a.md": "a"})
        assert stack.snapshot(project, snapshot_id="s1").status_code == 201
        repo = stack.repo(project)
        stack.git.stop()

        _killed_fast_import(repo)
        planted = [
            repo / "objects" / "pack" / "tmp_idx_Ab12Cd",
            repo / "objects" / "tmp_obj_Zx98Yw",
            repo / "objects" / "ab" / "tmp_obj_Qq11Rr",
            repo / "refs" / "heads" / "main.lock",
            repo / "packed-refs.lock",
            repo / "config.lock",
            repo / "refs" / "tags" / "s2.lock",
        ]
        for path in planted:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"left by a killed git\n")
        leftovers = [*planted, *(repo / "objects" / "pack").glob("tmp_pack_*")]
        assert any(p.name.startswith("tmp_pack_") for p in leftovers)
        fresh = repo / "refs" / "tags" / "future.lock"
        fresh.write_bytes(b"")
        later = time.time() + 3600
        subprocess.run(["touch", "-d", f"@{later}", str(fresh)], check=True)
        staging = stack.data_dir / "git" / f".{project}.x1y2z3.new"
        (staging / "objects").mkdir(parents=True)

        stack.git.start()

        assert [p for p in leftovers if p.exists()] == []
        assert not staging.exists()
        assert fresh.exists()
        fresh.unlink()
        assert stack.snapshot(project, snapshot_id="s2").status_code == 201, "main.lock stayed"
        assert_sound(repo)


def test_start_up_finishes_a_prune_a_crash_interrupted(tmp_path: Path) -> None:
    """A delete that died after moving its refs and before pruning left its mark: the next
    start prunes, so the deleted commit is gone without another delete."""
    with start_stack(tmp_path) as stack:
        project = new_project()
        stack.save_files(project, {"a.md": "kept"})
        kept = stack.snapshot(project, snapshot_id="keep").json()["commit"]
        stack.save_files(project, {"a.md": "deleted"})
        deleted = stack.snapshot(project, snapshot_id="todel").json()["commit"]
        repo = stack.repo(project)
        stack.git.stop()
        empty_tree = bare(repo, "hash-object", "-w", "-t", "tree", "/dev/null")
        bare(repo, "update-ref", "refs/heads/main", kept, deleted)
        bare(repo, "update-ref", "-d", "refs/tags/todel", deleted)
        bare(repo, "update-ref", "refs/wikisaga/deleted/todel", empty_tree)
        (repo / "wikisaga-prune-pending").write_bytes(b"")
        assert deleted in all_objects(repo)

        stack.git.start()

        assert deleted not in all_objects(repo)
        assert not (repo / "wikisaga-prune-pending").exists()
        assert fetch_by_id(stack, project, deleted, "2").returncode != 0
        assert_sound(repo)


def test_start_up_retires_tombstones_that_still_name_a_deleted_commit(tmp_path: Path) -> None:
    """A repository from before this rule remembers a deleted id with a ref to the deleted
    commit itself; at start that ref is pointed at the empty tree and the commit pruned,
    and the id is still refused."""
    with start_stack(tmp_path) as stack:
        project = new_project()
        stack.save_files(project, {"a.md": "kept"})
        kept = stack.snapshot(project, snapshot_id="keep").json()["commit"]
        stack.save_files(project, {"a.md": "deleted long ago"})
        deleted = stack.snapshot(project, snapshot_id="old").json()["commit"]
        repo = stack.repo(project)
        stack.git.stop()
        bare(repo, "update-ref", "refs/heads/main", kept, deleted)
        bare(repo, "update-ref", "-d", "refs/tags/old", deleted)
        bare(repo, "update-ref", "refs/wikisaga/deleted/old", deleted)

        stack.git.start()

        assert bare(repo, "cat-file", "-t", "refs/wikisaga/deleted/old") == "tree"
        assert deleted not in all_objects(repo)
        assert stack.snapshot(project, snapshot_id="old").status_code == 409
        assert_sound(repo)


# -- what the filesystem exports is checked, whoever owns the project --------------------------

BAD_EXPORTS: dict[str, dict[str, str]] = {
    "file-and-directory": {"a": "file", "a/b.md": "below it"},
    "dot-dot": {"../x.md": "escape"},
    "git-short-name": {"git~1/x.md": "checkout fails"},
    "gitmodules": {".gitmodules": "[submodule]\n\turl = --upload-pack=x\n"},
    "not-nfc": {"cafe\u0301.md": "decomposed"},
}


@contextmanager
def filesystem_exporting(files_of: dict[str, dict[str, str]]) -> Iterator[str]:
    """A stand-in filesystem service: every project is the owner's, and exports
    ``files_of[<case>]`` for a project named ``<case>--...``; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            kind, _, project = self.path.strip("/").partition("/")
            body: object
            if kind == "projects":
                body = {"project_id": project, "owner": OWNER, "created_at": "2026-01-01"}
            else:
                files = files_of[project.split("--", 1)[0]]
                entries = [
                    {
                        "path": path,
                        "content": content,
                        "version": "v1",
                        "sha256": hashlib.sha256(content.encode()).hexdigest(),
                    }
                    for path, content in files.items()
                ]
                body = {"project_id": project, "files": entries}
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_an_export_git_cannot_publish_is_refused_after_the_owner_check(tmp_path: Path) -> None:
    """The owner lookup passes, and each export the filesystem service itself would refuse
    to hold (a file-and-directory clash, an escape, a git-reserved name, a non-NFC path) is
    502 filesystem_bad_export with no repository: the export is still checked on arrival."""
    env = {
        "WIKISAGA_INTERNAL_TOKEN": TOKEN,
        "WIKISAGA_DATA_DIR": str(tmp_path / "data"),
    }
    with filesystem_exporting(BAD_EXPORTS) as url:
        env["WIKISAGA_FILESYSTEM_SERVER_URL"] = url
        with ServiceProcess("git", env=env, log_dir=tmp_path / "logs") as service:
            for case in BAD_EXPORTS:
                project = f"{case}--{new_project()}"
                response = httpx.post(
                    f"{service.url}/snapshot/{project}",
                    json={"user_id": OWNER, "message": "m"},
                    headers={"X-INTERNAL-TOKEN": TOKEN, "X-User-ID": OWNER},
                    timeout=30,
                )
                assert response.status_code == 502, (case, response.text)
                assert response.json()["error"] == "filesystem_bad_export", case
                assert not (tmp_path / "data" / "git" / f"{project}.git").exists(), case
