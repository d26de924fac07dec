"""A bare repository's refs read in this process, as git's files backend keeps them
(``gitrepository-layout``), without starting git.

A ref is the loose file ``<repo>/<name>`` if there is one, else its line in
``<repo>/packed-refs``. A loose file holds ``<oid>\\n``, or ``ref: <target>\\n`` for a
symbolic ref (followed, as git does, at most five deep); ``packed-refs`` has a
``# pack-refs with: ...`` header, ``<oid> <name>`` lines and, after the line of an
annotated tag, its peeled ``^<oid>``. Nothing is locked: a ref can change a moment after
it is read, so a reading is only ever a guess that a compare-and-swap then checks.

:class:`NotHandled` means "ask git": a symlinked, broken or otherwise unusual ref.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Iterable
from pathlib import Path

__all__ = ["NotHandled", "read"]

_SYMREF_DEPTH = 5
_HEX = re.compile(rb"[0-9a-f]{40}")
_SYMREF = b"ref: "


class NotHandled(Exception):
    """The refs are in a state this module leaves to git; nothing was locked or changed."""


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
