"""``wikisaga demo``: a publishing saga is killed half-way, and recovery undoes it.

The demo runs on the embedded defaults (a SQLite saga log in the data directory) and needs
no service. It publishes a new generation of three pages over an existing wiki in a child
process that is killed with SIGKILL after writing the second page — the crash the guide's
in-memory saga cannot survive — then shows the half-published wiki, runs recovery, shows
the old wiki restored byte for byte, and finally publishes the generation for real.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from distributed_saga import (
    Compensation,
    DistributedSaga,
    SagaState,
    compensation,
    open_saga_log,
    recover_sagas,
)
from distributed_saga.faults import CRASH_AT_ENV
from wikisaga.config import Settings

__all__ = ["register", "run"]

LEASE_SECONDS = 1.0
OLD_WIKI = {
    "intro.md": "# Intro\n\nThe first generation.\n",
    "guide.md": "# Guide\n\nHow to use the project (first generation).\n",
}
NEW_WIKI = {
    "intro.md": "# Intro\n\nThe second generation, rewritten from the documents.\n",
    "guide.md": "# Guide\n\nHow to use the project (second generation).\n",
    "faq.md": "# FAQ\n\nNew in the second generation.\n",
}


@compensation("demo.restore_page")
def restore_page(args: Mapping[str, Any]) -> None:
    """Put one page back as it was before the step (idempotent: absent stays absent)."""
    path = Path(args["root"]) / args["name"]
    prior = args["prior"]
    if prior is None:
        path.unlink(missing_ok=True)
    else:
        _write_atomically(path, prior)


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def publish(log_url: str, root: Path, saga_id: str) -> None:
    """Publish :data:`NEW_WIKI` into ``root``, one durable step per page."""
    with open_saga_log(log_url) as log:
        saga = DistributedSaga(
            saga_id=saga_id,
            user_id="demo",
            log=log,
            lock_key="demo-wiki",
            lease_seconds=LEASE_SECONDS,
        )
        for name, text in NEW_WIKI.items():
            path = root / name
            prior = path.read_text(encoding="utf-8") if path.exists() else None
            saga.execute_step(
                name=f"Write {name}",
                action=functools.partial(_write_atomically, path, text),
                rollback=Compensation(
                    "demo.restore_page", {"root": str(root), "name": name, "prior": prior}
                ),
            )
        saga.commit()


def _show(root: Path, title: str) -> None:
    print(f"   {title}")
    for path in sorted(root.iterdir()):
        text = path.read_text(encoding="utf-8")
        generation = "new" if NEW_WIKI.get(path.name) == text else "old"
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        print(f"     {path.name:<10} {generation}  sha256:{digest}")


def run(settings: Settings) -> int:
    """The whole demo; returns a process exit status."""
    base = settings.data_dir / "demo"
    root = base / "wiki"
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.iterdir():
        stale.unlink()
    for name, text in OLD_WIKI.items():
        _write_atomically(root / name, text)
    log_url = f"sqlite:///{(base / 'sagas.db').resolve().as_posix()}"
    saga_id = f"demo-{int(time.time() * 1000)}"

    print("wikisaga demo: a publishing saga is killed half-way, and recovery undoes it\n")
    print(f"   saga log: {log_url}")
    _show(root, "the wiki before (first generation):")

    print("\n1. Publish the second generation in a child process, killed (SIGKILL)")
    print("   right after it wrote its second page.")
    child = subprocess.run(
        [sys.executable, "-m", "wikisaga", "demo", "--child", log_url, str(root), saga_id],
        env={**os.environ, CRASH_AT_ENV: "after_action:1"},
        check=False,
    )
    print(f"   child exit status: {child.returncode} (killed by signal {-child.returncode})")
    _show(root, "the wiki now, half-published:")
    with open_saga_log(log_url) as log:
        record = log.get_saga(saga_id)
        print(f"   saga log says: {saga_id} is {record.state.value}, steps:")
        for step in record.steps:
            print(f"     {step.index}. {step.name:<16} {step.state.value}")

        print(f"\n2. Recovery claims the saga once its lease ({LEASE_SECONDS:g} s) expires.")
        time.sleep(LEASE_SECONDS + 0.2)
        outcomes = recover_sagas(log, lease_seconds=LEASE_SECONDS)
        for outcome in outcomes:
            print(f"   {outcome.saga_id}: {outcome.state.value}, {outcome.undone} steps undone")
        _show(root, "the wiki after recovery:")
        restored = all((root / n).read_text(encoding="utf-8") == t for n, t in OLD_WIKI.items())
        print(f"   first generation intact, byte for byte: {'yes' if restored else 'NO'}")
        print(f"   no stray page: {'yes' if not (root / 'faq.md').exists() else 'NO'}")

        print("\n3. Publish the second generation again, without a crash.")
        publish(log_url, root, f"{saga_id}-again")
        again = log.get_saga(f"{saga_id}-again")
        print(f"   {again.saga_id}: {again.state.value} with {len(again.steps)} steps")
        _show(root, "the wiki now:")
        ok = (
            restored
            and [o.state for o in outcomes] == [SagaState.ROLLED_BACK]
            and again.state is SagaState.COMMITTED
        )
    print("\ndemo", "succeeded" if ok else "FAILED")
    return 0 if ok else 1


def demo(
    child: Annotated[
        tuple[str, str, str] | None,
        typer.Option(hidden=True, help="LOG_URL ROOT SAGA_ID: run the half that is killed"),
    ] = None,
) -> int:
    """Watch a publishing saga get killed half-way and recovery undo it: publish a new
    generation of a small wiki in a child process that is killed with SIGKILL half-way,
    show recovery restoring the previous wiki byte for byte, then publish for real. Uses
    WIKISAGA_DATA_DIR (default ./.wikisaga)."""
    if child is not None:
        log_url, root, saga_id = child
        publish(log_url, Path(root), saga_id)
        return 0
    logging.basicConfig(level=logging.INFO, format="   | %(message)s", stream=sys.stdout)
    return run(Settings.from_env())


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the command line."""
    app.command()(demo)
