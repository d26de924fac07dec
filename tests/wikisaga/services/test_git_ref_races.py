"""The in-process ref transaction racing real git on one repository: git update-ref
processes, other processes of ours changing refs directly (no writer lock), and snapshots
through the repository layer in another process, all at once. Nothing is lost: every
write ends tagged on one linear main, and main's reflog is one unbroken chain."""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
from pathlib import Path

from git_fixtures import bare, git_env

from wikisaga.services.git.repository import ProjectRepositories

ROUNDS = 15
IDENTITY = ("-c", "user.name=racer", "-c", "user.email=racer@localhost")

# Another process of ours: the same transaction as a snapshot's, without the writer lock.
OUR_WRITER = """
import random
import sys
import time
from pathlib import Path
from wikisaga.services.git import refs
from wikisaga.services.git.objects import commit_object, write_loose
from wikisaga.services.git.plumbing import GIT_IDENTITY

repo, prefix, rounds, tree = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
print("ready", flush=True)
sys.stdin.readline()
for i in range(rounds):
    while True:
        head = refs.read(repo, ["refs/heads/main"])["refs/heads/main"]
        commit = commit_object(tree, head, f"{prefix}-{i}", GIT_IDENTITY, 1_800_000_000 + i)
        write_loose(repo, [commit])
        time.sleep(random.uniform(0, 0.004))  # as long as a snapshot's pack may take
        if refs.update(
            repo,
            [
                refs.RefUpdate("refs/heads/main", head, commit.oid),
                refs.RefUpdate(f"refs/tags/{prefix}-{i}", None, commit.oid),
                refs.RefUpdate(f"refs/wikisaga/deleted/{prefix}-{i}", None),
            ],
            GIT_IDENTITY,
        ):
            break
"""

# Snapshots through the repository layer (writer lock, compare-and-swap, retries).
OUR_SNAPSHOTS = """
import sys
from pathlib import Path
from wikisaga.services.git.repository import ProjectRepositories

root, prefix, rounds = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
repositories = ProjectRepositories(root)
print("ready", flush=True)
sys.stdin.readline()
for i in range(rounds):
    _, created = repositories.create_snapshot("p", "u", f"{prefix}-{i}", "m", {"a.md": b"%d" % i})
    assert created
"""


def git_writer(repo: Path, prefix: str, tree: str, errors: list[str]) -> None:
    """Commit and tag with real git processes: rev-parse, commit-tree, update-ref --stdin
    (compare-and-swap on main), retried until the update-ref goes through."""
    env = git_env()

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", f"--git-dir={repo}", *IDENTITY, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    try:
        for i in range(ROUNDS):
            while True:
                head = run("rev-parse", "refs/heads/main").stdout.strip()
                made = run("commit-tree", tree, "-p", head, "-m", f"{prefix}-{i}")
                assert made.returncode == 0, made.stderr
                commit = made.stdout.strip()
                script = (
                    f"update refs/heads/main {commit} {head}\n"
                    f"create refs/tags/{prefix}-{i} {commit}\n"
                )
                if run("update-ref", "--stdin", stdin=script).returncode == 0:
                    break
    except (AssertionError, OSError, subprocess.SubprocessError) as exc:  # the test reports it
        errors.append(repr(exc))


def test_our_transaction_and_git_update_ref_never_lose_an_update(tmp_path: Path) -> None:
    """Two git writers (update-ref processes), two processes of ours changing refs
    directly and one making snapshots, 15 writes each, at once: every write's tag names a
    commit on main, main is linear and holds exactly those commits after the first, its
    reflog is one chain (each line's old value the previous line's new), no lock is
    left, and git fsck --strict passes."""
    root = tmp_path / "git"
    first, _ = ProjectRepositories(root).create_snapshot("p", "u", "first", "m", {"a": b""})
    repo = root / "p.git"
    tree = bare(repo, "hash-object", "-w", "-t", "tree", "/dev/null")
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", OUR_WRITER, str(repo), prefix, str(ROUNDS), tree],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for prefix in ("ours-a", "ours-b")
    ]
    processes.append(
        subprocess.Popen(
            [sys.executable, "-c", OUR_SNAPSHOTS, str(root), "snap", str(ROUNDS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
    )
    errors: list[str] = []
    threads = [
        threading.Thread(target=git_writer, args=(repo, prefix, tree, errors))
        for prefix in ("git-a", "git-b")
    ]
    for process in processes:  # all imported and waiting: then all start at once
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.close()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [process.wait(timeout=120) for process in processes] == [0, 0, 0]
    for process in processes:
        assert process.stdout is not None
        process.stdout.close()
    assert errors == []

    prefixes = ("ours-a", "ours-b", "snap", "git-a", "git-b")
    written = {f"{p}-{i}" for p in prefixes for i in range(ROUNDS)}
    tags = dict(
        line.split()
        for line in bare(
            repo, "for-each-ref", "--format=%(refname:lstrip=2) %(objectname)", "refs/tags/"
        ).splitlines()
    )
    assert set(tags) == written | {"first"}
    chain = [line.split() for line in bare(repo, "rev-list", "--parents", "main").splitlines()]
    assert all(len(parents) <= 1 for _, *parents in chain)
    assert [c for c, *_ in chain][-1] == first.commit
    for (_, *parents), (older, *_) in itertools.pairwise(chain):
        assert parents == [older]
    assert sorted(c for c, *_ in chain) == sorted(tags.values())

    reflog = (repo / "logs" / "refs" / "heads" / "main").read_text().splitlines()
    assert len(reflog) == len(chain)
    moves = [line.split()[:2] for line in reflog]
    assert moves[0][0] == "0" * 40
    for (_, new), (old, _) in itertools.pairwise(moves):
        assert old == new
    assert moves[-1][1] == chain[0][0]
    assert list(repo.rglob("*.lock")) == []
    bare(repo, "fsck", "--full", "--strict")
