"""A bare repository's refs read and changed in this process, as git's files backend
keeps them (``gitrepository-layout``; what ``git update-ref --stdin`` does, without
starting git).

**Reading.** A ref is the loose file ``<repo>/<name>`` if there is one, else its line in
``<repo>/packed-refs``. A loose file holds ``<oid>\\n``, or ``ref: <target>\\n`` for a
symbolic ref (followed, as git does, at most five deep); ``packed-refs`` has a
``# pack-refs with: ...`` header, ``<oid> <name>`` lines and, after the line of an
annotated tag, its peeled ``^<oid>``. Nothing is locked: a ref can change a moment after
it is read, so a reading is only ever a guess that a compare-and-swap then checks.

**Changing.** :func:`update` is one transaction in git's own lock protocol, so that it
and any git process (``update-ref``, ``pack-refs``, ``gc``) exclude each other on every
ref they touch:

1. each ref, in the order given, then ``HEAD`` when the transaction moves the branch
   ``HEAD`` names (git logs that move in ``HEAD``'s reflog too), is locked by creating
   ``<ref>.lock`` with ``O_CREAT | O_EXCL``; a lock someone else holds is retried for
   git's ``core.filesRefLockTimeout`` (100 ms) and then makes the transaction fail, never
   broken;
2. under the lock, each ref's value (loose, else packed) is checked against the old value
   the caller expects; the new value is written to its lock file;
3. only when every ref is locked and checked: each change is appended to its reflog
   (``<old> <new> <name> <<email>> <time> <zone>\\n``, created when missing, since the
   service's repositories have ``core.logAllRefUpdates = always``) and its lock file
   renamed onto the ref; then the remaining locks are removed.

**Durability.** A transaction that returned survives a power loss, not only a crash of
the process: each new value is synced in its lock file before the lock file is renamed
(git's ``core.fsync=reference``, which git leaves off by default; without it a ref renamed
into place can come back empty after a power loss), and the directories of the refs
renamed are synced before :func:`update` returns, so the renames are on disk too. The
objects a ref names were synced before (``objects``). The reflogs are appended but not
synced: a power loss may cost the last line of a log, never a ref. Like git's files
backend, the renames of step 3 are one at a time: a crash in between leaves the refs
renamed so far, and stale ``*.lock`` files that start-up removes (``housekeeping``).

:class:`NotHandled` means "ask git": a symlinked, broken or otherwise unusual ref, or a
file in the way of a ref's directory. :func:`update` raises it with nothing changed (the
locks it took removed), so that the caller can hand the transaction to git.
"""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from wikisaga.services.git._sync import fsync_all
from wikisaga.services.git.plumbing import ZERO_OID

__all__ = ["LOCK_TIMEOUT", "NotHandled", "RefUpdate", "read", "update"]

LOCK_TIMEOUT = 0.1
"""Seconds a held ref lock is waited for (git's ``core.filesRefLockTimeout``)."""

_SYMREF_DEPTH = 5
_HEX = re.compile(rb"[0-9a-f]{40}")
_SYMREF = b"ref: "


class NotHandled(Exception):
    """The refs are in a state this module leaves to git; nothing was locked or changed."""


@dataclass(frozen=True, slots=True)
class RefUpdate:
    """One ref of a transaction: its full name, the value it must have (``None``: it
    must not exist) and the value it gets (``None``: it keeps its value, only checked)."""

    name: str
    old: str | None
    new: str | None = None


# -- reading -----------------------------------------------------------------------------


def _packed_value(git_dir: Path, name: str) -> str | None:
    """``name``'s line in ``packed-refs``, ``<oid> <name>``: a name has no space, so a
    match is the end of a line whose first 40 bytes are the id."""
    try:
        packed = (git_dir / "packed-refs").read_bytes()
    except FileNotFoundError:
        return None
    if not packed.endswith(b"\n"):
        packed += b"\n"
    needle = b" " + name.encode() + b"\n"
    at = packed.find(needle)
    while at != -1:
        start = packed.rfind(b"\n", 0, at) + 1
        if start == at - 40 and _HEX.fullmatch(packed, start, at):
            return packed[start:at].decode()
        at = packed.find(needle, at + 1)
    return None


def _packed_below(git_dir: Path, name: str) -> bool:
    """Whether a packed ref lives below ``name`` (``<name>/...``), which git refuses."""
    try:
        packed = (git_dir / "packed-refs").read_bytes()
    except FileNotFoundError:
        return False
    return b" " + name.encode() + b"/" in packed


def _loose(git_dir: Path, name: str) -> bytes | None:
    """The loose ref file's contents, ``None`` when there is none (or a directory)."""
    path = git_dir / name
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    except NotADirectoryError as exc:  # a file where one of the name's directories goes
        raise NotHandled(f"{name}: a file is in the way") from exc
    if stat.S_ISDIR(info.st_mode):
        return None
    if not stat.S_ISREG(info.st_mode):
        raise NotHandled(f"{name} is not a regular file")
    try:
        return path.read_bytes()
    except FileNotFoundError:  # deleted since the lstat: as if it had not been there
        return None


def _raw(git_dir: Path, name: str) -> tuple[str | None, str | None]:
    """``(oid, None)``; ``(None, target)`` for a symbolic ref; ``(None, None)`` if absent.

    The loose file is read first and ``packed-refs`` only after it was found missing:
    ``git pack-refs`` writes ``packed-refs`` before it removes the loose files, so a ref
    it moves is found in one or the other.
    """
    contents = _loose(git_dir, name)
    if contents is None:
        return _packed_value(git_dir, name), None
    text = contents.rstrip()
    if text.startswith(_SYMREF):
        return None, text[len(_SYMREF) :].strip().decode()
    if _HEX.fullmatch(text):
        return text.decode(), None
    raise NotHandled(f"{name} is not a ref git would read")


def _resolve(git_dir: Path, name: str) -> str | None:
    for _ in range(_SYMREF_DEPTH + 1):
        oid, target = _raw(git_dir, name)
        if target is None:
            return oid
        name = target
    raise NotHandled(f"symbolic refs nested deeper than {_SYMREF_DEPTH}")


def read(git_dir: Path, names: Iterable[str]) -> dict[str, str | None]:
    """The object id each ref names (symbolic refs followed), ``None`` for absent ones
    and for every ref of a repository that does not exist.

    Nothing is locked: a ref another writer changes meanwhile may be read with its old
    value, which the caller's compare-and-swap then finds out.
    """
    wanted = list(dict.fromkeys(names))
    if not (git_dir / "HEAD").is_file():
        return dict.fromkeys(wanted)
    return {name: _resolve(git_dir, name) for name in wanted}


# -- changing ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Step:
    """One lock of a transaction: the ref locked and what is done with it."""

    name: str
    old: str | None
    new: str | None
    log_of: str | None = None
    """For ``HEAD``: the branch it names, whose move is logged in ``HEAD``'s reflog."""
    current: str | None = None
    locked: bool = False
    written: bool = False


def _lock(git_dir: Path, name: str, deadline: float) -> int | None:
    """Create ``<ref>.lock`` (and the ref's directories) and return its descriptor;
    ``None`` if someone else holds it until ``deadline``."""
    lock = git_dir / f"{name}.lock"
    pause = 0.001
    vanished = 0
    while True:
        try:
            lock.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise NotHandled(f"{name}: a file is in the way") from exc
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        except FileNotFoundError:
            # git removed the (empty) directory meanwhile, tidying up after a delete:
            # make it again, as git itself retries.
            vanished += 1
            if vanished >= 3:
                raise
            continue
        except FileExistsError:
            if time.monotonic() >= deadline:
                return None
            time.sleep(pause)
            pause = min(pause * 2, 0.02)
            continue
        return fd


def _check(git_dir: Path, step: _Step) -> bool:
    """Read the locked ref; whether it holds the expected old value."""
    if step.log_of is not None:
        # HEAD itself does not change: the value of the branch it names is its log's old.
        if _head_branch(git_dir) != step.log_of:
            raise NotHandled("HEAD was pointed elsewhere during the transaction")
        step.current = _resolve(git_dir, step.log_of)
        return step.current == step.old
    path = git_dir / step.name
    if path.is_dir() and not path.is_symlink():
        # A directory where the ref goes: git removes it when it is empty, else refuses.
        try:
            path.rmdir()
        except OSError:
            return False
    if step.old is None and _packed_below(git_dir, step.name):
        return False
    oid, target = _raw(git_dir, step.name)
    if target is not None:
        raise NotHandled(f"{step.name} is a symbolic ref")
    step.current = oid
    return oid == step.old


def _zone(timestamp: int) -> str:
    """The local time zone as git writes it in a reflog line (``+0000``, ``-0130``)."""
    offset = int(time.localtime(timestamp).tm_gmtoff) // 60
    sign = "-" if offset < 0 else "+"
    return f"{sign}{abs(offset) // 60:02d}{abs(offset) % 60:02d}"


def _append_reflog(git_dir: Path, name: str, line: bytes) -> None:
    path = git_dir / "logs" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _no_sync(paths: Iterable[Path]) -> None:
    del paths  # a repository still being built: its builder syncs it whole


def _head_branch(git_dir: Path) -> str | None:
    """The branch ``HEAD`` names (``None``: a detached ``HEAD``), read without its lock,
    as git reads it to decide whether a branch's move is logged in ``HEAD``'s reflog."""
    return _raw(git_dir, "HEAD")[1]


def _plan(git_dir: Path, updates: Sequence[RefUpdate]) -> list[_Step]:
    names = [u.name for u in updates]
    if len(set(names)) != len(names) or "HEAD" in names:
        raise ValueError("a transaction names each ref once, and never HEAD")
    steps = [_Step(u.name, u.old, u.new) for u in updates]
    branch = _head_branch(git_dir)
    for u in updates:
        if u.name == branch and u.new is not None:
            steps.append(_Step("HEAD", u.old, u.new, log_of=branch))
    return steps


def update(
    git_dir: Path,
    updates: Sequence[RefUpdate],
    committer: str,
    *,
    sync: bool = True,
    also_sync: Iterable[Path] = (),
) -> bool:
    """Apply ``updates`` as one transaction (module docstring); ``False``, with nothing
    changed, when a ref does not hold its expected old value or someone else keeps it
    locked. ``committer`` (``Name <email>``) signs the reflog lines. Unlike
    ``git update-ref``, the new values are not checked to name existing objects (commits,
    for a branch): the caller has just written them.

    ``also_sync`` (the directory of a pack just written, say) is synced with the new
    values, before any ref is renamed: what the refs will name reaches the disk first,
    in the same round of syncs. ``sync`` false leaves every sync to the caller: for a
    repository still being built, that nobody else can see yet, and that its builder
    syncs whole.

    Raises :class:`NotHandled`, with nothing changed, for what is left to git.
    """
    steps = _plan(git_dir, updates)
    try:
        for step in steps:
            fd = _lock(git_dir, step.name, time.monotonic() + LOCK_TIMEOUT)
            if fd is None:
                return False
            step.locked = True
            try:
                if not _check(git_dir, step):
                    return False
                if step.log_of is None and step.new is not None and step.new != step.current:
                    os.write(fd, f"{step.new}\n".encode())
                    step.written = True
            finally:
                os.close(fd)
        # Every new value on disk before any of its names can reach the disk.
        flush = fsync_all if sync else _no_sync
        flush([*also_sync, *(git_dir / f"{s.name}.lock" for s in steps if s.written)])
        # Every ref is locked and checked: log, then publish, each in turn, as git does.
        timestamp = int(time.time())
        signature = f"{committer} {timestamp} {_zone(timestamp)}"
        for step in steps:
            if step.written or step.log_of is not None:
                line = f"{step.current or ZERO_OID} {step.new} {signature}\n"
                _append_reflog(git_dir, step.name, line.encode())
            if step.written:
                os.rename(git_dir / f"{step.name}.lock", git_dir / step.name)
                step.locked = False
        # ... and their names, before the transaction is said to be done.
        flush((git_dir / step.name).parent for step in steps if step.written)
        return True
    finally:
        for step in steps:
            if step.locked:
                with suppress(FileNotFoundError):
                    (git_dir / f"{step.name}.lock").unlink()
