"""The path rule refuses every name git reserves: what ``git checkout`` refuses on some
file system (``verify_path`` with ``core.protectHFS`` and ``core.protectNTFS``), and git's
control files, whose contents ``git fsck`` checks, in every spelling."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wikisaga.errors import InvalidFilePath
from wikisaga.ids import git_reserved_name, validate_file_path

GIT_DIR_SPELLINGS = [
    ".git",
    ".GIT",
    ".Git",
    "git~1",
    "GIT~1",
    "Git~1",
    ".git.",
    ".git ",
    ".git . .",
    "git~1.",
    "git~1 ",
    ".git::$INDEX_ALLOCATION",
    "git~1::$INDEX_ALLOCATION",
    ".g\u200cit",
    ".\u200dgit",
    ".gi\u200et",
    ".git\u200f",
    "\u202a.git",
    ".g\u202bi\u202ct\u202d",
    ".git\u202e",
    ".\u206agit\u206f",
    "\ufeff.git",
    ".\ufeffGIT",
]

CONTROL_FILE_SPELLINGS = {
    ".gitmodules": [
        ".gitmodules",
        ".GITMODULES",
        ".gitmodules.",
        ".gitmodules ",
        ".gitmodules:stream",
        ".git\u200cmodules",
        "gitmod~1",
        "GITMOD~2",
        "gitmod~4",
        "gi7eba~1",
        "gi7eba~9",
        "gi7eb~12",
        "gi7e~123",
        "g~123456",
        "~1234567",
    ],
    ".gitattributes": [".gitattributes", ".GitAttributes", "gitatt~1", "gi7d29~1", "gi7d2~99"],
    ".gitignore": [".gitignore", ".gitignore..", "gitign~1", "GITIGN~3", "gi250a~1", "gi25~123"],
    ".mailmap": [".mailmap", ".MailMap", ".mail\u200dmap", "mailma~1", "maba30~1", "maba~123"],
}

# Names that look close but that git accepts everywhere; the rule must accept them too.
NEAR_MISSES = [
    "git",
    ".gitkeep",
    ".github",
    ".gitlab-ci.yml",
    "git~2",
    "git~10",
    "gitmod~5",
    "gitmod~0",
    "gi7eba~0",
    "gi7eba~",
    "gi7eba~1x",
    "gitmodules",
    ".gitmodule",
    ".gitmodules2",
    "mailmap",
    "x.git",
    "a.gitignore",
    "~1",
    "~123456",
    "~12345678",
    ".gi",
    "..git",
]


@pytest.mark.parametrize("segment", GIT_DIR_SPELLINGS, ids=ascii)
def test_every_spelling_of_dot_git_is_reserved(segment: str) -> None:
    assert git_reserved_name(segment) == ".git"


@pytest.mark.parametrize(
    ("control", "segment"),
    [(control, s) for control, spellings in CONTROL_FILE_SPELLINGS.items() for s in spellings],
    ids=ascii,
)
def test_every_spelling_of_a_control_file_is_reserved(control: str, segment: str) -> None:
    assert git_reserved_name(segment) == control


@pytest.mark.parametrize("segment", NEAR_MISSES, ids=ascii)
def test_names_git_accepts_are_not_reserved(segment: str) -> None:
    assert git_reserved_name(segment) is None
    assert validate_file_path(f"wiki/{segment}/page.md") == f"wiki/{segment}/page.md"


@pytest.mark.parametrize(
    "path",
    [
        "git~1/x.md",
        "GIT~1/hooks/post-checkout",
        "wiki/git~1/config",
        ".gitmodules",
        "wiki/.gitmodules",
        "sub/.gitattributes",
        ".gitignore",
        "docs/.mailmap",
        "gitmod~1",
        "a/GITMOD~1/b.md",
        ".gitmodules/x.md",
    ],
)
def test_paths_with_a_reserved_segment_anywhere_are_refused(path: str) -> None:
    with pytest.raises(InvalidFilePath, match="not allowed in a git tree"):
        validate_file_path(path)


# -- git itself as the oracle ------------------------------------------------------------


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)
    return env


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A scratch repository and the id of an empty blob in it."""
    repo = tmp_path_factory.mktemp("git-oracle")
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=_git_env())
    blob = (
        subprocess.run(
            ["git", "-C", str(repo), "hash-object", "-w", "--stdin"],
            input=b"",
            capture_output=True,
            check=True,
            env=_git_env(),
        )
        .stdout.decode()
        .strip()
    )
    return repo, blob


def git_refuses_to_check_out(scratch: tuple[Path, str], path: str) -> bool:
    """Whether git's own path rule (HFS+ and NTFS protection on) refuses ``path``."""
    repo, blob = scratch
    done = subprocess.run(
        [
            "git",
            "-C",
            str(repo),
            "-c",
            "core.protectHFS=true",
            "-c",
            "core.protectNTFS=true",
            "update-index",
            "--add",
            "--cacheinfo",
            f"100644,{blob},{path}",
        ],
        capture_output=True,
        env=_git_env(),
        check=False,
    )
    (repo / ".git" / "index").unlink(missing_ok=True)
    return done.returncode != 0


def _refused_by_us(path: str) -> bool:
    try:
        validate_file_path(path)
    except InvalidFilePath:
        return True
    return False


@pytest.mark.parametrize("segment", GIT_DIR_SPELLINGS + NEAR_MISSES, ids=ascii)
def test_the_corpus_agrees_with_git_on_dot_git(scratch: tuple[Path, str], segment: str) -> None:
    """For each name of the corpus, in a directory of its own, git and the rule agree on
    what cannot be checked out (the rule may refuse more, for other reasons)."""
    path = f"{segment}/x.md"
    if git_refuses_to_check_out(scratch, path):
        assert _refused_by_us(path), path


_TRICKY = st.sampled_from(
    [
        ".",
        "g",
        "G",
        "i",
        "I",
        "t",
        "T",
        "~",
        "1",
        "2",
        " ",
        ":",
        "$",
        "m",
        "o",
        "d",
        "u",
        "l",
        "e",
        "s",
        "\u200c",
        "\u200d",
        "\ufeff",
        "\u202e",
        "a",
        "x",
    ]
)


@settings(max_examples=150, deadline=None)
@given(segment=st.lists(_TRICKY, min_size=1, max_size=8).map("".join))
def test_whatever_git_refuses_to_check_out_the_rule_refuses(
    scratch: tuple[Path, str], segment: str
) -> None:
    """Generated names around ``.git`` and ``git~1``: none that git refuses is accepted."""
    path = f"d/{segment}/x.md"
    if git_refuses_to_check_out(scratch, path):
        assert _refused_by_us(path), ascii(path)
