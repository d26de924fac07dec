"""The demo a new user runs first must work end to end, in a fresh data directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_crashes_recovers_and_publishes(tmp_path: Path) -> None:
    """The child is SIGKILLed mid-saga, recovery restores the old wiki, the rerun commits."""
    env = {"WIKISAGA_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "wikisaga", "demo", "--crash"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "killed by signal 9" in out
    assert "first generation intact, byte for byte: yes" in out
    assert "Rolling back: Write guide.md" in out
    assert out.rstrip().endswith("demo succeeded")
    wiki = tmp_path / "data" / "demo" / "wiki"
    assert sorted(p.name for p in wiki.iterdir()) == ["faq.md", "guide.md", "intro.md"]


def test_the_sample_corpus_ships_twenty_markdown_documents() -> None:
    """Package data: at least 20 short Markdown documents, each with a title."""
    from importlib import resources  # noqa: PLC0415

    corpus = resources.files("wikisaga") / "sample_corpus"
    documents = [item for item in corpus.iterdir() if item.name.endswith(".md")]
    assert len(documents) >= 20
    for document in documents:
        text = document.read_text(encoding="utf-8")
        assert text.startswith("# ")
        assert len(text) < 2000


def test_real_demo_publishes_survives_a_failed_snapshot_and_clones(tmp_path: Path) -> None:
    """The real services on the sample corpus: the first generation publishes; with git
    stopped the second is rolled back and the first wiki, graph and history stay; the
    published wiki is cloned into the data directory."""
    env = {"WIKISAGA_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "wikisaga", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "create_snapshot      failed" in out
    assert "Wiki generation failed and was rolled back" in out
    assert "previous wiki, graph and history intact: yes" in out
    assert out.rstrip().endswith("demo succeeded")
    clone = tmp_path / "data" / "demo" / "wiki"
    pages = list((clone / "wiki").rglob("*.md"))
    assert len(pages) >= 20
    log = subprocess.run(
        ["git", "-C", str(clone), "log", "--format=%s"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert log.stdout.startswith("Auto-generated wiki with ")
    assert len(log.stdout.splitlines()) == 1
