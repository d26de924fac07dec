"""The invariants of DESIGN §9, checked by reading the real stores.

Files are read through the filesystem service (bypassing any fault proxy); history is read
from the bare repository with the git CLI. Each check returns a list of violations, empty
when the invariant holds, so a chaos run can report every violation rather than the first.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from distributed_saga import IN_FLIGHT_STATES, SagaRecord, SagaState
from wikisaga.clients import FilesystemClient, GitClient, ServiceRejected

__all__ = [
    "WikiState",
    "check_committed",
    "check_replays",
    "check_settled",
    "check_unchanged",
    "read_state",
]


@dataclass(frozen=True, slots=True)
class WikiState:
    """What a project looks like in the stores at one moment."""

    files: Mapping[str, str]
    """Current files, path → content, as the filesystem service serves them."""
    refs: Mapping[str, str]
    """The history: every branch and tag of the bare repository → commit. (The service's
    own bookkeeping refs, such as tombstones of deleted snapshots, are not history.)"""


def _git(repository: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "--git-dir", str(repository), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def read_state(
    filesystem: FilesystemClient, repository: Path, project_id: str, user_id: str
) -> WikiState:
    """Read the project's files (through the service) and refs (with the git CLI)."""
    try:
        exported = filesystem.export(project_id, user_id=user_id)
    except ServiceRejected as exc:
        if exc.status != 404:
            raise
        exported = []
    files = {entry["path"]: entry["content"] for entry in exported}
    refs: dict[str, str] = {}
    if repository.exists():
        listing = _git(
            repository,
            "for-each-ref",
            "--format=%(refname) %(objectname) %(*objectname)",
            "refs/heads",
            "refs/tags",
        )
        for line in listing.splitlines():
            name, sha, peeled = [*line.split(" "), ""][:3]
            refs[name] = peeled or sha  # an annotated tag is compared by its commit
    return WikiState(files=files, refs=refs)


def check_settled(record: SagaRecord) -> list[str]:
    """Invariant 1: no saga is left pending, executing or compensating; and invariant 4's
    first half: a failed saga lists what remains to undo."""
    problems = []
    if record.state in IN_FLIGHT_STATES:
        problems.append(f"saga {record.saga_id} left {record.state.value}")
    if record.state is SagaState.FAILED and not record.remaining_compensations:
        problems.append(f"saga {record.saga_id} is failed but lists nothing left to undo")
    return problems


def check_committed(
    state: WikiState,
    repository: Path,
    generated: Mapping[str, str],
    snapshot_id: str,
) -> list[str]:
    """Invariant 2: a committed generation has its files, and a snapshot whose tree
    equals those files, at the head of ``main``."""
    problems = []
    if dict(state.files) != dict(generated):
        missing = sorted(set(generated) - set(state.files))
        extra = sorted(set(state.files) - set(generated))
        changed = sorted(
            p for p in generated if p in state.files and state.files[p] != generated[p]
        )
        problems.append(
            f"files differ from the generation: missing {missing[:5]}, extra {extra[:5]}, "
            f"changed {changed[:5]}"
        )
    tag = f"refs/tags/{snapshot_id}"
    if tag not in state.refs:
        problems.append(f"snapshot tag {snapshot_id} is missing")
        return problems
    if state.refs.get("refs/heads/main") != state.refs[tag]:
        problems.append(f"main does not point at snapshot {snapshot_id}")
    tree = _tree_files(repository, state.refs[tag])
    if tree != dict(state.files):
        problems.append(
            f"snapshot {snapshot_id}'s tree differs from the files "
            f"({len(tree)} in the tree, {len(state.files)} files)"
        )
    fsck = subprocess.run(
        ["git", "--git-dir", str(repository), "fsck", "--full", "--no-progress"],
        capture_output=True,
        text=True,
        check=False,
    )
    if fsck.returncode != 0:
        problems.append(f"git fsck failed: {fsck.stderr.strip()[:300]}")
    return problems


def check_unchanged(before: WikiState, after: WikiState) -> list[str]:
    """Invariant 3: the previous wiki files and history are exactly as before."""
    problems = []
    if dict(before.files) != dict(after.files):
        changed = sorted(
            path
            for path in set(before.files) | set(after.files)
            if before.files.get(path) != after.files.get(path)
        )
        problems.append(f"files changed by a rolled-back generation: {changed[:8]}")
    if dict(before.refs) != dict(after.refs):
        changed = sorted(
            ref
            for ref in set(before.refs) | set(after.refs)
            if before.refs.get(ref) != after.refs.get(ref)
        )
        problems.append(f"git refs changed by a rolled-back generation: {changed[:8]}")
    return problems


def check_replays(
    *,
    filesystem: FilesystemClient,
    git: GitClient,
    repository: Path,
    project_id: str,
    user_id: str,
    saga_id: str,
    snapshot_id: str,
    message: str,
    generated: Mapping[str, str],
    dropped: list[str],
    started: Collection[int],
) -> list[str]:
    """Invariant 5: replaying the request of each step that may have sent one (``started``:
    step indexes whose intent the log holds, less the rejected ones, which provably sent
    nothing) with its idempotency key changes nothing — the same
    answer, or a refusal — whatever the outcome of the saga. This is also what a request
    delayed in the network looks like when it finally arrives."""
    before = read_state(filesystem, repository, project_id, user_id)
    problems: list[str] = []
    # A refused replay (4xx) changes nothing, which is the point; so is the same answer.
    if 0 in started:
        with contextlib.suppress(ServiceRejected):
            filesystem.batch(
                project_id,
                save=sorted(generated.items()),
                delete=dropped,
                user_id=user_id,
                idempotency_key=f"{saga_id}:files",
            )
    if 1 in started:
        with contextlib.suppress(ServiceRejected):
            git.create_snapshot(
                project_id, user_id=user_id, message=message, snapshot_id=snapshot_id
            )
    after = read_state(filesystem, repository, project_id, user_id)
    for problem in check_unchanged(before, after):
        problems.append(f"replay changed the stores: {problem}")
    return problems


def _tree_files(repository: Path, commit: str) -> dict[str, str]:
    listing = _git(repository, "ls-tree", "-r", "-z", commit)
    files = {}
    for entry in listing.split("\0"):
        if not entry:
            continue
        meta, _, path = entry.partition("\t")
        blob = meta.split()[2]
        files[path] = _git(repository, "cat-file", "blob", blob)
    return files
