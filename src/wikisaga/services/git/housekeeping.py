"""Keeping the bare repositories clean: deleted content pruned, crash leftovers removed.

- **One writer at a time, across processes.** :func:`exclusive` holds an ``flock`` on
  ``<repo>/wikisaga-writer.flock`` around every change of a repository (a snapshot, a
  delete, a prune). A prune deletes objects no ref reaches, and a snapshot's objects are
  in that state for a moment (written, not yet on a ref), so the two must never
  overlap, whichever processes run them.
- **Deleted content is really gone.** A delete that can leave objects unreachable first
  marks the repository (``<repo>/wikisaga-prune-pending``), then changes its refs, then
  :func:`prune`\\ s it: reflog entries that reach what no ref reaches are expired, every
  reachable object is repacked into one pack and the rest dropped, loose leftovers
  pruned, and the mark removed. A crash or a failure in between leaves the mark, and the
  prune is done again by the next delete in the repository or at the next start-up, so
  an unreachable commit can never be fetched for long, in any protocol version (protocol
  v2 serves any object that exists, reachable or not).
- **Packs are merged now and then.** A snapshot writes its objects as one new pack
  (``objects``). Once a repository has more than :data:`PACK_LIMIT` packs (git's own
  ``gc.autoPackLimit``), the snapshot that made one too many :func:`consolidate`\\ s them
  into one, which also drops any object stored in more than one pack. No
  other snapshot does any housekeeping: counting the packs is one directory listing.
- **Crash leftovers go at start-up.** A process killed while writing objects or in the
  middle of a ref update leaves ``tmp_pack_*``/``tmp_idx_*``/``tmp_obj_*`` files and
  ``*.lock`` files behind (a stale lock makes every later ref update fail); a half-built
  repository leaves its staging directory. :func:`remove_leftovers` and
  :func:`remove_staging_dirs` remove those older than the start-up, and nothing else.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from wikisaga.services.git._sync import fsync_all

__all__ = [
    "PACK_LIMIT",
    "PRUNE_MARKER",
    "WRITER_LOCK",
    "GitRunner",
    "consolidate",
    "exclusive",
    "mark_prune_needed",
    "prune",
    "prune_needed",
    "remove_leftovers",
    "remove_staging_dirs",
    "too_many_packs",
]

PRUNE_MARKER = "wikisaga-prune-pending"
WRITER_LOCK = "wikisaga-writer.flock"
STAGING_SUFFIX = ".new"
PACK_LIMIT = 50
"""More packs than this and the next snapshot merges them (git's ``gc.autoPackLimit``)."""

_TEMPORARY_PREFIXES = ("tmp_pack_", "tmp_idx_", "tmp_obj_", "tmp_rev_", "tmp_mtimes_")

GitRunner = Callable[..., subprocess.CompletedProcess[bytes]]
"""``run(git_dir, *args)``: run one git command in a repository, raising on failure."""


@contextmanager
def exclusive(git_dir: Path) -> Iterator[None]:
    """Hold the repository's writer lock (blocking) for the ``with`` block."""
    fd = os.open(
        git_dir / WRITER_LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
    )
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def mark_prune_needed(git_dir: Path) -> None:
    """Record, durably, that the repository may hold objects to prune."""
    marker = git_dir / PRUNE_MARKER
    if marker.exists():
        return
    fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_all([git_dir])


def prune_needed(git_dir: Path) -> bool:
    """Whether a delete marked the repository and its prune has not finished yet."""
    return (git_dir / PRUNE_MARKER).exists()


def prune(run: GitRunner, git_dir: Path) -> None:
    """Drop every object no ref reaches, then the repository's mark.

    Call it holding :func:`exclusive`. Reflogs count as roots for git, so their entries
    that name an unreachable commit are expired first (``now`` means every such entry,
    however recent). ``repack -a -d`` then keeps only what is reachable, and
    ``prune --expire=now`` removes unreachable loose objects.
    """
    run(git_dir, "reflog", "expire", "--expire-unreachable=now", "--all")
    run(git_dir, "repack", "-a", "-d", "-q")
    run(git_dir, "prune", "--expire=now")
    (git_dir / PRUNE_MARKER).unlink(missing_ok=True)


def too_many_packs(git_dir: Path) -> bool:
    """Whether the repository has more than :data:`PACK_LIMIT` packs."""
    with os.scandir(git_dir / "objects" / "pack") as entries:
        return sum(1 for entry in entries if entry.name.endswith(".idx")) > PACK_LIMIT


def consolidate(run: GitRunner, git_dir: Path) -> None:
    """Merge every pack and loose object that a ref or reflog reaches into one pack, and
    drop the rest of the packs (call it holding :func:`exclusive`)."""
    run(git_dir, "repack", "-a", "-d", "-q")


def remove_leftovers(git_dir: Path, older_than: float) -> int:
    """Remove git's temporary files and ``*.lock`` files last changed before
    ``older_than`` (a time stamp) anywhere in the repository; return how many.

    Symlinks are neither followed nor removed.
    """
    removed = 0
    for dirpath, dirnames, filenames in os.walk(git_dir):
        directory = Path(dirpath)
        dirnames[:] = [d for d in dirnames if not (directory / d).is_symlink()]
        for name in filenames:
            if not (name.startswith(_TEMPORARY_PREFIXES) or name.endswith(".lock")):
                continue
            path = directory / name
            with suppress(FileNotFoundError):
                info = path.lstat()
                if path.is_symlink() or info.st_mtime >= older_than:
                    continue
                path.unlink()
                removed += 1
    return removed


def remove_staging_dirs(root: Path, older_than: float) -> int:
    """Remove repositories that were being built (``.<project>.*.new``) before
    ``older_than``; return how many."""
    removed = 0
    for entry in root.iterdir() if root.is_dir() else ():
        if not (entry.name.startswith(".") and entry.name.endswith(STAGING_SUFFIX)):
            continue
        if entry.is_symlink() or not entry.is_dir() or entry.lstat().st_mtime >= older_than:
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed += 1
    return removed
