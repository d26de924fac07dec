"""Snapshots as commits and tags in one bare git repository per project.

A project ``p`` lives in ``<root>/p.git``, a bare repository in ordinary git format that
any git client can clone. A snapshot is a commit on ``main`` whose tree holds exactly the
snapshot's files, plus a lightweight tag ``refs/tags/<snapshot_id>`` pointing at it. The
commit carries the message and the creation time (the committer date, in whole seconds,
UTC).

A snapshot's blobs, trees and commit are made and written in this process (``objects``),
byte for byte as git makes them, and its refs are read and changed here, in the ref files
as git's files backend keeps them and under git's own ref locks (``refs``); everything
else is driven through git plumbing (``plumbing``) with a fixed identity and with global
and system git configuration switched off, so the result never depends on the machine's
git setup. A new snapshot runs no git command whatever its number of files (a project's
repository is laid out here, as ``git init --bare`` would); a repeat or a conflict reads
the existing snapshot's commit with one ``git cat-file``, and a repository laid out
otherwise has its refs read and changed by git. Every ref change is one transaction that
states the old value of each ref it touches (compare-and-swap: ``refs.update`` for a
snapshot, ``git update-ref --stdin`` for a delete), so two writers, even in two
processes, and git itself can never lose each other's update; a writer that loses the
race retries on the new head.
History is only ever appended to: deleting the head snapshot moves ``main`` back to its
parent, deleting any other snapshot removes only its tag.

A deleted snapshot id is remembered under the hidden ref ``refs/wikisaga/deleted/<id>`` and
can never be created again: a create request that arrives after the compensation that
undid it (a retried or delayed request) is refused instead of resurrecting the snapshot.
That ref names the empty tree, never the deleted commit, so it keeps nothing reachable;
after the delete, objects no ref reaches any more are pruned (see ``housekeeping``), so a
deleted snapshot's content cannot be fetched by its commit id in any protocol version.
Refs under ``refs/wikisaga/`` are hidden from clones, and ``git upload-pack`` runs with
:data:`UPLOAD_PACK_CONFIG`, so only what the refs it advertises reach can be asked for
(protocol v2 does not check that, which is why unreachable objects must be gone).

**Owners are not kept here.** A project belongs to the user who first wrote files to it,
and the filesystem service's project registry is the one record of that (DESIGN §3). Every
method takes the acting user and checks it against ``owners``, a lookup of that registry
given at construction (a new snapshot whose files come from an export that checks the
owner itself need not look up: see :meth:`ProjectRepositories.create_snapshot`): another
user's project is :class:`NotProjectOwner`, a project nobody owns is
:class:`ProjectNotFound` (a delete in it changes nothing), and no request ever makes
anyone an owner here. A repository is created, for the project's owner, by the
first snapshot or by the first delete that must remember a deleted id; it is built in a
temporary directory and renamed into place, so it either exists whole or not at all.
(Repositories made before this rule kept a ``wikisaga-owner`` file; it is ignored.)

Its errors are those of :mod:`~wikisaga.services.git.errors` (re-exported here); git itself
is driven through :mod:`~wikisaga.services.git.plumbing`.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from wikisaga.ids import git_reserved_name, is_valid_snapshot_id
from wikisaga.services.git import housekeeping, refs
from wikisaga.services.git._sync import create_file, fsync_all, fsync_built
from wikisaga.services.git.errors import (
    GitCommandFailed,
    GitRepositoryError,
    InvalidSnapshotFiles,
    NotProjectOwner,
    ProjectNotFound,
    SnapshotConflict,
    SnapshotDeleted,
    SnapshotNotFound,
)
from wikisaga.services.git.objects import (
    SnapshotObjects,
    commit_object,
    snapshot_tree,
    write_loose,
    write_pack,
)
from wikisaga.services.git.plumbing import GIT_IDENTITY, ZERO_OID, Git, RawObject, commit_fields

__all__ = [
    "UPLOAD_PACK_CONFIG",
    "GitCommandFailed",
    "GitRepositoryError",
    "InvalidSnapshotFiles",
    "NotProjectOwner",
    "OwnerLookup",
    "ProjectNotFound",
    "ProjectRepositories",
    "Snapshot",
    "SnapshotConflict",
    "SnapshotDeleted",
    "SnapshotNotFound",
]

MAIN_REF = "refs/heads/main"
TAG_PREFIX = "refs/tags/"
HIDDEN_PREFIX = "refs/wikisaga/"
DELETED_PREFIX = HIDDEN_PREFIX + "deleted/"

UPLOAD_PACK_CONFIG = (
    ("uploadpack.hideRefs", HIDDEN_PREFIX.rstrip("/")),
    ("uploadpack.allowAnySHA1InWant", "false"),
    ("uploadpack.allowReachableSHA1InWant", "false"),
    ("uploadpack.allowTipSHA1InWant", "false"),
)
"""Settings every ``git upload-pack`` runs with, whatever a repository's own config says:
the service's refs stay hidden, and a want must name an advertised tip (protocol v0)."""

_CAS_ATTEMPTS = 8
_LAYOUT_SYNCED = ("HEAD", "config", "objects/info", "objects/pack", "refs/heads", "refs/tags")
"""What of a new repository's layout is synced before it is renamed into place (with the
directories above them)."""
_REMEMBERED_TREES = 1024
"""Projects whose last snapshot's tree objects a repository object keeps in memory."""

_REPOSITORY_CONFIG = b"""\
[core]
\trepositoryformatversion = 0
\tfilemode = true
\tbare = true
\tlogAllRefUpdates = always
[uploadpack]
\thideRefs = refs/wikisaga
[receive]
\tdenyNonFastForwards = true
\tdenyDeletes = true
"""
"""A new repository's config: what ``git init --bare`` writes (object format SHA-1, the
default), reflogs for every ref, the service's refs hidden from clones, and no push may
rewrite or delete history."""


OwnerLookup = Callable[[str], str | None]
"""Who owns a project (``None``: nobody yet); in the service, the filesystem's registry."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One snapshot: a commit on ``main`` and the tag that names it."""

    snapshot_id: str
    project_id: str
    commit: str
    message: str
    created_at: datetime
    files: tuple[str, ...] | None = None
    """The tree's file paths, sorted; ``None`` when not read (listings)."""


@dataclass(frozen=True, slots=True)
class _Refs:
    """What creating a snapshot needs to know of a repository, read in one command."""

    head: str | None
    """The commit ``main`` names, ``None`` before the first snapshot."""
    tagged: RawObject | None
    """The commit the snapshot's tag names, if the snapshot exists."""
    deleted: bool
    """Whether the snapshot id is remembered as deleted."""


_NO_REFS = _Refs(head=None, tagged=None, deleted=False)


def _native(git_dir: Path) -> bool:
    """Whether the repository is as this service lays it out (its config, no
    ``reference-transaction`` hook), so that ``refs`` may read and change its refs in
    this process; any other is left to git."""
    try:
        config = (git_dir / "config").read_bytes()
    except OSError:
        return False
    return config == _REPOSITORY_CONFIG and not (git_dir / "hooks").exists()


def _check_project_id(project_id: str) -> None:
    # Routes validate ids with the shared validator; this guard keeps the repository layer
    # from ever building a path outside its root even if a caller forgets.
    if (
        not project_id
        or project_id.startswith(".")
        or "/" in project_id
        or "\\" in project_id
        or "\0" in project_id
    ):
        raise ValueError(f"unsafe project id {project_id!r}")


def _check_snapshot_id(snapshot_id: str) -> None:
    if not is_valid_snapshot_id(snapshot_id):
        raise ValueError(f"invalid snapshot id {snapshot_id!r}")


def _check_tree_paths(paths: Iterable[str]) -> None:
    """Refuse paths that git cannot store, or that would clash inside one tree."""
    seen: set[str] = set()
    dirs: set[str] = set()
    for path in paths:
        parts = path.split("/")
        if not path or "\0" in path or any(p in ("", ".", "..") for p in parts):
            raise InvalidSnapshotFiles(f"path {path!r} cannot be stored in a git tree")
        reserved = next((r for r in map(git_reserved_name, parts) if r is not None), None)
        if reserved is not None:
            raise InvalidSnapshotFiles(f"path {path!r} has a {reserved} component")
        seen.add(path)
        for i in range(1, len(parts)):
            dirs.add("/".join(parts[:i]))
    clash = seen & dirs
    if clash:
        raise InvalidSnapshotFiles(f"path {sorted(clash)[0]!r} is both a file and a directory")


class ProjectRepositories:
    """The bare repositories of every project, under one root directory.

    ``owners`` says who owns each project; every method checks its acting user against
    it. The service passes the filesystem registry's lookup. Without one, nothing is
    checked here: the caller has already decided that the user may act (tests of the
    storage rules use that).

    Methods block (they run git, and the lookup); call them from a worker thread in async
    code. They are safe to call concurrently, including from several processes: every
    change of a repository holds its writer lock (``housekeeping.exclusive``), and every
    ref change is a compare-and-swap transaction. Callers should still serialise writers
    of one project (a lock per project) so that they do not wait on each other's lock.
    """

    def __init__(
        self, root: Path, *, owners: OwnerLookup | None = None, command_timeout: float = 60.0
    ) -> None:
        self.root = root
        self._owners = owners
        self._git = Git(timeout=command_timeout)
        self._last_trees: OrderedDict[Path, tuple[str, frozenset[str]]] = OrderedDict()
        self._last_trees_lock = threading.Lock()

    @property
    def env(self) -> dict[str, str]:
        """The environment git commands run with (a copy): no global or system config."""
        return self._git.env

    # -- paths and ownership -------------------------------------------------------------

    def path(self, project_id: str) -> Path:
        """The bare repository directory of ``project_id`` (which may not exist)."""
        _check_project_id(project_id)
        return self.root / f"{project_id}.git"

    def exists(self, project_id: str) -> bool:
        """Whether the project has a repository."""
        return (self.path(project_id) / "HEAD").is_file()

    def _authorize(self, project_id: str, user_id: str) -> bool:
        """Whether ``user_id`` owns the project (``False``: nobody owns it yet).

        Raises :class:`NotProjectOwner` when another user does.
        """
        if self._owners is None:
            return True
        owner = self._owners(project_id)
        if owner is None:
            return False
        if owner != user_id:
            raise NotProjectOwner(project_id)
        return True

    def _owned(self, project_id: str, user_id: str) -> None:
        """Raise unless ``user_id`` owns the project (:class:`ProjectNotFound` when nobody
        does)."""
        if not self._authorize(project_id, user_id):
            raise ProjectNotFound(project_id, "has no owner: nobody has written files to it")

    def check_owner(self, project_id: str, user_id: str) -> None:
        """Raise unless the project belongs to ``user_id`` and has a repository."""
        self._owned(project_id, user_id)
        if not self.exists(project_id):
            raise ProjectNotFound(project_id)

    def _ensure_repository(self, project_id: str) -> Path:
        """The project's repository, created if it is new (the caller checked the owner)."""
        if not self.exists(project_id):
            self._create_repository(project_id)
        return self.path(project_id)

    def _create_repository(self, project_id: str) -> None:
        self._place(project_id, lambda staging: [])

    def _place(self, project_id: str, build: Callable[[Path], list[Path]]) -> bool:
        """Lay out a new repository in a directory of its own, let ``build`` add to it
        (it returns the files it wrote that must be on disk), sync it and rename it into
        place as the project's repository; ``False`` when another writer created the
        repository first (ours is then discarded).

        The layout is what ``git init --bare --template=`` makes (gitrepository-layout),
        without running git: HEAD on main, the config, and empty object and ref
        directories. Everything is synced before the rename and the name after it: a
        repository that a power loss left half made (an empty HEAD) would be no
        repository, and one that is there at all is whole.
        """
        final = self.path(project_id)
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{project_id}.", suffix=".new", dir=self.root))
        try:
            for directory in ("objects/info", "objects/pack", "refs/heads", "refs/tags"):
                (staging / directory).mkdir(parents=True)
            create_file(staging / "HEAD", b"ref: refs/heads/main\n")
            create_file(staging / "config", _REPOSITORY_CONFIG)
            built = build(staging)
            fsync_built(staging, [*(staging / name for name in _LAYOUT_SYNCED), *built])
            try:
                staging.rename(final)
            except OSError:
                if not self.exists(project_id):
                    raise
                return False
            fsync_all([self.root])
            return True
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)

    def _snapshot(self, project_id: str, snapshot_id: str, commit: str, raw: bytes) -> Snapshot:
        created_at, message = commit_fields(raw)
        return Snapshot(snapshot_id, project_id, commit, message, created_at)

    # -- snapshots -----------------------------------------------------------------------

    def create_snapshot(
        self,
        project_id: str,
        user_id: str,
        snapshot_id: str,
        message: str,
        files: Mapping[str, bytes] | Callable[[], Mapping[str, bytes]],
        *,
        now: float | None = None,
        export_checks_owner: bool = False,
    ) -> tuple[Snapshot, bool]:
        """Commit ``files`` on ``main`` as snapshot ``snapshot_id``, tagged with its id.

        The commit's tree holds exactly ``files`` (paths and bytes, mode 100644); it is
        created even when the tree equals the head's, since a snapshot records an event.
        Idempotent by id: when the snapshot already exists with the same message it is
        returned unchanged. ``files`` may also be a function that gathers them: it is
        called once the owner and the id have been checked and only when a snapshot is to
        be made, so that a repeat or a refused request gathers nothing. Returns
        ``(snapshot, created)``.

        ``export_checks_owner`` says that the function refuses, itself and before it
        reads any file, a user who does not own the project (:class:`NotProjectOwner`),
        as the filesystem service's export does. Then a new snapshot costs no owner
        lookup of its own: the owner is looked up only before anything already in the
        repository is answered (a repeat, a conflict, a deleted id) and when the function
        gives no file at all, since the filesystem exports a project nobody owns as no
        files. Either way a request by anyone but the owner is refused before any file is
        read and changes nothing.

        No git command makes a new snapshot: ``main``, the tag and the deleted-id ref are
        read in this process (``refs``; an existing tag's commit, for a repeat or a
        conflict, with one ``git cat-file --batch``); the blobs, trees and commit are
        written in this process, as one pack (``objects``), without those of the head's
        tree when this object made the head (:meth:`_objects_of_head`); one ref
        transaction in this process (``refs.update``, git's lock protocol) publishes it.
        A writer that loses the compare-and-swap reads the refs again and writes a new
        commit only, as a loose object. The snapshot that leaves more than
        ``housekeeping.PACK_LIMIT`` packs merges them. A project's first snapshot is made
        with its repository, which appears with it, whole (:meth:`_create_first`). What
        is answered as made is on disk (``refs``, ``objects``: synced files and names).

        Raises :class:`NotProjectOwner`, :class:`ProjectNotFound` (nobody owns the
        project), :class:`SnapshotConflict`, :class:`SnapshotDeleted`,
        :class:`InvalidSnapshotFiles`, :class:`GitCommandFailed`.
        """
        _check_snapshot_id(snapshot_id)
        if "\0" in message:
            raise InvalidSnapshotFiles("a snapshot message cannot contain NUL")
        if isinstance(files, Mapping):
            _check_tree_paths(files)
        owner_checked = False
        if isinstance(files, Mapping) or not export_checks_owner:
            self._owned(project_id, user_id)
            owner_checked = True
        known = self._local_refs(project_id, snapshot_id)
        if known is None or known.deleted:
            # Something of the repository is to be answered (a repeat, a conflict, a
            # deleted id): only to the owner, who is checked before it is even read.
            if not owner_checked:
                self._owned(project_id, user_id)
                owner_checked = True
            if known is None:
                known = self._read_refs_with_git(self.path(project_id), snapshot_id)
        existing = self._settled(project_id, snapshot_id, message, known)
        if existing is not None:
            return existing, False
        if not isinstance(files, Mapping):
            files = files()
            if not files and not owner_checked:
                self._owned(project_id, user_id)  # no file: perhaps nobody owns it
            _check_tree_paths(files)
        tree = snapshot_tree(files)
        if not self.exists(project_id):
            first = self._create_first(project_id, snapshot_id, message, tree, now)
            if first is not None:
                return first, True
            # Another writer created the repository meanwhile: snapshot on top of it.
        git_dir = self._ensure_repository(project_id)
        with housekeeping.exclusive(git_dir):
            return self._create(git_dir, project_id, snapshot_id, message, tree, known, now)

    def _create_first(
        self,
        project_id: str,
        snapshot_id: str,
        message: str,
        tree: SnapshotObjects,
        now: float | None,
    ) -> Snapshot | None:
        """A project's first snapshot, made with its repository: the objects, ``main``
        and the tag are written into the new repository before it is renamed into place
        (:meth:`_place`), so that the repository and its first snapshot appear, and reach
        the disk, together, in one rename and one round of syncs. ``None`` when another
        writer created the repository first (nothing of ours is left)."""
        timestamp = int(time.time() if now is None else now)
        commit = commit_object(tree.tree, None, message, GIT_IDENTITY, timestamp)
        tag = TAG_PREFIX + snapshot_id

        def build(staging: Path) -> list[Path]:
            pack = write_pack(staging, [*tree.objects, commit], sync=False)
            assert pack is not None  # a commit at least
            updates = [
                refs.RefUpdate(MAIN_REF, None, commit.oid),
                refs.RefUpdate(tag, None, commit.oid),
            ]
            if not refs.update(staging, updates, GIT_IDENTITY, sync=False):
                raise GitRepositoryError("the refs of a repository being built were taken")
            # The reflogs are left out, as everywhere (``refs``).
            return [pack, pack.with_suffix(".idx"), *(staging / u.name for u in updates)]

        if not self._place(project_id, build):
            return None
        git_dir = self.path(project_id)
        self._remember_tree(git_dir, commit.oid, tree)
        created_at = datetime.fromtimestamp(timestamp, tz=UTC)
        return Snapshot(snapshot_id, project_id, commit.oid, message, created_at)

    def _create(
        self,
        git_dir: Path,
        project_id: str,
        snapshot_id: str,
        message: str,
        tree: SnapshotObjects,
        known: _Refs,
        now: float | None,
    ) -> tuple[Snapshot, bool]:
        """Write the objects and publish the commit (holding the writer lock)."""
        timestamp = int(time.time() if now is None else now)
        tag = TAG_PREFIX + snapshot_id
        tombstone = DELETED_PREFIX + snapshot_id
        native = _native(git_dir)
        pending: list[Path] = []  # names to sync before a ref can name what they hold
        for attempt in range(_CAS_ATTEMPTS):
            commit = commit_object(tree.tree, known.head, message, GIT_IDENTITY, timestamp)
            if attempt == 0:
                present = self._objects_of_head(git_dir, known.head, native)
                new = [obj for obj in tree.objects if obj.oid not in present]
                pack = write_pack(git_dir, [*new, commit])
                if pack is not None:
                    pending.append(pack.parent)
            else:
                write_loose(git_dir, [commit])  # synced, names and all
            if self._publish(git_dir, native, commit.oid, known.head, tag, tombstone, pending):
                self._remember_tree(git_dir, commit.oid, tree)
                if housekeeping.too_many_packs(git_dir):
                    housekeeping.consolidate(self._git.run, git_dir)
                created_at = datetime.fromtimestamp(timestamp, tz=UTC)
                return Snapshot(snapshot_id, project_id, commit.oid, message, created_at), True
            # Lost the compare-and-swap: another writer moved a ref since we read them.
            known = self._read_refs(project_id, snapshot_id)
            existing = self._settled(project_id, snapshot_id, message, known)
            if existing is not None:
                return existing, False
        raise GitCommandFailed(
            ["update-ref"], f"main kept moving; gave up after {_CAS_ATTEMPTS} attempts"
        )

    def _objects_of_head(self, git_dir: Path, head: str | None, native: bool) -> frozenset[str]:
        """The blobs and trees the repository surely holds already: those of the head's
        tree, when this process made the head and ``main`` still names it (call it holding
        the writer lock); else none.

        ``main`` names the head, so every object of its tree is in the repository, in a
        synced pack (every tree object is written by :func:`write_pack`); and no prune,
        the one thing that removes objects, can run while the writer lock is held, so
        they stay until the new commit that reuses them is published, and are reachable
        from it after. A snapshot whose files mostly did not change so writes, compresses
        and syncs only what did.
        """
        with self._last_trees_lock:
            last = self._last_trees.get(git_dir)
        if head is None or last is None or last[0] != head or not native:
            return frozenset()
        try:
            now = refs.read(git_dir, [MAIN_REF])[MAIN_REF]
        except refs.NotHandled:
            return frozenset()
        return last[1] if now == head else frozenset()

    def _remember_tree(self, git_dir: Path, commit: str, tree: SnapshotObjects) -> None:
        """Keep the ids of ``commit``'s tree objects, for the project's next snapshot."""
        with self._last_trees_lock:
            self._last_trees[git_dir] = (commit, frozenset(obj.oid for obj in tree.objects))
            self._last_trees.move_to_end(git_dir)
            while len(self._last_trees) > _REMEMBERED_TREES:
                self._last_trees.popitem(last=False)

    def _publish(
        self,
        git_dir: Path,
        native: bool,
        commit: str,
        head: str | None,
        tag: str,
        tombstone: str,
        pending: list[Path],
    ) -> bool:
        """Move ``main`` from ``head`` to ``commit``, create ``tag`` on it and check that
        ``tombstone`` does not exist, as one compare-and-swap transaction; ``False`` when
        another writer moved a ref first. ``pending`` (the directory of the pack just
        written) is synced before any ref is changed.

        In this process (``refs``, git's own lock protocol and reflog format) when the
        repository is one this service laid out (``native``, read once per snapshot), else
        with ``git update-ref --stdin``.
        """
        if native:
            updates = [
                refs.RefUpdate(MAIN_REF, head, commit),
                refs.RefUpdate(tag, None, commit),
                refs.RefUpdate(tombstone, None),
            ]
            try:
                return refs.update(git_dir, updates, GIT_IDENTITY, also_sync=pending)
            except refs.NotHandled:
                pass
        fsync_all(pending)
        return self._git.update_refs(
            git_dir,
            [
                f"update {MAIN_REF} {commit} {head or ZERO_OID}",
                f"create {tag} {commit}",
                f"verify {tombstone} {ZERO_OID}",
            ],
        )

    def _read_refs(self, project_id: str, snapshot_id: str) -> _Refs:
        """``main``, the snapshot's tag (with its commit) and its deleted-id ref."""
        known = self._local_refs(project_id, snapshot_id)
        if known is None:
            known = self._read_refs_with_git(self.path(project_id), snapshot_id)
        return known

    def _local_refs(self, project_id: str, snapshot_id: str) -> _Refs | None:
        """:meth:`_read_refs` from the ref files, in this process (``refs``); ``None``
        when git must be asked: the tag exists (its commit is needed), or the repository
        is not one this service laid out.

        Nothing is locked: a ref another writer moves meanwhile may be read with its old
        value, and then the compare-and-swap that publishes the snapshot fails and
        :meth:`_create` reads the refs again.
        """
        if not self.exists(project_id):
            return _NO_REFS
        git_dir = self.path(project_id)
        if not _native(git_dir):
            return None
        tag = TAG_PREFIX + snapshot_id
        tombstone = DELETED_PREFIX + snapshot_id
        try:
            found = refs.read(git_dir, [MAIN_REF, tag, tombstone])
        except refs.NotHandled:
            return None
        if found[tag] is not None:
            return None
        return _Refs(head=found[MAIN_REF], tagged=None, deleted=found[tombstone] is not None)

    def _read_refs_with_git(self, git_dir: Path, snapshot_id: str) -> _Refs:
        """:meth:`_read_refs` in one ``git cat-file --batch``, the tag's commit included."""
        tag = f"{TAG_PREFIX}{snapshot_id}^{{commit}}"
        tombstone = DELETED_PREFIX + snapshot_id
        found = self._git.read_objects(git_dir, [MAIN_REF, tag, tombstone])
        head = found[MAIN_REF]
        return _Refs(
            head=head.oid if head is not None else None,
            tagged=found[tag],
            deleted=found[tombstone] is not None,
        )

    def _settled(
        self, project_id: str, snapshot_id: str, message: str, refs: _Refs
    ) -> Snapshot | None:
        """The snapshot if it already exists with ``message``; raise if it cannot be made."""
        if refs.tagged is None:
            if refs.deleted:
                raise SnapshotDeleted(project_id, snapshot_id)
            return None
        snapshot = self._snapshot(project_id, snapshot_id, refs.tagged.oid, refs.tagged.body)
        if snapshot.message != message:
            raise SnapshotConflict(project_id, snapshot_id)
        return snapshot

    def check_can_create(
        self, project_id: str, user_id: str, snapshot_id: str, message: str
    ) -> Snapshot | None:
        """Check, before gathering files, what :meth:`create_snapshot` would do.

        Returns the existing snapshot for an idempotent repeat, ``None`` when a new one
        can be made; raises :class:`NotProjectOwner`, :class:`ProjectNotFound`,
        :class:`SnapshotConflict`, :class:`SnapshotDeleted` as :meth:`create_snapshot`
        would. Writes nothing.
        """
        _check_snapshot_id(snapshot_id)
        self._owned(project_id, user_id)
        return self._settled(
            project_id, snapshot_id, message, self._read_refs(project_id, snapshot_id)
        )

    def get_snapshot(self, project_id: str, user_id: str, snapshot_id: str) -> Snapshot:
        """The snapshot with its file list; raises :class:`SnapshotNotFound` if absent."""
        _check_snapshot_id(snapshot_id)
        self.check_owner(project_id, user_id)
        git_dir = self.path(project_id)
        tag = TAG_PREFIX + snapshot_id
        commit = self._git.resolve(git_dir, tag + "^{commit}")
        if commit is None:
            raise SnapshotNotFound(project_id, snapshot_id)
        raw = self._git.read_commits(git_dir, [commit])[commit]
        assert raw is not None
        created_at, message = commit_fields(raw)
        files = self._git.tree_paths(git_dir, commit)
        return Snapshot(snapshot_id, project_id, commit, message, created_at, files)

    def list_snapshots(self, project_id: str, user_id: str) -> list[Snapshot]:
        """Every snapshot of the project, newest first (by position on ``main``)."""
        self.check_owner(project_id, user_id)
        git_dir = self.path(project_id)
        points = self._git.tag_points(git_dir)
        if not points:
            return []
        order: dict[str, int] = {}
        if self._git.resolve(git_dir, MAIN_REF) is not None:
            history = self._git.run(git_dir, "rev-list", "--first-parent", MAIN_REF).stdout
            order = {oid: i for i, oid in enumerate(history.decode().split())}
        raws = self._git.read_commits(git_dir, points.values())
        snapshots = []
        for snapshot_id, commit in points.items():
            raw = raws[commit]
            if raw is not None:
                snapshots.append(self._snapshot(project_id, snapshot_id, commit, raw))
        # Commits off main (none in normal operation) sort after, newest first.
        snapshots.sort(key=lambda s: (order.get(s.commit, len(order)), -s.created_at.timestamp()))
        return snapshots

    def delete_snapshot(self, project_id: str, user_id: str, snapshot_id: str) -> bool:
        """Delete a snapshot's tag, and drop its commit from ``main`` if it is the head.

        When the snapshot's commit is the head of ``main`` (and no other snapshot names
        it), ``main`` moves back to the commit's parent, or is deleted when the commit was
        the root; older history is never rewritten. The id is remembered as deleted so
        that it can never be created again. Deleting an absent snapshot succeeds (and
        remembers the id too, creating the owner's empty repository if needed). In a
        project nobody owns it succeeds and changes nothing: no snapshot of it can exist
        or be created until someone writes files to it, and this request must not be
        what makes it exist. Returns whether a snapshot was deleted.
        """
        _check_snapshot_id(snapshot_id)
        if not self._authorize(project_id, user_id):
            return False
        git_dir = self._ensure_repository(project_id)
        with housekeeping.exclusive(git_dir):
            deleted = self._delete(git_dir, snapshot_id)
            if housekeeping.prune_needed(git_dir):
                self._prune(git_dir)
        return deleted

    def _delete(self, git_dir: Path, snapshot_id: str) -> bool:
        tag = TAG_PREFIX + snapshot_id
        tombstone = DELETED_PREFIX + snapshot_id
        # A tombstone ref must name some object: the empty tree, which keeps nothing alive.
        marker = self._git.empty_tree(git_dir)
        for _ in range(_CAS_ATTEMPTS):
            commit = self._git.resolve(git_dir, tag)
            if commit is None:
                if self._git.resolve(git_dir, tombstone) is not None:
                    return False
                if self._git.update_refs(
                    git_dir,
                    [f"verify {tag} {ZERO_OID}", f"update {tombstone} {marker} {ZERO_OID}"],
                ):
                    return False
                continue
            commands = [f"delete {tag} {commit}", f"update {tombstone} {marker} {ZERO_OID}"]
            head = self._git.resolve(git_dir, MAIN_REF)
            others = [s for s, c in self._git.tag_points(git_dir).items() if c == commit]
            if head == commit and others == [snapshot_id]:
                parent = self._git.resolve(git_dir, commit + "^1")
                if parent is None:
                    commands.append(f"delete {MAIN_REF} {commit}")
                else:
                    commands.append(f"update {MAIN_REF} {parent} {commit}")
            elif head is not None:
                commands.append(f"verify {MAIN_REF} {head}")
            # Marked before the refs change: if we die after it, the next start prunes.
            housekeeping.mark_prune_needed(git_dir)
            if self._git.update_refs(git_dir, commands):
                return True
        raise GitCommandFailed(
            ["update-ref"], f"refs kept moving; gave up after {_CAS_ATTEMPTS} attempts"
        )

    # -- housekeeping --------------------------------------------------------------------

    def _prune(self, git_dir: Path) -> None:
        """Make every object no ref reaches disappear (hold the writer lock)."""
        self._retire_old_tombstones(git_dir)
        housekeeping.prune(self._git.run, git_dir)

    def _retire_old_tombstones(self, git_dir: Path) -> None:
        """Point tombstones that still name a deleted commit (as they did before) at the
        empty tree, so that they stop keeping it reachable."""
        out = self._git.run(
            git_dir,
            "for-each-ref",
            "--format=%(refname) %(objectname) %(objecttype)",
            DELETED_PREFIX,
        )
        stale = [line.split(" ") for line in out.stdout.decode().splitlines()]
        commands = [f"update {ref} {{empty}} {oid}" for ref, oid, kind in stale if kind != "tree"]
        if commands:
            empty = self._git.empty_tree(git_dir)
            self._git.update_refs(git_dir, [c.format(empty=empty) for c in commands])

    def _has_old_tombstones(self, git_dir: Path) -> bool:
        out = self._git.run(git_dir, "for-each-ref", "--format=%(objecttype)", DELETED_PREFIX)
        return any(kind != "tree" for kind in out.stdout.decode().split())

    def sweep(self, started_at: float) -> int:
        """Tidy every repository at start-up; return how many leftovers were removed.

        Removes half-built repositories, and temporary and lock files a killed git left,
        that are older than ``started_at``; finishes the prune of every repository whose
        delete did not get to it, and of those whose tombstones still name a deleted
        commit (made before tombstones named the empty tree).
        """
        removed = housekeeping.remove_staging_dirs(self.root, started_at)
        for git_dir in sorted(self.root.glob("*.git")) if self.root.is_dir() else ():
            if git_dir.is_symlink() or not (git_dir / "HEAD").is_file():
                continue
            removed += housekeeping.remove_leftovers(git_dir, started_at)
            if housekeeping.prune_needed(git_dir) or self._has_old_tombstones(git_dir):
                with housekeeping.exclusive(git_dir):
                    housekeeping.mark_prune_needed(git_dir)
                    self._prune(git_dir)
        return removed

    def upload_pack_command(self, project_id: str, *, advertise: bool, timeout: int) -> list[str]:
        """The ``git upload-pack --stateless-rpc`` command line serving the project, with
        :data:`UPLOAD_PACK_CONFIG`; ``advertise``: the ref advertisement only; ``timeout``:
        seconds of inactivity after which it gives up."""
        command = ["git"]
        for key, value in UPLOAD_PACK_CONFIG:
            command += ["-c", f"{key}={value}"]
        command += ["upload-pack", "--stateless-rpc"]
        if advertise:
            command.append("--advertise-refs")
        return [*command, f"--timeout={timeout}", str(self.path(project_id))]
