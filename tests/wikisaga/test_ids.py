"""The shared path validator: project ids and file paths from requests."""

from __future__ import annotations

import posixpath
import unicodedata

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from wikisaga.errors import InvalidFilePath, InvalidId, InvalidProjectId
from wikisaga.ids import (
    is_valid_snapshot_id,
    snapshot_id_for,
    validate_file_path,
    validate_path_prefix,
    validate_project_id,
    validate_user_id,
)
from wikisaga.services._common.errors import to_service_error

GOOD_PROJECT_IDS = ["p", "proj-123", "A.b_c-9", "0" * 128, "a.b", "x-y.z_1"]
BAD_PROJECT_IDS = [
    "",
    ".",
    "..",
    "a..b",
    "../x",
    "a/b",
    "a\\b",
    ".hidden",
    "-dash",
    "_under",
    "a" * 129,
    "a b",
    "a\x00b",
    "proj\n",
    "projé",
    "プロジェクト",
    "p%2e%2e",
    "p:1",
]


@pytest.mark.parametrize("project_id", GOOD_PROJECT_IDS)
def test_valid_project_ids_are_returned_unchanged(project_id: str) -> None:
    assert validate_project_id(project_id) == project_id


@pytest.mark.parametrize("project_id", BAD_PROJECT_IDS)
def test_invalid_project_ids_are_refused(project_id: str) -> None:
    with pytest.raises(InvalidProjectId):
        validate_project_id(project_id)


GOOD_PATHS = [
    "a.md",
    "wiki/document.md",
    "wiki/sub dir/Page (1).md",
    "wiki/Ünïcödé/日本語.md",
    ".gitkeep",
    "wiki/.hidden.md",
    "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p.md",
    "x" * 255,
    "notes/v1.2~draft+final=ok,@home[1]{2}!#&'$;.md",
]


@pytest.mark.parametrize("path", GOOD_PATHS)
def test_valid_paths_are_accepted(path: str) -> None:
    assert validate_file_path(path) == path


def test_paths_are_returned_in_nfc_form() -> None:
    decomposed = "wiki/cafe\u0301.md"
    assert validate_file_path(decomposed) == "wiki/caf\u00e9.md"


BAD_PATHS = {
    "empty": "",
    "parent": "..",
    "current": ".",
    "parent segment": "a/../b",
    "leading parent": "../etc/passwd",
    "trailing parent": "a/..",
    "current segment": "a/./b",
    "absolute": "/etc/passwd",
    "unc": "//server/share",
    "empty segment": "a//b",
    "trailing slash": "a/",
    "drive letter": "C:/Windows/win.ini",
    "drive relative": "c:x",
    "backslash": "a\\b",
    "backslash traversal": "..\\..\\x",
    "nul": "a\x00b",
    "newline": "a\nb",
    "tab": "a\tb",
    "delete": "a\x7fb",
    "escape": "a\x1bb",
    "percent dot": "%2e%2e/x",
    "percent slash": "..%2fetc",
    "double encoded": "%252e%252e/x",
    "overlong utf8 escape": "%c0%ae%c0%ae/x",
    "division slash": "a\u2215b",
    "fraction slash": "a\u2044b",
    "fullwidth solidus": "a\uff0fb",
    "big solidus": "a\u29f8b",
    "set minus": "a\u2216b",
    "fullwidth backslash": "a\uff3cb",
    "one dot leader": "\u2024\u2024/x",
    "two dot leader": "\u2025/x",
    "fullwidth full stop": "\uff0e\uff0e/x",
    "small full stop": "\ufe52\ufe52/x",
    "right-to-left override": "a\u202eb.md",
    "zero width space": "a\u200bb",
    "byte order mark": "\ufeffa",
    "no-break space": "a\u00a0b",
    "line separator": "a\u2028b",
    "lone surrogate": "a\ud800b",
    "private use": "a\ue000b",
    "too long": "x" * 513,
    "too deep": "/".join(["a"] * 17),
    "segment too long": "x" * 256,
    "git dir": ".git/config",
    "git dir any case": ".GIT/hooks/pre-commit",
    "nested git dir": "wiki/.git/HEAD",
    "trailing space": "a/b ",
    "leading space": " a",
    "trailing dot": "a.",
    "colon stream": "file.md:stream",
    "star": "a*b",
    "question": "a?b",
    "angle": "a<b",
    "pipe": "a|b",
    "quote": 'a"b',
    "tilde home parent": "~/../x",
    "only slash": "/",
}


@pytest.mark.parametrize("path", list(BAD_PATHS.values()), ids=list(BAD_PATHS))
def test_unsafe_paths_are_refused(path: str) -> None:
    with pytest.raises(InvalidFilePath) as caught:
        validate_file_path(path)
    answer = to_service_error(caught.value)  # what every service answers for it
    assert answer.status_code == 400
    assert answer.error_code == "invalid_path"
    assert answer.extra == {"field": "file_path"}


def test_the_refusal_says_why() -> None:
    with pytest.raises(InvalidFilePath, match=r"U\+2215"):
        validate_file_path("a\u2215b")


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [("", ""), ("wiki/", "wiki/"), ("wiki/pa", "wiki/pa"), ("a/b/", "a/b/")],
)
def test_prefixes_may_be_empty_or_end_with_a_slash(prefix: str, expected: str) -> None:
    assert validate_path_prefix(prefix) == expected


@pytest.mark.parametrize("prefix", ["/", "../", "wiki//", "/wiki/", "a\\"])
def test_unsafe_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(InvalidFilePath):
        validate_path_prefix(prefix)


# -- properties: paths built from segments whose verdict is known ----------------------------

# No letter of git's reserved names (.git, git~1, .gitmodules, .mailmap, ...) is among these
# characters, so the segment rule below is the whole rule for them; the names git reserves
# have tests of their own (test_ids_git_safe.py).
_SAFE_CHARACTERS = (
    "abcxyzABCXYZ0189" + "-_~+=,@()[]{}!#&'$;" + " ." + "éüßΩж日本" + "\u0301"  # combining acute
)


def _is_safe_segment(segment: str) -> bool:
    """The segment rule of wikisaga.ids, for segments of _SAFE_CHARACTERS only."""
    return (
        segment not in (".", "..")
        and segment.casefold() != ".git"
        and not segment.startswith(" ")
        and not segment.endswith((" ", "."))
    )


_CORE = st.text(alphabet=_SAFE_CHARACTERS.replace(" ", "").replace(".", ""), min_size=1, max_size=6)
SAFE_SEGMENTS = st.one_of(
    st.text(alphabet=_SAFE_CHARACTERS, min_size=1, max_size=12).filter(_is_safe_segment),
    # Dots where they are allowed: in front of and inside a name, one or two at a time.
    st.builds("{}..{}".format, _CORE, _CORE),
    st.builds("{}.{}".format, _CORE, _CORE),
    _CORE.map("..{}".format),
    _CORE.map(".{}".format),
)
"""Segments every service must accept (letters, digits, marks, the allowed punctuation)."""

UNSAFE_SEGMENTS: dict[str, tuple[st.SearchStrategy[str], str]] = {
    "parent": (st.just(".."), r"'\.\.' segments are not allowed"),
    "current": (st.just("."), r"'\.' segments are not allowed"),
    ".git in any case": (
        st.sampled_from([".git", ".GIT", ".Git", ".gIT"]),
        r"'\.git' segments are not allowed",
    ),
    # Position decides which rule names it: "/a" is absolute, "a//b" and "a/" are empty.
    "empty": (st.just(""), r"empty segment|absolute paths|path is empty"),
    "one dot leader dots": (st.just("\u2024\u2024"), r"U\+2024"),
    "two dot leader": (st.just("\u2025"), r"U\+2025"),
    "fullwidth dots": (st.just("\uff0e\uff0e"), r"U\+FF0E"),
    "small full stops": (st.just("\ufe52\ufe52"), r"U\+FE52"),
    "division slash": (st.just("a\u2215b"), r"U\+2215"),
    "fullwidth solidus": (st.just("a\uff0fb"), r"U\+FF0F"),
    "backslash": (st.sampled_from(["a\\b", "..\\x", "\\"]), r"backslashes are not allowed"),
    "percent escape": (st.sampled_from(["%2e%2e", "a%2fb"]), r"'%' is not allowed"),
    "drive or stream colon": (st.sampled_from(["c:", "a:stream"]), r"':' is not allowed"),
    "trailing dot": (st.sampled_from(["a.", "..."]), r"end with a space or '\.'"),
    "surrounding space": (st.sampled_from([" a", "a "]), r"start with a space or end"),
    "control character": (st.sampled_from(["a\x00b", "a\nb", "a\u202eb"]), r"control or format"),
}
"""Segments that must be refused, by kind, with the reason the refusal must give."""

_UNSAFE = st.sampled_from(sorted(UNSAFE_SEGMENTS)).flatmap(
    lambda kind: UNSAFE_SEGMENTS[kind][0].map(lambda segment: (kind, segment))
)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


@given(
    before=st.lists(SAFE_SEGMENTS, max_size=3),
    unsafe=_UNSAFE,
    after=st.lists(SAFE_SEGMENTS, max_size=3),
)
@example(before=["a"], unsafe=("parent", ".."), after=["b"])
@example(before=[], unsafe=("parent", ".."), after=["etc", "passwd"])
@example(before=["wiki"], unsafe=("parent", ".."), after=[])
@example(before=["wiki"], unsafe=(".git in any case", ".GIT"), after=["config"])
def test_a_path_with_one_unsafe_segment_is_refused_for_that_segment(
    before: list[str], unsafe: tuple[str, str], after: list[str]
) -> None:
    """Wherever one unsafe segment sits among safe ones, the path is refused, and the
    refusal names that segment's rule."""
    kind, segment = unsafe
    event(f"unsafe segment: {kind}")
    event(f"position: {'first' if not before else 'last' if not after else 'inside'}")
    path = "/".join([*before, segment, *after])
    with pytest.raises(InvalidFilePath, match=UNSAFE_SEGMENTS[kind][1]):
        validate_file_path(path)


@given(st.lists(SAFE_SEGMENTS, min_size=1, max_size=6))
@example(["wiki", "..a", "b..c"])
@example([".hidden", "a..b", ".gitkeep", "x.git", "a.git.b"])
def test_a_path_of_safe_segments_is_accepted_segment_for_segment(segments: list[str]) -> None:
    """A path of safe segments (dots inside or in front included) is accepted as its NFC
    form, splits back into exactly those segments and stays below any root."""
    event(f"segments: {len(segments)}")
    event("with '..' inside a segment" if any(".." in s for s in segments) else "no '..'")
    path = "/".join(segments)
    valid = validate_file_path(path)
    assert valid == _nfc(path)
    assert valid.split("/") == [_nfc(segment) for segment in segments]
    joined = posixpath.normpath(posixpath.join("/root/project", valid))
    assert joined == "/root/project/" + valid


@given(
    st.lists(
        st.one_of(SAFE_SEGMENTS.map(lambda segment: (None, segment)), _UNSAFE),
        min_size=1,
        max_size=6,
    )
)
@example([(None, "a"), ("parent", ".."), (None, "b")])
@example([("parent", ".."), ("parent", ".."), (None, "x")])
def test_a_path_is_accepted_exactly_when_every_segment_is_safe(
    parts: list[tuple[str | None, str]],
) -> None:
    """Accepted paths never climb out of their root, and every path with an unsafe
    segment is refused: whatever the mix."""
    unsafe = [kind for kind, _ in parts if kind is not None]
    event("every segment safe" if not unsafe else f"{len(unsafe)} unsafe segment(s)")
    path = "/".join(segment for _, segment in parts)
    if unsafe:
        with pytest.raises(InvalidFilePath):
            validate_file_path(path)
        return
    valid = validate_file_path(path)
    assert valid == _nfc(path)
    assert ".." not in valid.split("/")
    assert posixpath.normpath(posixpath.join("/root/project", valid)).startswith("/root/project/")


@pytest.mark.parametrize("saga_id", ["a..b", "x" * 200, "ends.", "ends.lock", "white space", "é"])
def test_snapshot_id_for_always_builds_an_id_the_git_service_accepts(saga_id: str) -> None:
    """The saga derives its snapshot id with the git service's own rule, so an id such as
    ``a..b`` (once turned into ``snap-a..b``, which git refuses) is replaced by a digest."""
    snapshot_id = snapshot_id_for(saga_id)
    assert is_valid_snapshot_id(snapshot_id), snapshot_id
    assert snapshot_id == snapshot_id_for(saga_id)


def test_snapshot_id_for_keeps_a_valid_saga_id_readable() -> None:
    """``snap-{saga_id}`` when that is already a valid snapshot id."""
    assert snapshot_id_for("wiki-p-20261201T000000-abc123") == "snap-wiki-p-20261201T000000-abc123"


def test_invalid_ids_are_value_errors_naming_their_field() -> None:
    """Every refusal is a ValueError (a caller outside a service needs nothing else) and
    says which field it is about, which a service passes on in its 400 answer."""
    with pytest.raises(ValueError, match="project id") as caught:
        validate_project_id("a/b")
    assert isinstance(caught.value, InvalidId)
    assert caught.value.field == "project_id"
    with pytest.raises(InvalidFilePath) as path_error:
        validate_file_path("../x")
    assert path_error.value.field == "file_path"


def test_the_same_name_typed_two_ways_is_one_user() -> None:
    """A user id is compared in NFC form: "José" composed and decomposed is one user."""
    composed, decomposed = "Jos\u00e9", "Jose\u0301"
    assert validate_user_id(decomposed) == validate_user_id(composed) == composed


@pytest.mark.parametrize("user_id", ["", " lead", "trail ", "tab\t", "x" * 257, "nul\0"])
def test_unusable_user_ids_are_refused(user_id: str) -> None:
    """Empty, padded, unprintable or over-long user ids are refused with the reason."""
    with pytest.raises(InvalidId, match="user id"):
        validate_user_id(user_id)
