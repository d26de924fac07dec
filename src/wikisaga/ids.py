"""Validation of project ids and file paths taken from requests (DESIGN §3).

A **project id** matches ``[A-Za-z0-9][A-Za-z0-9._-]{0,127}`` and contains no ``..``; it is
safe as a single directory name and as a git ref component.

A **file path** is relative and ``/``-separated. After NFC normalisation it must satisfy:

- 1 to :data:`MAX_PATH_BYTES` bytes of UTF-8, at most :data:`MAX_PATH_DEPTH` segments,
  each segment at most :data:`MAX_SEGMENT_BYTES` bytes;
- no leading ``/``, no empty segment (``a//b``, trailing ``/``), no ``.`` or ``..`` segment,
  no segment that is ``.git`` in any case (snapshots are git trees);
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

import re
import unicodedata

from wikisaga.services._common.errors import InvalidPath

__all__ = [
    "MAX_PATH_BYTES",
    "MAX_PATH_DEPTH",
    "MAX_SEGMENT_BYTES",
    "PROJECT_ID_PATTERN",
    "validate_file_path",
    "validate_path_prefix",
    "validate_project_id",
]

PROJECT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
MAX_PATH_BYTES = 512
MAX_PATH_DEPTH = 16
MAX_SEGMENT_BYTES = 255

_PROJECT_ID = re.compile(PROJECT_ID_PATTERN)
_ASCII_PUNCTUATION = frozenset(" -_.~+=,@()[]{}!#&'$;")
_ALLOWED_CATEGORIES = ("L", "M", "N")


def validate_project_id(project_id: str) -> str:
    """Return ``project_id`` unchanged if it is a valid project id, else raise InvalidPath."""
    if not isinstance(project_id, str) or not _PROJECT_ID.fullmatch(project_id):
        raise InvalidPath(
            "project id must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}",
            extra={"field": "project_id"},
        )
    if ".." in project_id:
        raise InvalidPath("project id must not contain '..'", extra={"field": "project_id"})
    return project_id


def _refuse(reason: str) -> InvalidPath:
    return InvalidPath(f"invalid file path: {reason}", extra={"field": "file_path"})


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
    if segment.casefold() == ".git":
        raise _refuse("'.git' segments are not allowed")
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

    Raises :class:`~wikisaga.services._common.errors.InvalidPath` with the reason.
    """
    if not isinstance(path, str) or path == "":
        raise _refuse("path is empty")
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
