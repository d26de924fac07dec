"""The demo a new user runs first must work end to end, in a fresh data directory, on the
real services (filesystem, git, orchestrator, backend as subprocesses)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest


def _demo(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"WIKISAGA_DATA_DIR": str(data), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "wikisaga", "demo", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _git(*args: str) -> list[str]:
    done = subprocess.run(["git", *args], capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


def _orchestrated(data: Path) -> int:
    """How many POST /generate the orchestrator service answered (its access log)."""
    logs = list((data / "demo" / "real" / "logs").glob("orchestrator-*.log"))
    return sum(log.read_text(encoding="utf-8").count("POST /generate") for log in logs)


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
    """The sample corpus: the first generation publishes (pages made by the orchestrator
    service); with git stopped the second is rolled back and the first wiki, graph and
    history stay; the published wiki is cloned into the data directory."""
    done = _demo(tmp_path / "data")
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "create_snapshot      failed" in out
    assert "Wiki generation failed and was rolled back" in out
    assert "previous wiki, graph and history intact: yes" in out
    assert out.rstrip().endswith("demo succeeded")
    assert _orchestrated(tmp_path / "data") == 2
    clone = tmp_path / "data" / "demo" / "wiki"
    pages = list((clone / "wiki").rglob("*.md"))
    assert len(pages) >= 20
    assert f"{len(pages)} Markdown pages in {clone / 'wiki'}" in out
    log = _git("-C", str(clone), "log", "--format=%s")
    assert log[0].startswith("Auto-generated wiki with ")
    assert len(log) == 1


def test_demo_on_a_folder_of_ones_own_documents(tmp_path: Path) -> None:
    """``--docs``: the same flow on a small folder of three formats, under its own project."""
    docs = tmp_path / "docs"
    (docs / "notes").mkdir(parents=True)
    (docs / "kettle.md").write_text(
        "# Kettle\n\nThe kettle boils water. The kettle is made by Acme.\n", encoding="utf-8"
    )
    (docs / "notes" / "acme.rst").write_text(
        "Acme\n====\n\nAcme is a company. Acme makes the kettle and the toaster.\n",
        encoding="utf-8",
    )
    (docs / "toaster.txt").write_text("Toaster\n\nThe toaster toasts bread.\n", encoding="utf-8")
    done = _demo(tmp_path / "data", "--docs", str(docs))
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "Ingested 3 documents" in out
    assert "previous wiki, graph and history intact: yes" in out
    assert "/ui/p/my-docs" in out
    clone = tmp_path / "data" / "demo" / "wiki"
    shown = _git("-C", str(clone), "show", "--stat", "--format=%s", "HEAD")
    assert any("kettle" in line for line in shown), shown
    assert _orchestrated(tmp_path / "data") == 2


def _missing(root: Path) -> Path:
    return root / "missing"


def _empty(root: Path) -> Path:
    return root


def _unsupported(root: Path) -> Path:
    (root / "a.pdf").write_bytes(b"%PDF-1.7")
    return root


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_missing, "no such folder"),
        (_empty, "the folder is empty"),
        (_unsupported, "no document wikisaga ingest reads"),
    ],
    ids=["missing", "empty", "no-supported-file"],
)
def test_demo_refuses_a_bad_docs_folder_before_anything_starts(
    tmp_path: Path, make: Callable[[Path], Path], message: str
) -> None:
    """Each is one line on stderr, exit status 2, and no data directory written."""
    folder = tmp_path / "given"
    folder.mkdir()
    path = make(folder)
    done = _demo(tmp_path / "data", "--docs", str(path))
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert not (tmp_path / "data").exists()


def test_demo_crash_kills_the_backend_mid_saga_and_recovery_restores(tmp_path: Path) -> None:
    """``--crash``: the backend running the saga is SIGKILLed after the files step; the
    demo's recovery undoes it; the generation is then published for real. On the real
    stores afterwards: the killed saga is rolled back with both its steps compensated,
    the history holds the first and the final generation only (no snapshot of the killed
    one), the graph kept no generation of it, and the clone is the final wiki."""
    data = tmp_path / "data"
    done = _demo(data, "--crash")
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "exit status -9: killed by SIGKILL" in out
    killed = re.search(r"saga log:\s+(\S+) is executing", out)
    assert killed, out
    saga_id = killed.group(1)
    assert "filesystem: the old pages back, byte for byte: yes" in out
    assert "the old generation current, the staged one discarded: yes" in out
    assert "history unchanged: yes" in out
    assert "Rolling back: Save " in out
    assert out.rstrip().endswith("demo succeeded")

    real = data / "demo" / "real"
    from distributed_saga import SagaState, StepState, open_saga_log  # noqa: PLC0415

    with open_saga_log(f"sqlite:///{real / 'sagas.db'}") as log:
        record = log.get_saga(saga_id)
        assert record.state is SagaState.ROLLED_BACK
        assert [step.state for step in record.steps] == [StepState.COMPENSATED] * 2

    repository = real / "git" / "python-packaging.git"
    history = _git("--git-dir", str(repository), "log", "--format=%s", "main")
    assert len(history) == 2
    assert not any(saga_id in line for line in history)
    assert not any(saga_id in tag for tag in _git("--git-dir", str(repository), "tag"))

    from wikisaga.config import Settings  # noqa: PLC0415
    from wikisaga.graph import open_graph_store  # noqa: PLC0415

    with open_graph_store(None, settings=Settings(data_dir=real, graph_url="")) as graph:
        generations = [g.generation for g in graph.generations("python-packaging")]
        assert saga_id not in generations
        assert graph.current_generation("python-packaging") in history[0]

    clone = data / "demo" / "wiki"
    assert (clone / "wiki" / "sources" / "uv.md").is_file()
    assert _git("-C", str(clone), "log", "--format=%s") == history
