"""The rules for every identifier and path wikisaga takes from outside, in one place.

Clients, services and sagas all check ids here, so a value one of them accepts is never
refused by another. Each check returns the value (normalised where the rule says so) or
raises an :class:`~wikisaga.errors.InvalidId` subclass, which is a :class:`ValueError`; a
service answers it with 400.

A **project id** matches ``[A-Za-z0-9][A-Za-z0-9._-]{0,127}`` and contains no ``..``; it is
safe as a single directory name and as a git ref component.

A **snapshot id** has the same characters and also does not end in ``.`` or ``.lock``, so
it is a valid git tag name (``git check-ref-format``). :func:`snapshot_id_for` derives one
from any saga id.

A **saga id** or **user id** is 1 to 256 printable characters without surrounding spaces;
a user id is compared in its NFC form, so the same name typed two ways is one user.

A **file path** is relative and ``/``-separated. After NFC normalisation it must satisfy:

- 1 to :data:`MAX_PATH_BYTES` bytes of UTF-8, at most :data:`MAX_PATH_DEPTH` segments,
  each segment at most :data:`MAX_SEGMENT_BYTES` bytes;
- no leading ``/``, no empty segment (``a//b``, trailing ``/``), no ``.`` or ``..`` segment;
- no segment that git refuses to check out or that ``git fsck`` flags (snapshots are git
  trees that anyone may clone, see :func:`git_reserved_name`): ``.git`` in any spelling a
  checkout on HFS+ or NTFS would take for it (case, ignorable code points, trailing dots
  and spaces, an NTFS stream suffix, the 8.3 short name ``git~1``), and git's control files
  ``.gitmodules``, ``.gitattributes``, ``.gitignore``, ``.mailmap`` in the same spellings
  and as their NTFS short names (``gitmod~1``, ``gi7eba~1``, ...), anywhere in the tree;
- no segment starting with a space or ending with a space or ``.`` (names that Windows and
  some tools silently rewrite);
- only these characters: Unicode letters, marks and digits (categories L*, M*, N*), the
  ASCII space, and ``- _ . ~ + = , @ ( ) [ ] { } ! # & ' $ ;``.

So these are refused: ``\\``, ``:`` (drive letters, alternate streams), ``%`` (a path that
still holds a percent escape after the framework decoded it once is an attempt at double
encoding), NUL and every control or format character (bidi overrides, zero-width joiners),
every separator other than the ASCII space, and every symbol or punctuation outside the
list above — which covers the look-alikes of ``/``, ``.`` and ``\\`` (U+2215, U+2044,
U+FF0F, U+29F8, U+2024, U+FF0E, U+FE52, U+FF3C, U+2216, ...). As a second line, a segment
whose NFKC form contains ``/`` or ``\\`` or is ``.``/``..`` is refused too.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
import time
import unicodedata

from wikisaga.errors import (
    InvalidFilePath,
    InvalidId,
    InvalidProjectId,
    InvalidSnapshotId,
    InvalidUserId,
)

__all__ = [
    "MAX_ID_LENGTH",
    "MAX_PATH_BYTES",
    "MAX_PATH_DEPTH",
    "MAX_SEGMENT_BYTES",
    "PROJECT_ID_PATTERN",
    "SNAPSHOT_ID_PATTERN",
    "git_reserved_name",
    "is_valid_snapshot_id",
    "new_saga_id",
    "snapshot_id_for",
    "validate_file_path",
    "validate_path_prefix",
    "validate_project_id",
    "validate_saga_id",
    "validate_snapshot_id",
    "validate_user_id",
]

PROJECT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
SNAPSHOT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
"""Snapshot ids; also without ``..`` and not ending in ``.`` or ``.lock``."""
MAX_ID_LENGTH = 256
"""The longest saga id or user id, in characters."""
MAX_PATH_BYTES = 512
MAX_PATH_DEPTH = 16
MAX_SEGMENT_BYTES = 255

_PROJECT_ID = re.compile(PROJECT_ID_PATTERN)
_SNAPSHOT_ID = re.compile(SNAPSHOT_ID_PATTERN)
_ASCII_PUNCTUATION = frozenset(" -_.~+=,@()[]{}!#&'$;")
_ALLOWED_CATEGORIES = ("L", "M", "N")


# -- project, snapshot, saga and user ids --------------------------------------------------


def validate_project_id(project_id: str) -> str:
    """Return ``project_id`` unchanged if it is a valid project id, else raise
    :class:`~wikisaga.errors.InvalidProjectId`."""
    if not isinstance(project_id, str) or not _PROJECT_ID.fullmatch(project_id):
        raise InvalidProjectId("project id must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}")
    if ".." in project_id:
        raise InvalidProjectId("project id must not contain '..'")
    return project_id


def is_valid_snapshot_id(snapshot_id: str) -> bool:
    """Whether ``snapshot_id`` is usable as a snapshot id and as a git tag name.

    One to 128 characters of ``[A-Za-z0-9._-]``, starting with a letter or digit, without
    ``..``, not ending in ``.`` or ``.lock`` (git refuses such ref names).
    """
    return (
        isinstance(snapshot_id, str)
        and _SNAPSHOT_ID.fullmatch(snapshot_id) is not None
        and ".." not in snapshot_id
        and not snapshot_id.endswith((".", ".lock"))
    )


def validate_snapshot_id(snapshot_id: str) -> str:
    """Return ``snapshot_id`` if :func:`is_valid_snapshot_id`, else raise
    :class:`~wikisaga.errors.InvalidSnapshotId`."""
    if not is_valid_snapshot_id(snapshot_id):
        raise InvalidSnapshotId(
            "snapshot id must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}, without '..', "
            "and not end in '.' or '.lock'"
        )
    return snapshot_id


def snapshot_id_for(saga_id: str) -> str:
    """The snapshot id a saga publishes under: ``snap-{saga_id}`` when that is a valid
    snapshot id, else ``snap-`` and a digest of the saga id (stable, so a retry or a
    recoverer finds the same one)."""
    candidate = f"snap-{saga_id}"
    if is_valid_snapshot_id(candidate):
        return candidate
    return f"snap-{hashlib.sha256(saga_id.encode('utf-8')).hexdigest()[:40]}"


def _checked_name(value: object, kind: str, error: type[InvalidId]) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LENGTH:
        raise error(f"{kind} must be 1 to {MAX_ID_LENGTH} characters")
    if value != value.strip() or not value.isprintable():
        raise error(f"{kind} must be printable, without surrounding spaces")
    return value


def validate_saga_id(saga_id: str) -> str:
    """Return ``saga_id`` if it is 1 to 256 printable characters without surrounding
    spaces, else raise :class:`~wikisaga.errors.InvalidId`."""
    return _checked_name(saga_id, "saga id", InvalidId)


def validate_user_id(user_id: str) -> str:
    """Return the NFC form of ``user_id`` if it is 1 to 256 printable characters without
    surrounding spaces, else raise :class:`~wikisaga.errors.InvalidUserId`."""
    if isinstance(user_id, str):
        user_id = unicodedata.normalize("NFC", user_id)
    return _checked_name(user_id, "user id", InvalidUserId)


def new_saga_id(project_id: str) -> str:
    """A fresh id for a generation of ``project_id``: ``wiki-{project}-{UTC time}-{random}``."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    return f"wiki-{project_id}-{stamp}-{secrets.token_hex(3)}"


# -- names git reserves ------------------------------------------------------------------------

# Code points HFS+ ignores in file names, so that ".g\u200cit" is ".git" there (git's
# utf8.c, next_hfs_char).
_HFS_IGNORABLE = frozenset(
    "\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u206a\u206b\u206c\u206d\u206e\u206f\ufeff"
)
# git's control files, without their dot, and the prefix of the 8.3 short name NTFS falls
# back to for each (git's path.c, is_ntfs_dotgitmodules and friends).
_GIT_CONTROL_FILES = {
    "gitmodules": "gi7eba",
    "gitattributes": "gi7d29",
    "gitignore": "gi250a",
    "mailmap": "maba30",
}
_ASCII_DIGITS = frozenset("0123456789")


def _as_checked_out(segment: str) -> str:
    """The name a checkout on HFS+ or NTFS would compare: ignorable code points dropped,
    an NTFS stream (``name:stream``) cut off, trailing dots and spaces dropped (NTFS), and
    case folded (both). NFKC folds look-alike letters too, to err on the side of refusing."""
    name = "".join(char for char in segment if char not in _HFS_IGNORABLE)
    name = name.split(":", 1)[0].rstrip(" .")
    return unicodedata.normalize("NFKC", name).casefold()


def _is_ntfs_short_name(name: str, control: str, fallback: str) -> bool:
    """Whether ``name`` is an NTFS 8.3 short name of ``.{control}``: its first six letters
    and ``~1`` to ``~4``, or the fallback form (a prefix of ``fallback``, ``~``, a digit
    1-9, digits; eight characters in all)."""
    if len(name) != 8:
        return False
    if name[:6] == control[:6] and name[6] == "~" and name[7] in "1234":
        return True
    tilde = name.find("~")
    return (
        0 <= tilde <= 6
        and name[:tilde] == fallback[:tilde]
        and name[tilde + 1] in "123456789"
        and all(char in _ASCII_DIGITS for char in name[tilde + 2 :])
    )


@functools.lru_cache(maxsize=4096)
def git_reserved_name(segment: str) -> str | None:
    """The git name that path segment ``segment`` stands for, or ``None``.

    ``.git`` for ``.git`` itself in any spelling that git refuses to check out on some
    file system (``verify_path`` with ``core.protectHFS`` and ``core.protectNTFS``):
    ``.GIT``, ``.g\u200cit``, ``.git.``, ``.git ``, ``.git::$INDEX_ALLOCATION``,
    ``git~1``. ``.gitmodules``, ``.gitattributes``, ``.gitignore`` or ``.mailmap`` for
    those control files in the same spellings and as their NTFS short names
    (``gitmod~1`` to ``gitmod~4``, ``gi7eba~1``, ...): git reads them from a checkout and
    ``git fsck`` checks their contents, so a snapshot never holds them.
    """
    name = _as_checked_out(segment)
    if name in (".git", "git~1"):
        return ".git"
    for control, fallback in _GIT_CONTROL_FILES.items():
        if name == f".{control}" or _is_ntfs_short_name(name, control, fallback):
            return f".{control}"
    return None


# -- file paths ------------------------------------------------------------------------------


def _refuse(reason: str) -> InvalidFilePath:
    return InvalidFilePath(f"invalid file path: {reason}")


def _check_character(char: str) -> None:
    if char in _ASCII_PUNCTUATION:
        return
    if char.isascii():
        if char.isalnum():
            return
        raise _refuse(f"character {char!r} is not allowed")
    category = unicodedata.category(char)
    if category.startswith(_ALLOWED_CATEGORIES):
        return
    name = unicodedata.name(char, "unnamed")
    raise _refuse(f"character U+{ord(char):04X} ({name}) is not allowed")


def _check_segment(segment: str) -> None:
    if segment == "":
        raise _refuse("empty segment (leading, trailing or doubled '/')")
    if segment in (".", ".."):
        raise _refuse(f"'{segment}' segments are not allowed")
    reserved = git_reserved_name(segment)
    if reserved is not None:
        spelled = "" if segment == reserved else f" ({segment!r} is a spelling of it)"
        raise _refuse(f"'{reserved}' segments are not allowed in a git tree{spelled}")
    if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
        raise _refuse(f"a segment is longer than {MAX_SEGMENT_BYTES} bytes")
    for char in segment:
        _check_character(char)
    if segment.startswith(" ") or segment.endswith((" ", ".")):
        raise _refuse("a segment must not start with a space or end with a space or '.'")
    folded = unicodedata.normalize("NFKC", segment)
    if "/" in folded or "\\" in folded or folded.strip() in (".", "..") or "%" in folded:
        raise _refuse("a segment is a look-alike of a separator or a dot segment")


def validate_file_path(path: str) -> str:
    """Return the NFC form of ``path`` if it is a safe relative file path, else raise.

    Raises :class:`~wikisaga.errors.InvalidFilePath` with the reason. The answers for
    paths that pass are remembered (a pure function of the path): a generation's paths
    are checked by every service they pass through, and again at every regeneration.
    """
    if not isinstance(path, str) or path == "":
        raise _refuse("path is empty")
    return _validated_path(path)


@functools.lru_cache(maxsize=4096)
def _validated_path(path: str) -> str:
    # Check the raw bytes first: normalisation must not be what makes a bad path look good.
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES * 4:
        raise _refuse(f"path is longer than {MAX_PATH_BYTES} bytes")
    for char in path:
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            raise _refuse(f"control or format character U+{ord(char):04X} is not allowed")
    if "\\" in path:
        raise _refuse("backslashes are not allowed")
    if path.startswith("/"):
        raise _refuse("absolute paths are not allowed")
    normalized = unicodedata.normalize("NFC", path)
    if len(normalized.encode("utf-8")) > MAX_PATH_BYTES:
        raise _refuse(f"path is longer than {MAX_PATH_BYTES} bytes")
    segments = normalized.split("/")
    if len(segments) > MAX_PATH_DEPTH:
        raise _refuse(f"path is deeper than {MAX_PATH_DEPTH} segments")
    for segment in segments:
        _check_segment(segment)
    return normalized


def validate_path_prefix(prefix: str) -> str:
    """Validate a listing prefix: empty, or a file path optionally ending with ``/``."""
    if prefix == "":
        return prefix
    if prefix.endswith("/"):
        return validate_file_path(prefix[:-1]) + "/"
    return validate_file_path(prefix)
