"""``wikisaga ingest`` end to end, in a subprocess, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from content_support import free_port


def wikisaga(*args: str, data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items() if not key.startswith("WIKISAGA_")}
    environ.update({"WIKISAGA_DATA_DIR": str(data_dir), **env})
    return subprocess.run(
        [sys.executable, "-W", "error", "-m", "wikisaga", "ingest", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=environ,
    )


def as_json(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_ingest_then_reingest_then_prune_with_json(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "a.md").write_text("# A\n\nalpha", encoding="utf-8")
    (docs / "sub" / "b.rst").write_text("B\n=\n\nbeta", encoding="utf-8")
    (docs / "c.bin").write_bytes(b"\x00\x01")
    data = tmp_path / "data"
    args = ("--project", "proj", "--user", "alice", "--json")

    first = as_json(wikisaga(*args, str(docs), data_dir=data))
    (docs / "a.md").write_text("# A\n\nalpha, changed", encoding="utf-8")
    second = as_json(wikisaga(*args, str(docs / "a.md"), data_dir=data))
    (docs / "a.md").unlink()
    third = as_json(wikisaga(*args, "--prune", str(docs), data_dir=data))

    assert first["counts"] == {"added": 2, "updated": 0, "unchanged": 0, "removed": 0, "skipped": 1}
    assert first["added"] == ["a.md", "sub/b.rst"]
    assert first["skipped"] == [{"path": "c.bin", "reason": "unsupported format (.bin)"}]
    assert second["updated"] == ["a.md"]
    assert (third["unchanged"], third["removed"]) == (["sub/b.rst"], ["a.md"])
    assert (data / "chroma").is_dir()


def test_the_summary_names_what_was_skipped_and_why(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ok.txt").write_text("fine", encoding="utf-8")
    (docs / "big.txt").write_text("x" * 100, encoding="utf-8")

    done = wikisaga(
        "--project",
        "p",
        "--user",
        "u",
        str(docs),
        data_dir=tmp_path,
        WIKISAGA_INGEST_MAX_BYTES="50",
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "p: 1 added, 0 updated, 0 unchanged, 0 removed, 1 skipped",
        "  added    ok.txt",
        "  skipped  big.txt: too large (100 bytes; the limit is 50)",
    ]


def test_chroma_down_is_one_line_and_a_non_zero_status(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    (tmp_path / "a.md").write_text("# A", encoding="utf-8")

    done = wikisaga(
        "--project", "p", "--user", "u", str(tmp_path / "a.md"), data_dir=tmp_path,
        WIKISAGA_CHROMA_URL=url,
    )  # fmt: skip

    assert done.returncode == 1
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"wikisaga: error: document store {url} is unavailable")


def test_a_bad_project_id_or_a_missing_path_is_refused_in_one_line(tmp_path: Path) -> None:
    bad_id = wikisaga("--project", "../up", "--user", "u", str(tmp_path), data_dir=tmp_path)
    missing = wikisaga("--project", "p", "--user", "u", str(tmp_path / "nope"), data_dir=tmp_path)

    assert bad_id.returncode == 1
    assert bad_id.stderr.splitlines() == [
        "wikisaga: error: project id must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}"
    ]
    assert missing.returncode == 1
    assert missing.stderr.splitlines() == [
        f"wikisaga: error: {tmp_path / 'nope'}: no such file or folder"
    ]


def test_the_command_line_starts_without_chroma_or_the_parsers() -> None:
    """Only ``wikisaga ingest`` pays for importing them."""
    code = (
        "import sys, wikisaga.cli.app\n"
        "print(sorted(m for m in ('chromadb', 'docutils', 'markdown_it') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_the_progress_bar_follows_the_files() -> None:
    from wikisaga.cli.ingest import _progress_bar  # noqa: PLC0415

    with _progress_bar(enabled=True) as advance:
        assert advance is not None
        advance(1, 2, "a.md")
        advance(2, 2, "b.md")
    with _progress_bar(enabled=False) as nothing:
        assert nothing is None
