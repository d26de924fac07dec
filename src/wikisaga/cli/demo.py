"""``wikisaga demo``: the whole pipeline, all or nothing, on a shipped corpus.

``wikisaga demo`` runs the real filesystem, git and backend services on the Python
packaging corpus shipped in ``wikisaga/sample_corpus``: it ingests the corpus, generates
and publishes the wiki, generates again with the git service stopped (the snapshot step
fails and the saga rolls back), shows the previous wiki, graph and history intact, and
clones the published wiki into ``<data_dir>/demo/wiki``.

``wikisaga demo --crash`` shows what the guide's in-memory saga cannot survive, on the
embedded defaults (a SQLite saga log in the data directory) and no service: it publishes a
new generation of three pages over an existing wiki in a child process that is killed with
SIGKILL after writing the second page, shows the half-published wiki, runs recovery, shows
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


REAL_PROJECT = "python-packaging"
REAL_USER = "demo"


def _real_wiki(url: str, headers: Mapping[str, str]) -> tuple[str, int, int, str]:
    """The committed generation as the backend serves it: snapshot, pages, relations, and
    one digest over every page's path and content."""
    import httpx  # noqa: PLC0415

    asked = {**headers, "X-User-ID": REAL_USER}
    with httpx.Client(base_url=f"{url}/projects/{REAL_PROJECT}", headers=asked, timeout=30) as api:
        wiki = api.get("/wiki").raise_for_status().json()
        graph = api.get("/graph").raise_for_status().json()
        digest = hashlib.sha256()
        for path in sorted(wiki["files"]):
            content = api.get(f"/wiki/{path}").raise_for_status().json()["content"]
            digest.update(f"{path}\0{content}\0".encode())
    return str(wiki["snapshot_id"]), len(wiki["files"]), len(graph["relations"]), digest.hexdigest()


def _history(data: Path) -> list[str]:
    repository = data / "git" / f"{REAL_PROJECT}.git"
    done = subprocess.run(
        ["git", "--git-dir", str(repository), "log", "--format=%h %s", "main"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.splitlines()


def _clone(git_url: str, token: str, clone_dir: Path) -> bool:
    clone = subprocess.run(
        [
            "git",
            "-c",
            f"http.extraHeader=X-INTERNAL-TOKEN: {token}",
            "-c",
            f"http.extraHeader=X-User-ID: {REAL_USER}",
            "clone",
            "--quiet",
            f"{git_url}/git/{REAL_PROJECT}.git",
            str(clone_dir),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    print(f"   git clone: {'done' if clone.returncode == 0 else clone.stderr.strip()}")
    return clone.returncode == 0


def _real_env(data: Path, token: str, ports: Mapping[str, int]) -> dict[str, str]:
    return {
        "WIKISAGA_DATA_DIR": str(data),
        "WIKISAGA_INTERNAL_TOKEN": token,
        "WIKISAGA_FILESYSTEM_SERVER_URL": f"http://127.0.0.1:{ports['filesystem']}",
        "WIKISAGA_GIT_SERVER_URL": f"http://127.0.0.1:{ports['git']}",
        "WIKISAGA_CHROMA_URL": "",
        "WIKISAGA_GRAPH_URL": "",
        "WIKISAGA_NEO4J_URI": "",
        "WIKISAGA_SAGA_LOG_URL": "",
        "WIKISAGA_PAGE_GENERATOR": "local",
        "WIKISAGA_GIT_TIMEOUT": "3",
    }


def _ingest_corpus(data: Path, token: str) -> int:
    from importlib import resources  # noqa: PLC0415

    from pydantic import SecretStr  # noqa: PLC0415

    from wikisaga.content.documents import document_store_for  # noqa: PLC0415
    from wikisaga.content.ingest import ingest  # noqa: PLC0415

    own = Settings(data_dir=data, internal_token=SecretStr(token))
    corpus = resources.files("wikisaga") / "sample_corpus"
    with resources.as_file(corpus) as folder, document_store_for(own) as store:
        report = ingest(store, project_id=REAL_PROJECT, user_id=REAL_USER, paths=[folder])
    return len(report.added)


def _generate(api: Any, *, force: bool = False) -> dict[str, Any]:
    from wikisaga.cli.generate import plain_lines, wait_for  # noqa: PLC0415

    accepted = api.generate_wiki(REAL_PROJECT, user_id=REAL_USER, force=force)
    with plain_lines() as view:
        job: dict[str, Any] = wait_for(
            api, accepted["job_id"], user_id=REAL_USER, view=view, timeout=120
        )
    print(f"   {job['job_id']}: {job['status']}" + (f": {job['error']}" if job["error"] else ""))
    return job


def _show_real(url: str, headers: Mapping[str, str], data: Path) -> tuple[Any, ...]:
    snapshot, pages, relations, digest = _real_wiki(url, headers)
    history = _history(data)
    print(
        f"   wiki: {pages} pages in {snapshot} (sha256:{digest[:12]}); graph: {relations} relations"
    )
    print(f"   git history of main: {len(history)} commit(s), newest: {history[:1]}")
    return snapshot, pages, relations, digest, history


def run_real(settings: Settings) -> int:
    """The demo on the real services and the shipped sample corpus; returns an exit status."""
    import secrets  # noqa: PLC0415
    import shutil  # noqa: PLC0415

    from pydantic import SecretStr  # noqa: PLC0415

    from wikisaga.auth import get_internal_headers  # noqa: PLC0415
    from wikisaga.clients.backend import BackendClient  # noqa: PLC0415
    from wikisaga.launcher import ServiceProcess, free_port  # noqa: PLC0415

    base = settings.data_dir.resolve() / "demo"
    data, clone_dir = base / "real", base / "wiki"
    for stale in (data, clone_dir):
        shutil.rmtree(stale, ignore_errors=True)
    data.mkdir(parents=True)
    token = secrets.token_urlsafe(24)
    headers = get_internal_headers(settings=Settings(internal_token=SecretStr(token)))
    print("wikisaga demo: the Python packaging corpus through the real services\n")
    print(f"1. Ingested {_ingest_corpus(data, token)} documents into {data / 'chroma'}")
    ports = {name: free_port() for name in ("filesystem", "git", "backend")}
    env = _real_env(data, token, ports)
    services = {
        name: ServiceProcess(name, log_dir=data / "logs", env=env, port=port, startup_timeout=60)
        for name, port in ports.items()
    }
    ok = False
    try:
        for service in services.values():
            service.start()
            print(f"   {service.name:<10} on {service.url}")
        url = services["backend"].url
        with BackendClient(url, headers=headers, timeout=30) as api:
            print("\n2. Generate and publish the wiki:")
            first = _generate(api)
            before = _show_real(url, headers, data)
            print("\n3. Stop the git service and generate again: the snapshot step fails.")
            services["git"].stop()
            second = _generate(api, force=True)
        print("\n4. Start git again: the previous wiki, graph and history are intact.")
        services["git"].start()
        after = _show_real(url, headers, data)
        intact = after == before
        print(f"   previous wiki, graph and history intact: {'yes' if intact else 'NO'}")
        print(f"\n5. Clone the published wiki into {clone_dir}")
        cloned = _clone(services["git"].url, token, clone_dir)
        ok = first["status"] == "succeeded" and second["status"] == "failed" and intact and cloned
    finally:
        for service in reversed(list(services.values())):
            service.stop()
    if ok:
        print(f"   look at it: cd {clone_dir} && git log --stat && ls wiki/")
        print(f"   the services' data and logs: {data}")
    print("\ndemo", "succeeded" if ok else "FAILED")
    return 0 if ok else 1


def demo(
    child: Annotated[
        tuple[str, str, str] | None,
        typer.Option(hidden=True, help="LOG_URL ROOT SAGA_ID: run the half that is killed"),
    ] = None,
    crash: Annotated[
        bool,
        typer.Option(
            "--crash",
            help="instead: kill a publishing saga half-way with SIGKILL and watch recovery "
            "restore the previous wiki byte for byte",
        ),
    ] = False,
) -> int:
    """Ingest the shipped corpus (23 documents on Python packaging), start the services,
    generate and publish its wiki, graph and snapshot; then regenerate with the git service
    down and show the previous wiki, graph and history intact; end with a git clone of the
    wiki into $WIKISAGA_DATA_DIR/demo/wiki (default ./.wikisaga)."""
    if child is not None:
        log_url, root, saga_id = child
        publish(log_url, Path(root), saga_id)
        return 0
    if not crash:
        return run_real(Settings.from_env())
    logging.basicConfig(level=logging.INFO, format="   | %(message)s", stream=sys.stdout)
    return run(Settings.from_env())


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the command line."""
    app.command()(demo)
