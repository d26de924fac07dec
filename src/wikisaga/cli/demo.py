"""``wikisaga demo``: the whole pipeline, all or nothing, through the real services.

Every form runs the filesystem, git, orchestrator and backend services as ``wikisaga up``
runs them (subprocesses on free loopback ports, embedded stores in
``<data_dir>/demo/real``, one fresh internal token; the backend calls the orchestrator
over HTTP for the pages), after ingesting the documents straight into the document store
as ``wikisaga ingest`` does:

- ``wikisaga demo``: the Python packaging corpus shipped in ``wikisaga/sample_corpus``.
  It generates and publishes the wiki through the backend, generates again with the git
  service stopped (the snapshot step fails, the saga rolls back), shows the previous wiki,
  graph and history intact, and clones the published wiki into ``<data_dir>/demo/wiki``;
- ``wikisaga demo --docs PATH``: the same on a folder of the user's documents (any format
  ``wikisaga ingest`` reads); a missing or empty folder, or one without a readable
  document, is refused before anything starts or is written;
- ``wikisaga demo --crash``: after the first generation, one document is uploaded through
  the backend (``POST /projects/{id}/documents``) and the generation runs again in a
  backend started with ``DISTRIBUTED_SAGA_CRASH_AT``, so that the backend is killed with
  SIGKILL right after the saga's files step wrote the new pages. The demo shows the
  half-published state (new files, old snapshot, old graph with a staged generation
  beside it), runs recovery itself (``recover_sagas`` with ``publish_compensations``),
  shows the old wiki, graph and history restored, then starts the backend again and
  publishes the generation for real.

Each ends with where to look: the pages of the clone, a graph summary, the data and the
URLs to serve it again with ``wikisaga up``.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from wikisaga.config import Settings

__all__ = ["DemoError", "check_docs", "register", "run_demo"]

CORPUS_PROJECT = "python-packaging"
DOCS_PROJECT = "my-docs"
USER = "demo"
LEASE_SECONDS = 2.0
"""The backend's saga lease in the demo: recovery may claim a dead backend's saga after it."""
CRASH_AT = "after_action:1"
"""Kill the process running the saga once step 1 (save_files) has written its pages."""
NEW_DOCUMENT = (
    "uv.md",
    "# uv\n\nuv is a tool for installing Python packages. uv is written in Rust. "
    "uv replaces pip and virtualenv. uv reads pyproject.toml. uv installs wheels "
    "from PyPI.\n",
)
SERVICES = ("filesystem", "git", "orchestrator", "backend")
"""In start order: git reads the filesystem service; the backend calls all three."""


class DemoError(Exception):
    """The demo cannot run or failed at a step; the message says why, in one line."""


@dataclass(frozen=True)
class Shown:
    """What the demo compares before and after: the published wiki, graph and history."""

    snapshot: str
    pages: int
    relations: int
    digest: str
    history: tuple[str, ...]


def check_docs(path: Path) -> int:
    """The number of documents ``wikisaga ingest`` would read under ``path``; raise
    :class:`DemoError` for a missing, non-folder or empty folder, or one with none."""
    from wikisaga.content.ingest import find_sources  # noqa: PLC0415

    if not path.exists():
        raise DemoError(f"--docs {path}: no such folder")
    if not path.is_dir():
        raise DemoError(f"--docs {path}: not a folder (give the folder that holds the files)")
    if not any(path.iterdir()):
        raise DemoError(f"--docs {path}: the folder is empty")
    sources, skipped = find_sources([path])
    if not sources:
        reasons = "; ".join(f"{item.path}: {item.reason}" for item in skipped[:3])
        raise DemoError(
            f"--docs {path}: no document wikisaga ingest reads (Markdown, reStructuredText, "
            f"HTML or text)" + (f"; skipped {reasons}" if reasons else "")
        )
    return len(sources)


def _writable(base: Path) -> None:
    try:
        base.mkdir(parents=True, exist_ok=True)
        probe = base / f".probe-{secrets.token_hex(4)}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise DemoError(
            f"cannot write the data directory {base}: {exc.strerror or exc} "
            "(set WIKISAGA_DATA_DIR to a writable folder)"
        ) from None


def _digest_files(files: list[dict[str, Any]]) -> str:
    digest = hashlib.sha256()
    for item in sorted(files, key=lambda f: str(f["path"])):
        digest.update(f"{item['path']}\0{item['content']}\0".encode())
    return digest.hexdigest()


class Demo:
    """The data directory, the services and the project of one demo run."""

    def __init__(self, settings: Settings, project: str) -> None:
        from pydantic import SecretStr  # noqa: PLC0415

        from wikisaga.auth import get_internal_headers  # noqa: PLC0415
        from wikisaga.cli.up import orchestrator_available  # noqa: PLC0415
        from wikisaga.launcher import ServiceProcess, free_port  # noqa: PLC0415

        self.base = settings.data_dir.resolve() / "demo"
        self.data, self.clone_dir = self.base / "real", self.base / "wiki"
        self.project = project
        self.token = secrets.token_urlsafe(24)
        # The embedded stores of the data directory, whatever the shell says.
        self.settings = Settings(
            data_dir=self.data,
            internal_token=SecretStr(self.token),
            chroma_url="",
            graph_url="",
            neo4j_uri="",
            saga_log_url="",
        )
        self.headers = get_internal_headers(settings=self.settings)
        names = [n for n in SERVICES if n != "orchestrator" or orchestrator_available()]
        ports = {name: free_port() for name in names}
        self.urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        self.env = self._environment()
        self.services = {
            name: ServiceProcess(
                name,
                log_dir=self.data / "logs",
                env=self.env,
                port=port,
                startup_timeout=90.0 if name == "backend" else 30.0,
            )
            for name, port in ports.items()
        }

    def _environment(self) -> dict[str, str]:
        """What ``wikisaga up`` gives its services, and a short saga lease."""
        orchestrated = "orchestrator" in self.urls
        env = {
            "WIKISAGA_DATA_DIR": str(self.data),
            "WIKISAGA_INTERNAL_TOKEN": self.token,
            "WIKISAGA_FILESYSTEM_SERVER_URL": self.urls["filesystem"],
            "WIKISAGA_GIT_SERVER_URL": self.urls["git"],
            "WIKISAGA_BACKEND_URL": self.urls["backend"],
            "WIKISAGA_CHROMA_URL": "",
            "WIKISAGA_GRAPH_URL": "",
            "WIKISAGA_NEO4J_URI": "",
            "WIKISAGA_SAGA_LOG_URL": "",
            "WIKISAGA_PAGE_GENERATOR": "orchestrator" if orchestrated else "local",
            "WIKISAGA_GIT_TIMEOUT": "3",
            "WIKISAGA_SAGA_LEASE_SECONDS": f"{LEASE_SECONDS:g}",
        }
        if orchestrated:
            env["WIKISAGA_ORCHESTRATOR_URL"] = self.urls["orchestrator"]
        return env

    # -- setting up ---------------------------------------------------------------------

    def ingest(self, folder: Path) -> None:
        from wikisaga.content.documents import document_store_for  # noqa: PLC0415
        from wikisaga.content.ingest import ingest  # noqa: PLC0415

        for stale in (self.data, self.clone_dir):
            shutil.rmtree(stale, ignore_errors=True)
        self.data.mkdir(parents=True)
        with document_store_for(self.settings) as store:
            report = ingest(store, project_id=self.project, user_id=USER, paths=[folder])
        print(
            f"1. Ingested {len(report.added)} documents from {folder}\n"
            f"   into the document store {self.data / 'chroma'} (directly, as wikisaga "
            "ingest does)"
        )
        for item in report.skipped[:5]:
            print(f"   skipped {item.path}: {item.reason}")
        if len(report.skipped) > 5:
            print(f"   ... and {len(report.skipped) - 5} more skipped")
        if not report.added:
            raise DemoError(f"no document of {folder} could be ingested")

    def start(self) -> None:
        print(f"   Services, as wikisaga up runs them (logs in {self.data / 'logs'}):")
        roles = {
            "filesystem": "the current pages, versioned",
            "git": "the published snapshots (the wiki's history)",
            "orchestrator": "makes the pages and relations (POST /generate)",
            "backend": "runs the generation saga, calling the other three",
        }
        for service in self.services.values():
            self.start_one(service.name)
            print(f"   {service.name:<12} {service.url}  {roles[service.name]}")
        if "orchestrator" not in self.services:
            print("   (no orchestrator in this installation: the backend makes the pages)")

    def start_one(self, name: str, extra_env: Mapping[str, str] | None = None) -> None:
        from wikisaga.launcher import ServiceStartError  # noqa: PLC0415

        service = self.services[name]
        service.env = {**self.env, **(extra_env or {})}
        try:
            service.start()
        except ServiceStartError as exc:
            first = str(exc).splitlines()[0]
            raise DemoError(f"the {name} service did not start: {first}") from None

    def stop(self) -> None:
        for service in reversed(list(self.services.values())):
            service.stop()

    # -- asking the services ------------------------------------------------------------

    def api(self) -> Any:
        from wikisaga.clients.backend import BackendClient  # noqa: PLC0415

        return BackendClient(self.urls["backend"], headers=self.headers, timeout=30)

    def generate(self, api: Any, *, force: bool = False) -> dict[str, Any]:
        from wikisaga.cli.generate import plain_lines, wait_for  # noqa: PLC0415

        accepted = api.generate_wiki(self.project, user_id=USER, force=force)
        with plain_lines() as view:
            job: dict[str, Any] = wait_for(
                api, accepted["job_id"], user_id=USER, view=view, timeout=120
            )
        error = f": {job['error']}" if job["error"] else ""
        print(f"   job {job['job_id']}: {job['status']}{error}")
        return job

    def shown(self) -> Shown:
        """The committed generation as the backend serves it, and the git history."""
        import httpx  # noqa: PLC0415

        asked = {**self.headers, "X-User-ID": USER}
        base = f"{self.urls['backend']}/projects/{self.project}"
        with httpx.Client(base_url=base, headers=asked, timeout=30) as api:
            wiki = api.get("/wiki").raise_for_status().json()
            graph = api.get("/graph").raise_for_status().json()
            digest = hashlib.sha256()
            for path in sorted(wiki["files"]):
                content = api.get(f"/wiki/{path}").raise_for_status().json()["content"]
                digest.update(f"{path}\0{content}\0".encode())
        return Shown(
            str(wiki["snapshot_id"]),
            len(wiki["files"]),
            len(graph["relations"]),
            digest.hexdigest(),
            tuple(self.history()),
        )

    def show(self, title: str) -> Shown:
        found = self.shown()
        print(f"   {title}")
        print(
            f"     wiki:    {found.pages} pages in {found.snapshot} "
            f"(sha256 of all pages {found.digest[:12]})"
        )
        print(f"     graph:   {found.relations} relations")
        newest = found.history[0] if found.history else "none"
        print(f"     history: {len(found.history)} commit(s) on main, newest {newest}")
        return found

    def history(self) -> list[str]:
        repository = self.data / "git" / f"{self.project}.git"
        done = subprocess.run(
            ["git", "--git-dir", str(repository), "log", "--format=%h %s", "main"],
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.splitlines()

    def current_files(self) -> list[dict[str, Any]]:
        """The filesystem service's current files, with their content."""
        from wikisaga.clients import FilesystemClient  # noqa: PLC0415

        with FilesystemClient(self.urls["filesystem"], headers=self.headers, timeout=30) as client:
            return client.export(self.project, user_id=USER)

    def clone(self) -> None:
        print(f"\n   Clone the published wiki into {self.clone_dir}")
        done = subprocess.run(
            [
                "git",
                "-c",
                f"http.extraHeader=X-INTERNAL-TOKEN: {self.token}",
                "-c",
                f"http.extraHeader=X-User-ID: {USER}",
                "clone",
                "--quiet",
                f"{self.urls['git']}/git/{self.project}.git",
                str(self.clone_dir),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise DemoError(f"git clone failed: {done.stderr.strip()}")
        print("   git clone: done")

    def where_to_look(self) -> None:
        from wikisaga.graph import open_graph_store  # noqa: PLC0415
        from wikisaga.users import UserStore  # noqa: PLC0415

        root = self.clone_dir / "wiki"
        pages = sorted(p.relative_to(root) for p in root.rglob("*.md"))
        with open_graph_store(None, settings=self.settings) as store:
            summary = store.summary(self.project, strongest=3)
        key = UserStore.in_data_dir(self.data).add(USER)
        print("\nWhere to look:")
        print(f"   pages:  {len(pages)} Markdown pages in {root}")
        print(f"           e.g. {', '.join(str(p) for p in pages[:3])}")
        print(f"   graph:  {summary.entities} entities, {summary.relations} relations; strongest:")
        for relation in summary.strongest:
            print(f"           {' '.join(relation.triple)}")
        print(f"   clone:  cd {self.clone_dir} && git log --stat")
        print(f"   data:   {self.data} (documents, saga log, graph, services' logs)")
        print("   URLs:   the services stopped with the demo; to serve this data again run")
        print(f"           wikisaga up --data-dir {self.data}")
        print(f"           then open http://127.0.0.1:6000/ui/p/{self.project}")
        print(f"           and sign in as {USER} with the key {key}")


@contextmanager
def _running(demo: Demo) -> Iterator[None]:
    try:
        yield
    finally:
        demo.stop()


def _failed_snapshot(demo: Demo, api: Any, before: Shown) -> bool:
    print("\n3. Stop the git service and generate again: the snapshot step fails,")
    print("   and the saga undoes the graph and the files steps.")
    demo.services["git"].stop()
    second = demo.generate(api, force=True)
    print("\n4. Start git again: the previous wiki, graph and history are intact.")
    demo.start_one("git")
    after = demo.show("now:")
    intact = after == before
    print(f"   previous wiki, graph and history intact: {'yes' if intact else 'NO'}")
    return second["status"] == "failed" and intact


def _upload(demo: Demo) -> None:
    name, text = NEW_DOCUMENT
    with demo.api() as api:
        report = api.upload_documents(demo.project, {name: text}, user_id=USER)
    print(f"\n3. Upload {name} through the backend (POST /projects/{demo.project}/documents):")
    print(f"   added {', '.join(report.get('added') or []) or 'nothing'}")


def _kill_mid_saga(demo: Demo) -> tuple[str, str]:
    """Generate in a backend that the crash point kills; its saga id and job id."""
    from distributed_saga.faults import CRASH_AT_ENV  # noqa: PLC0415

    print(f"\n4. Restart the backend with {CRASH_AT_ENV}={CRASH_AT} and generate again:")
    print("   the backend is killed (SIGKILL) right after the save_files step wrote the pages.")
    backend = demo.services["backend"]
    backend.stop()
    demo.start_one("backend", {CRASH_AT_ENV: CRASH_AT})
    with demo.api() as api:
        accepted = api.generate_wiki(demo.project, user_id=USER)
    deadline = time.monotonic() + 60
    while backend.alive and time.monotonic() < deadline:
        time.sleep(0.05)
    status = backend.returncode
    backend.stop()
    if status != -signal.SIGKILL:
        raise DemoError(f"the backend was not killed at {CRASH_AT} (exit status {status})")
    print(f"   backend (pid {backend.pid}) exit status {status}: killed by SIGKILL")
    return str(accepted["saga_id"]), str(accepted["job_id"])


def _show_half(demo: Demo, log: Any, graph: Any, saga_id: str, old: list[dict[str, Any]]) -> None:
    record = log.get_saga(saga_id)
    print("\n   Half-published, as the dead backend left it:")
    print(f"     saga log:   {saga_id} is {record.state.value}; steps:")
    for step in record.steps:
        print(f"       {step.index}. {step.name:<50} {step.state.value}")
    half = demo.current_files()
    added = sorted({f["path"] for f in half} - {f["path"] for f in old})
    changed = "the new generation's" if _digest_files(half) != _digest_files(old) else "UNCHANGED"
    print(f"     filesystem: {len(half)} pages, {changed} (new: {', '.join(added) or 'none'})")
    staged = [g.generation for g in graph.generations(demo.project)]
    print(
        f"     graph:      current {graph.current_generation(demo.project)}; "
        f"staged beside it: {', '.join(g for g in staged if g == saga_id) or 'none'}"
    )
    print(f"     git:        {len(demo.history())} commit(s) on main (no new snapshot)")


def _recover(demo: Demo, before: Shown, saga_id: str, old: list[dict[str, Any]]) -> bool:
    """Half-published, then recovered: whether the old wiki, graph and history are back."""
    from distributed_saga import SagaState, open_saga_log, recover_sagas  # noqa: PLC0415
    from wikisaga.graph import open_graph_store  # noqa: PLC0415
    from wikisaga.pipeline import graph_step  # noqa: F401, PLC0415 - its compensations
    from wikisaga.pipeline.compensations import publish_compensations  # noqa: PLC0415

    log_url = demo.settings.effective_saga_log_url
    with open_saga_log(log_url) as log, open_graph_store(None, settings=demo.settings) as graph:
        current = graph.current_generation(demo.project)
        _show_half(demo, log, graph, saga_id, old)
        print(f"\n5. Recovery claims the saga once the dead backend's lease ({LEASE_SECONDS:g} s)")
        print("   expires, and runs its compensations (what a backend's recovery loop does):")
        registry = publish_compensations(demo.headers)
        # The engine says what it undoes, as it does it.
        logging.basicConfig(level=logging.WARNING, format="     | %(message)s", stream=sys.stdout)
        outcomes: list[Any] = []
        deadline = time.monotonic() + 30
        while log.get_saga(saga_id).state is not SagaState.ROLLED_BACK:
            if time.monotonic() > deadline:
                break
            time.sleep(LEASE_SECONDS / 4)
            outcomes += recover_sagas(log, registry=registry, lease_seconds=LEASE_SECONDS)
        for outcome in outcomes:
            print(f"     {outcome.saga_id}: {outcome.state.value}, {outcome.undone} steps undone")
        checks = {
            "filesystem: the old pages back, byte for byte": _digest_files(demo.current_files())
            == _digest_files(old),
            "graph:      the old generation current, the staged one discarded": (
                graph.current_generation(demo.project) == current
                and saga_id not in [g.generation for g in graph.generations(demo.project)]
            ),
            "git:        history unchanged": tuple(demo.history()) == before.history,
        }
        rolled_back = log.get_saga(saga_id).state is SagaState.ROLLED_BACK
    for label, passed in checks.items():
        print(f"     {label}: {'yes' if passed else 'NO'}")
    return rolled_back and all(checks.values())


def _crash(demo: Demo, before: Shown) -> bool:
    old = demo.current_files()
    _upload(demo)
    saga_id, job_id = _kill_mid_saga(demo)
    recovered = _recover(demo, before, saga_id, old)
    print("\n6. Start the backend again (no crash) and publish the generation for real.")
    demo.start_one("backend")
    with demo.api() as api:
        killed = api.get_job(job_id, user_id=USER)
        print(
            f"   the killed job, as the backend reports it: {killed['status']}: {killed['error']}"
        )
        restored = demo.show("the published wiki, as the backend serves it:")
        job = _generate_when_free(demo, api)
    after = demo.show("after:")
    published = job["status"] == "succeeded" and len(after.history) == len(before.history) + 1
    return recovered and restored == before and published


def _generate_when_free(demo: Demo, api: Any) -> dict[str, Any]:
    """Generate, waiting while the killed job still holds the project (until the backend's
    own recovery pass has closed it)."""
    from wikisaga.errors import ServiceRejected  # noqa: PLC0415

    deadline = time.monotonic() + 30
    while True:
        try:
            return demo.generate(api)
        except ServiceRejected as exc:
            if exc.status != 409 or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def run_demo(settings: Settings, *, docs: Path | None = None, crash: bool = False) -> int:
    """The demo (module docstring); returns a process exit status."""
    from importlib import resources  # noqa: PLC0415

    import httpx  # noqa: PLC0415

    from wikisaga.errors import WikisagaError  # noqa: PLC0415

    if docs is not None:
        count = check_docs(docs)
        title = f"wikisaga demo: your {count} documents in {docs} through the real services"
    elif crash:
        title = "wikisaga demo --crash: the backend is killed mid-saga, and recovery undoes it"
    else:
        title = "wikisaga demo: a corpus on Python packaging through the real services"
    demo = Demo(settings, DOCS_PROJECT if docs is not None else CORPUS_PROJECT)
    _writable(demo.base)
    print(title + "\n")
    ok = False
    try:
        with resources.as_file(resources.files("wikisaga") / "sample_corpus") as corpus:
            demo.ingest((docs if docs is not None else corpus).resolve())
        with _running(demo):
            demo.start()
            with demo.api() as api:
                print("\n2. Generate and publish the wiki (POST /generate_wiki on the backend):")
                first = demo.generate(api)
                if first["status"] != "succeeded":
                    raise DemoError(f"the first generation {first['status']}: {first['error']}")
                before = demo.show("published:")
                ok = _crash(demo, before) if crash else _failed_snapshot(demo, api, before)
            demo.clone()
        if ok:
            demo.where_to_look()
    except (WikisagaError, httpx.HTTPError, OSError) as exc:
        raise DemoError(str(exc).splitlines()[0] if str(exc) else repr(exc)) from None
    print("\ndemo", "succeeded" if ok else "FAILED")
    return 0 if ok else 1


def demo(
    docs: Annotated[
        Path | None,
        typer.Option(
            "--docs",
            help="a folder of your own documents (Markdown, reStructuredText, HTML, text) "
            "instead of the shipped corpus",
        ),
    ] = None,
    crash: Annotated[
        bool,
        typer.Option(
            "--crash",
            help="instead of the failed snapshot: kill the backend with SIGKILL half-way "
            "through a generation and watch recovery restore the previous wiki, graph and "
            "history",
        ),
    ] = False,
) -> int:
    """Ingest the shipped corpus (23 documents on Python packaging) or --docs, start the
    filesystem, git, orchestrator and backend services, generate and publish the wiki,
    graph and snapshot; then regenerate with the git service down (or, with --crash, kill
    the backend mid-saga and recover) and show the previous wiki, graph and history intact;
    end with a git clone of the wiki into $WIKISAGA_DATA_DIR/demo/wiki (default
    ./.wikisaga)."""
    try:
        return run_demo(Settings.from_env(), docs=docs, crash=crash)
    except DemoError as exc:
        typer.echo(f"wikisaga demo: error: {exc}", err=True)
        return 2


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the command line."""
    app.command()(demo)
