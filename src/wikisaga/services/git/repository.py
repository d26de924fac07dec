"""Snapshots as commits and tags in one bare git repository per project.

A project ``p`` lives in ``<root>/p.git``, a bare repository in ordinary git format that
any git client can clone. A snapshot is a commit on ``main`` whose tree holds exactly the
snapshot's files, plus a lightweight tag ``refs/tags/<snapshot_id>`` pointing at it. The
commit carries the message and the creation time (the committer date, in whole seconds,
UTC).

Everything is driven through git plumbing with a fixed identity and with global and
system git configuration switched off, so the result never depends on the machine's git
setup. Every ref change is one ``git update-ref --stdin`` transaction that states the old
value of each ref it touches (compare-and-swap), so two writers, even in two processes,
can never lose each other's update; a writer that loses the race retries on the new head.
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
given at construction: another user's project is :class:`NotProjectOwner`, a project
nobody owns is :class:`ProjectNotFound` (a delete in it changes nothing), and no request
ever makes anyone an owner here. A repository is created, for the project's owner, by the
first snapshot or by the first delete that must remember a deleted id; it is built in a
temporary directory and renamed into place, so it either exists whole or not at all.
(Repositories made before this rule kept a ``wikisaga-owner`` file; it is ignored.)

Errors::

    GitRepositoryError             root of every error this module raises
    ├── ProjectNotFound            no repository for the project
    ├── NotProjectOwner            the project belongs to another user
    ├── SnapshotNotFound           no snapshot with this id
    ├── SnapshotConflict           the snapshot id exists with a different message
    ├── SnapshotDeleted            the snapshot id was deleted and cannot be reused
    ├── InvalidSnapshotFiles       the files cannot form a git tree (bad or clashing paths)
    └── GitCommandFailed           git exited with an error or did not finish in time
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from wikisaga.errors import StoreError
from wikisaga.ids import git_reserved_name, is_valid_snapshot_id
from wikisaga.services.git import housekeeping

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
PENDING_PREFIX = HIDDEN_PREFIX + "pending/"

UPLOAD_PACK_CONFIG = (
    ("uploadpack.hideRefs", HIDDEN_PREFIX.rstrip("/")),
    ("uploadpack.allowAnySHA1InWant", "false"),
    ("uploadpack.allowReachableSHA1InWant", "false"),
    ("uploadpack.allowTipSHA1InWant", "false"),
)
"""Settings every ``git upload-pack`` runs with, whatever a repository's own config says:
the service's refs stay hidden, and a want must name an advertised tip (protocol v0)."""

GIT_NAME = "wikisaga"
GIT_EMAIL = "wikisaga@localhost"

_ZERO_OID = "0" * 40
_CAS_ATTEMPTS = 8


class GitRepositoryError(StoreError):
    """Root of every error raised by the repository layer."""

    code = "git_failed"


class ProjectNotFound(GitRepositoryError):
    """Nobody owns the project yet, or it has no repository (it was never snapshotted)."""

    code = "project_not_found"

    def __init__(self, project_id: str, reason: str = "has no snapshots repository") -> None:
        super().__init__(f"project {project_id!r} {reason}")
        self.project_id = project_id


class NotProjectOwner(GitRepositoryError):
    """The project's repository belongs to another user."""

    code = "forbidden"

    def __init__(self, project_id: str) -> None:
        super().__init__(f"project {project_id!r} belongs to another user")
        self.project_id = project_id


class SnapshotNotFound(GitRepositoryError):
    """The project has no snapshot with this id."""

    code = "snapshot_not_found"

    def __init__(self, project_id: str, snapshot_id: str) -> None:
        super().__init__(f"project {project_id!r} has no snapshot {snapshot_id!r}")
        self.project_id = project_id
        self.snapshot_id = snapshot_id


class SnapshotConflict(GitRepositoryError):
    """The snapshot id is taken by a snapshot with a different message."""

    code = "snapshot_conflict"

    def __init__(self, project_id: str, snapshot_id: str) -> None:
        super().__init__(
            f"snapshot {snapshot_id!r} of project {project_id!r} already exists "
            "with a different message"
        )
        self.project_id = project_id
        self.snapshot_id = snapshot_id


class SnapshotDeleted(GitRepositoryError):
    """The snapshot id was deleted; ids are never reused."""

    code = "snapshot_deleted"

    def __init__(self, project_id: str, snapshot_id: str) -> None:
        super().__init__(
            f"snapshot {snapshot_id!r} of project {project_id!r} was deleted; "
            "a deleted snapshot id cannot be created again"
        )
        self.project_id = project_id
        self.snapshot_id = snapshot_id


class InvalidSnapshotFiles(GitRepositoryError):
    """The files cannot be stored as one git tree."""

    code = "filesystem_bad_export"


class GitCommandFailed(GitRepositoryError):
    """A git command exited with an error or ran past its timeout."""

    def __init__(self, args: Iterable[str], detail: str) -> None:
        command = " ".join(args)
        super().__init__(f"git {command} failed: {detail}")
        self.command = command
        self.detail = detail


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


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME=GIT_NAME,
        GIT_AUTHOR_EMAIL=GIT_EMAIL,
        GIT_COMMITTER_NAME=GIT_NAME,
        GIT_COMMITTER_EMAIL=GIT_EMAIL,
        LC_ALL="C",
    )
    return env


def _quote_path(path: str) -> bytes:
    """C-style quote a path for ``git fast-import`` (always accepted, sometimes needed)."""
    out = bytearray(b'"')
    for byte in path.encode("utf-8"):
        if byte in (0x22, 0x5C):
            out += b"\\" + bytes([byte])
        elif byte < 0x20 or byte == 0x7F:
            out += b"\\%03o" % byte
        else:
            out.append(byte)
    out += b'"'
    return bytes(out)


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


def _commit_fields(raw: bytes) -> tuple[datetime, str]:
    """The committer date and the message of a raw commit object."""
    header, _, message = raw.partition(b"\n\n")
    for line in header.split(b"\n"):
        if line.startswith(b"committer "):
            timestamp = int(line.rsplit(b" ", 2)[1])
            created = datetime.fromtimestamp(timestamp, tz=UTC)
            return created, message.decode("utf-8", errors="replace")
    raise GitRepositoryError("commit object without a committer line")


class ProjectRepositories:
    """The bare repositories of every project, under one root directory.

    ``owners`` says who owns each project; every method checks its acting user against
    it. The service passes the filesystem registry's lookup. Without one, nothing is
    checked here: the caller has already decided that the user may act (tests of the
    storage rules use that).

    Methods block (they run git, and the lookup); call them from a worker thread in async
    code. They are safe to call concurrently, including from several processes: every ref
    change is a compare-and-swap transaction. Callers should still serialise writers of
    one project (a lock per project) so that they do not retry against each other.
    """

    def __init__(
        self, root: Path, *, owners: OwnerLookup | None = None, command_timeout: float = 60.0
    ) -> None:
        self.root = root
        self.command_timeout = command_timeout
        self._owners = owners
        self._env = _git_env()

    @property
    def env(self) -> dict[str, str]:
        """The environment git commands run with (a copy): no global or system config."""
        return dict(self._env)

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
        final = self.path(project_id)
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{project_id}.", suffix=".new", dir=self.root))
        try:
            self._run(None, "init", "--quiet", "--bare", "--initial-branch=main", str(staging))
            config = str(staging / "config")
            for key, value in (
                ("uploadpack.hideRefs", HIDDEN_PREFIX.rstrip("/")),
                ("receive.denyNonFastForwards", "true"),
                ("receive.denyDeletes", "true"),
                ("core.logAllRefUpdates", "always"),
            ):
                self._run(None, "config", "--file", config, key, value)
            try:
                staging.rename(final)
            except OSError:
                # Another writer created it first; ours is discarded.
                if not self.exists(project_id):
                    raise
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)

    # -- git -----------------------------------------------------------------------------

    def _run(
        self, git_dir: Path | None, *args: str, stdin: bytes | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        command = ["git"]
        if git_dir is not None:
            command.append(f"--git-dir={git_dir}")
        command.extend(args)
        try:
            result = subprocess.run(
                command,
                input=stdin,
                capture_output=True,
                env=self._env,
                timeout=self.command_timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise GitCommandFailed(args, f"no answer within {self.command_timeout:g}s") from exc
        except OSError as exc:
            raise GitCommandFailed(args, str(exc)) from exc
        if check and result.returncode != 0:
            detail = result.stderr.decode("utf-8", errors="replace").strip()
            raise GitCommandFailed(args, detail or f"exit status {result.returncode}")
        return result

    def _resolve(self, git_dir: Path, ref: str) -> str | None:
        result = self._run(git_dir, "rev-parse", "--verify", "--quiet", ref, check=False)
        if result.returncode != 0:
            return None
        return result.stdout.decode().strip()

    def _update_refs(self, git_dir: Path, commands: Iterable[str]) -> bool:
        """Apply ref commands as one atomic transaction; ``False`` if a CAS check failed."""
        script = "".join(f"{c}\n" for c in commands).encode()
        result = self._run(git_dir, "update-ref", "--stdin", stdin=script, check=False)
        return result.returncode == 0

    def _read_commits(self, git_dir: Path, names: Iterable[str]) -> dict[str, bytes | None]:
        """Raw commit objects by name (any revision), ``None`` for those that are absent."""
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return {}
        stdin = "".join(f"{n}^{{commit}}\n" for n in wanted).encode()
        out = self._run(git_dir, "cat-file", "--batch", stdin=stdin).stdout
        found: dict[str, bytes | None] = {}
        pos = 0
        for name in wanted:
            end = out.index(b"\n", pos)
            header = out[pos:end].split(b" ")
            pos = end + 1
            if len(header) != 3 or header[1] != b"commit":
                found[name] = None
                continue
            size = int(header[2])
            found[name] = out[pos : pos + size]
            pos += size + 1
        return found

    def _tree_paths(self, git_dir: Path, commit: str) -> tuple[str, ...]:
        out = self._run(git_dir, "ls-tree", "-r", "-z", "--name-only", "--full-tree", commit)
        names = out.stdout.split(b"\0")
        return tuple(sorted(n.decode("utf-8", errors="replace") for n in names if n))

    def _tag_points(self, git_dir: Path) -> dict[str, str]:
        """Every snapshot tag's commit, by snapshot id."""
        out = self._run(
            git_dir, "for-each-ref", "--format=%(refname:lstrip=2) %(objectname)", "refs/tags/"
        )
        points: dict[str, str] = {}
        for line in out.stdout.decode().splitlines():
            name, _, oid = line.partition(" ")
            points[name] = oid
        return points

    def _write_commit(
        self,
        git_dir: Path,
        files: Mapping[str, bytes],
        message: str,
        parent: str | None,
        timestamp: int,
    ) -> tuple[str, str]:
        """Write a commit of exactly ``files`` in one ``git fast-import`` run.

        fast-import can only leave a commit on a ref, so it goes to a hidden pending ref
        that the caller removes in the same transaction that publishes the commit.
        Returns ``(commit id, pending ref)``.
        """
        pending = f"{PENDING_PREFIX}{os.getpid()}-{time.monotonic_ns()}"
        body = message.encode("utf-8")
        identity = f"{GIT_NAME} <{GIT_EMAIL}> {timestamp} +0000".encode()
        chunks = [
            b"commit " + pending.encode() + b"\nmark :1\n",
            b"author " + identity + b"\ncommitter " + identity + b"\n",
            b"data %d\n" % len(body),
            body,
            b"\n",
        ]
        if parent is not None:
            chunks.append(b"from " + parent.encode() + b"\n")
        chunks.append(b"deleteall\n")
        for path in sorted(files):
            content = files[path]
            chunks += [b"M 100644 inline ", _quote_path(path), b"\n"]
            chunks += [b"data %d\n" % len(content), content, b"\n"]
        chunks.append(b"\nget-mark :1\ndone\n")
        out = self._run(git_dir, "fast-import", "--quiet", "--done", stdin=b"".join(chunks))
        commit = out.stdout.decode().strip().splitlines()[-1]
        return commit, pending

    def _snapshot(self, project_id: str, snapshot_id: str, commit: str, raw: bytes) -> Snapshot:
        created_at, message = _commit_fields(raw)
        return Snapshot(snapshot_id, project_id, commit, message, created_at)

    # -- snapshots -----------------------------------------------------------------------

    def create_snapshot(
        self,
        project_id: str,
        user_id: str,
        snapshot_id: str,
        message: str,
        files: Mapping[str, bytes],
        *,
        now: float | None = None,
    ) -> tuple[Snapshot, bool]:
        """Commit ``files`` on ``main`` as snapshot ``snapshot_id``, tagged with its id.

        The commit's tree holds exactly ``files`` (paths and bytes, mode 100644); it is
        created even when the tree equals the head's, since a snapshot records an event.
        Idempotent by id: when the snapshot already exists with the same message it is
        returned unchanged. Returns ``(snapshot, created)``.

        Raises :class:`NotProjectOwner`, :class:`ProjectNotFound` (nobody owns the
        project), :class:`SnapshotConflict`, :class:`SnapshotDeleted`,
        :class:`InvalidSnapshotFiles`, :class:`GitCommandFailed`.
        """
        _check_snapshot_id(snapshot_id)
        if "\0" in message:
            raise InvalidSnapshotFiles("a snapshot message cannot contain NUL")
        _check_tree_paths(files)
        self._owned(project_id, user_id)
        git_dir = self._ensure_repository(project_id)
        with housekeeping.exclusive(git_dir):
            return self._create(git_dir, project_id, snapshot_id, message, files, now)

    def _create(
        self,
        git_dir: Path,
        project_id: str,
        snapshot_id: str,
        message: str,
        files: Mapping[str, bytes],
        now: float | None,
    ) -> tuple[Snapshot, bool]:
        timestamp = int(time.time() if now is None else now)
        tag = TAG_PREFIX + snapshot_id
        tombstone = DELETED_PREFIX + snapshot_id
        for _ in range(_CAS_ATTEMPTS):
            existing = self._existing(git_dir, project_id, snapshot_id, message)
            if existing is not None:
                return existing, False
            head = self._resolve(git_dir, MAIN_REF)
            commit, pending = self._write_commit(git_dir, files, message, head, timestamp)
            published = self._update_refs(
                git_dir,
                [
                    f"update {MAIN_REF} {commit} {head or _ZERO_OID}",
                    f"create {tag} {commit}",
                    f"verify {tombstone} {_ZERO_OID}",
                    f"delete {pending}",
                ],
            )
            if published:
                raw = self._read_commits(git_dir, [commit])[commit]
                assert raw is not None
                return self._snapshot(project_id, snapshot_id, commit, raw), True
            self._update_refs(git_dir, [f"delete {pending}"])
        raise GitCommandFailed(
            ["update-ref"], f"main kept moving; gave up after {_CAS_ATTEMPTS} attempts"
        )

    def _existing(
        self, git_dir: Path, project_id: str, snapshot_id: str, message: str
    ) -> Snapshot | None:
        """The snapshot if it already exists with ``message``; raise if it cannot be made."""
        tag = TAG_PREFIX + snapshot_id
        raw = self._read_commits(git_dir, [tag])[tag]
        if raw is None:
            if self._resolve(git_dir, DELETED_PREFIX + snapshot_id) is not None:
                raise SnapshotDeleted(project_id, snapshot_id)
            return None
        commit = self._resolve(git_dir, tag)
        assert commit is not None
        snapshot = self._snapshot(project_id, snapshot_id, commit, raw)
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
        if not self.exists(project_id):
            return None
        return self._existing(self.path(project_id), project_id, snapshot_id, message)

    def get_snapshot(self, project_id: str, user_id: str, snapshot_id: str) -> Snapshot:
        """The snapshot with its file list; raises :class:`SnapshotNotFound` if absent."""
        _check_snapshot_id(snapshot_id)
        self.check_owner(project_id, user_id)
        git_dir = self.path(project_id)
        tag = TAG_PREFIX + snapshot_id
        commit = self._resolve(git_dir, tag + "^{commit}")
        if commit is None:
            raise SnapshotNotFound(project_id, snapshot_id)
        raw = self._read_commits(git_dir, [commit])[commit]
        assert raw is not None
        created_at, message = _commit_fields(raw)
        files = self._tree_paths(git_dir, commit)
        return Snapshot(snapshot_id, project_id, commit, message, created_at, files)

    def list_snapshots(self, project_id: str, user_id: str) -> list[Snapshot]:
        """Every snapshot of the project, newest first (by position on ``main``)."""
        self.check_owner(project_id, user_id)
        git_dir = self.path(project_id)
        points = self._tag_points(git_dir)
        if not points:
            return []
        order: dict[str, int] = {}
        if self._resolve(git_dir, MAIN_REF) is not None:
            history = self._run(git_dir, "rev-list", "--first-parent", MAIN_REF).stdout
            order = {oid: i for i, oid in enumerate(history.decode().split())}
        raws = self._read_commits(git_dir, points.values())
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
        marker = self._empty_tree(git_dir)
        for _ in range(_CAS_ATTEMPTS):
            commit = self._resolve(git_dir, tag)
            if commit is None:
                if self._resolve(git_dir, tombstone) is not None:
                    return False
                if self._update_refs(
                    git_dir,
                    [f"verify {tag} {_ZERO_OID}", f"update {tombstone} {marker} {_ZERO_OID}"],
                ):
                    return False
                continue
            commands = [f"delete {tag} {commit}", f"update {tombstone} {marker} {_ZERO_OID}"]
            head = self._resolve(git_dir, MAIN_REF)
            others = [s for s, c in self._tag_points(git_dir).items() if c == commit]
            if head == commit and others == [snapshot_id]:
                parent = self._resolve(git_dir, commit + "^1")
                if parent is None:
                    commands.append(f"delete {MAIN_REF} {commit}")
                else:
                    commands.append(f"update {MAIN_REF} {parent} {commit}")
            elif head is not None:
                commands.append(f"verify {MAIN_REF} {head}")
            # Marked before the refs change: if we die after it, the next start prunes.
            housekeeping.mark_prune_needed(git_dir)
            if self._update_refs(git_dir, commands):
                return True
        raise GitCommandFailed(
            ["update-ref"], f"refs kept moving; gave up after {_CAS_ATTEMPTS} attempts"
        )

    # -- housekeeping --------------------------------------------------------------------

    def _prune(self, git_dir: Path) -> None:
        """Make every object no ref reaches disappear (hold the writer lock)."""
        self._retire_old_tombstones(git_dir)
        housekeeping.prune(self._run, git_dir)

    def _retire_old_tombstones(self, git_dir: Path) -> None:
        """Point tombstones that still name a deleted commit (as they did before) at the
        empty tree, so that they stop keeping it reachable."""
        out = self._run(
            git_dir,
            "for-each-ref",
            "--format=%(refname) %(objectname) %(objecttype)",
            DELETED_PREFIX,
        )
        stale = [line.split(" ") for line in out.stdout.decode().splitlines()]
        commands = [f"update {ref} {{empty}} {oid}" for ref, oid, kind in stale if kind != "tree"]
        if commands:
            empty = self._empty_tree(git_dir)
            self._update_refs(git_dir, [c.format(empty=empty) for c in commands])

    def _has_old_tombstones(self, git_dir: Path) -> bool:
        out = self._run(git_dir, "for-each-ref", "--format=%(objecttype)", DELETED_PREFIX)
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

    def _empty_tree(self, git_dir: Path) -> str:
        out = self._run(git_dir, "hash-object", "-w", "-t", "tree", "--stdin", stdin=b"")
        return out.stdout.decode().strip()
