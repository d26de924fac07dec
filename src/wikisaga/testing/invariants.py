"""The invariants of DESIGN §9, checked by reading the real stores.

Files are read through the filesystem service (bypassing any fault proxy); history is read
from the bare repository with the git CLI; the graph through its
:class:`~wikisaga.graph.GraphStore` (bypassing any fault, too). Each check returns a list
of violations, empty when the invariant holds, so a chaos run can report every violation
rather than the first.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from distributed_saga import IN_FLIGHT_STATES, SagaRecord, SagaState
from wikisaga.clients import FilesystemClient, GitClient, ServiceRejected
from wikisaga.graph import Entity, GenerationState, GraphStore, Relation

__all__ = [
    "GraphState",
    "WikiState",
    "check_committed",
    "check_graph_committed",
    "check_graph_unchanged",
    "check_replays",
    "check_settled",
    "check_unchanged",
    "read_graph",
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


@dataclass(frozen=True, slots=True)
class GraphState:
    """What a project's graph looks like at one moment."""

    current: str | None
    """The current generation (what readers see), or ``None``."""
    generations: Mapping[str, GenerationState]
    """Every generation the store holds for the project → its state."""
    entities: tuple[Entity, ...]
    """The current generation's entities, as a reader gets them."""
    relations: tuple[Relation, ...]
    """The current generation's relations, as a reader gets them."""


def read_graph(store: GraphStore, project_id: str) -> GraphState:
    """Read the project's generations, and what a reader of it sees (raises the store's
    :class:`~wikisaga.errors.GraphError` if the graph cannot be read)."""
    return GraphState(
        current=store.current_generation(project_id),
        generations={info.generation: info.state for info in store.generations(project_id)},
        entities=tuple(store.entities(project_id)),
        relations=tuple(store.relations(project_id)),
    )


def _leftovers(state: GraphState, allowed: Collection[str]) -> list[str]:
    """Generations that are neither current nor in ``allowed``, with their state."""
    return sorted(
        f"{generation} ({kind.value})"
        for generation, kind in state.generations.items()
        if generation not in allowed and generation != state.current
    )


def check_graph_committed(
    state: GraphState,
    generation: str,
    entities: Sequence[Entity],
    relations: Sequence[Relation],
) -> list[str]:
    """The graph half of invariant 2: the committed generation is current, holds exactly
    what was staged, and no other generation is left (the previous one was pruned after
    the commit; nothing is left staged)."""
    problems = []
    if state.current != generation:
        problems.append(f"graph generation {generation} is not current (current: {state.current})")
    left = _leftovers(state, allowed=())
    if left:
        problems.append(f"graph generations left after the commit: {left[:5]}")
    if list(state.entities) != sorted(entities, key=lambda entity: entity.key):
        problems.append(
            f"the current graph's entities differ from the generation's "
            f"({len(state.entities)} read, {len(entities)} staged)"
        )
    if list(state.relations) != sorted(relations, key=lambda relation: relation.triple):
        problems.append(
            f"the current graph's relations differ from the generation's "
            f"({len(state.relations)} read, {len(relations)} staged)"
        )
    return problems


def check_graph_unchanged(before: GraphState, after: GraphState, generation: str) -> list[str]:
    """The graph half of invariant 3: after a rollback the previous generation is current
    again, with what readers saw before; the rolled-back ``generation`` is gone, and no
    generation is left staged."""
    problems = []
    if after.current != before.current:
        problems.append(
            f"graph's current generation changed by a rolled-back generation: "
            f"{before.current} -> {after.current}"
        )
    if generation in after.generations:
        problems.append(
            f"rolled-back graph generation {generation} is still there "
            f"({after.generations[generation].value})"
        )
    left = _leftovers(after, allowed={*before.generations, generation})  # named above
    if left:
        problems.append(f"graph generations left by a rolled-back generation: {left[:5]}")
    if (after.entities, after.relations) != (before.entities, before.relations):
        problems.append(
            f"what readers of the graph see changed: {len(before.entities)} entities and "
            f"{len(before.relations)} relations before, {len(after.entities)} and "
            f"{len(after.relations)} after"
        )
    return problems


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
                replace=True,
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
