"""``wikisaga up``: the whole development stack in one command.

Runs the filesystem, git, orchestrator and backend services as child processes
(``python -m wikisaga serve NAME``) on ``--base-port`` + 1, + 3, + 2 and + 0 (the default
ports 6000-6003), with embedded Chroma, the SQLite saga log and the SQLite graph in the
data directory, and one generated internal token shared by all of them (printed as an
``export`` line, for ``wikisaga generate`` and other clients). Each service's log is
``<data_dir>/logs/<name>-<port>.log``.

Every port is checked by binding it before anything starts: a taken one is refused by
name (``port 6001 (filesystem) is taken``). Ctrl-C or SIGTERM stops every service and
exits 0; a service that dies on its own stops the others and exits 1. Without the
orchestrator service in this installation the backend makes pages itself
(``WIKISAGA_PAGE_GENERATOR=local``), and says so.
"""

from __future__ import annotations

import importlib.util
import secrets
import signal
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from wikisaga.config import Settings
from wikisaga.errors import WikisagaError
from wikisaga.launcher import ServiceProcess, ServiceStartError

__all__ = ["OFFSETS", "register", "up"]

HOST = "127.0.0.1"
OFFSETS: dict[str, int] = {"backend": 0, "filesystem": 1, "orchestrator": 2, "git": 3}
"""Each service's port is the base port plus its offset (the default ports 6000-6003)."""
START_ORDER = ("filesystem", "git", "orchestrator", "backend")
"""Git reads the filesystem service; the backend calls all three."""


class PortTaken(WikisagaError):
    """A port the stack needs is in use."""


class _Stop(BaseException):
    """Raised by the signal handler: stop every service and exit 0."""


def orchestrator_available() -> bool:
    """Whether this installation has the orchestrator service."""
    return importlib.util.find_spec("wikisaga.services.orchestrator.main") is not None


def check_ports(ports: dict[str, int], host: str = HOST) -> None:
    """Bind each port once (as uvicorn will, with ``SO_REUSEADDR``); raise
    :class:`PortTaken` naming every one that is in use."""
    taken = []
    for name, port in ports.items():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError:
                taken.append(f"port {port} ({name}) is taken")
    if taken:
        raise PortTaken("; ".join(taken))


@contextmanager
def _stop_on_signals() -> Iterator[None]:
    def handler(signum: int, _frame: FrameType | None) -> None:
        raise _Stop(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _ignore_signals() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


def _environment(root: Path, token: str, url: dict[str, str]) -> dict[str, str]:
    env = {
        "WIKISAGA_DATA_DIR": str(root),
        "WIKISAGA_INTERNAL_TOKEN": token,
        "WIKISAGA_FILESYSTEM_SERVER_URL": url["filesystem"],
        "WIKISAGA_GIT_SERVER_URL": url["git"],
        "WIKISAGA_BACKEND_URL": url["backend"],
        # Embedded stores in the data directory, whatever the shell says.
        "WIKISAGA_CHROMA_URL": "",
        "WIKISAGA_GRAPH_URL": "",
        "WIKISAGA_NEO4J_URI": "",
        "WIKISAGA_SAGA_LOG_URL": "",
        "WIKISAGA_PAGE_GENERATOR": "orchestrator" if "orchestrator" in url else "local",
    }
    if "orchestrator" in url:
        env["WIKISAGA_ORCHESTRATOR_URL"] = url["orchestrator"]
    return env


def _say(*lines: str) -> None:
    for line in lines:
        print(line)
    sys.stdout.flush()


def _run(services: list[ServiceProcess]) -> int:
    """Start ``services`` in order, wait for a signal or a death, stop them all."""
    status = 0
    started: list[ServiceProcess] = []
    try:
        with _stop_on_signals():
            try:
                for service in services:
                    started.append(service)
                    service.start()
                    _say(
                        f"{service.name:<13} listening on {service.url}  "
                        f"(pid {service.pid}, log {service.log_path})"
                    )
                _say(f"wikisaga up: {len(services)} services running; Ctrl-C or SIGTERM stops them")
                status = _watch(services)
            except _Stop:
                _say("wikisaga up: stopping")
            except ServiceStartError as error:
                print(f"wikisaga: error: {error}", file=sys.stderr)
                status = 1
            # A second signal while stopping must not leave a child behind.
            _ignore_signals()
            for service in reversed(started):
                service.stop()
    finally:
        for service in started:  # only on an unexpected error: nothing may outlive us
            if service.alive:
                service.kill()
    return status


def _watch(services: list[ServiceProcess]) -> int:
    """Block until a service exits on its own (then 1); a signal raises :class:`_Stop`."""
    while True:
        dead = [s for s in services if not s.alive]
        for service in dead:
            print(
                f"wikisaga up: {service.name} exited with status {service.returncode}; "
                f"log {service.log_path}",
                file=sys.stderr,
            )
        if dead:
            return 1
        time.sleep(0.2)


def up(
    data_dir: Annotated[
        Path | None,
        typer.Option(help="where every service keeps its data (default: WIKISAGA_DATA_DIR)"),
    ] = None,
    base_port: Annotated[
        int,
        typer.Option(
            help="backend on this port, filesystem +1, orchestrator +2, git +3",
            min=1,
            max=65532,
        ),
    ] = 6000,
) -> int:
    """Run the backend, orchestrator, filesystem and git services together, with one
    shared development token, until Ctrl-C or SIGTERM."""
    settings = Settings.from_env()
    root = (data_dir if data_dir is not None else settings.data_dir).resolve()
    with_orchestrator = orchestrator_available()
    names = [n for n in START_ORDER if with_orchestrator or n != "orchestrator"]
    ports = {name: base_port + OFFSETS[name] for name in names}
    check_ports(ports)

    token = settings.token or secrets.token_urlsafe(32)
    url = {name: f"http://{HOST}:{port}" for name, port in ports.items()}
    env = _environment(root, token, url)
    log_dir = root / "logs"
    services = [
        ServiceProcess(
            name,
            log_dir=log_dir,
            env=env,
            host=HOST,
            port=ports[name],
            startup_timeout=90.0 if name == "backend" else 30.0,
        )
        for name in names
    ]
    _say(
        f"wikisaga up: data in {root}, logs in {log_dir}",
        "   one development token for every service and client:",
        f"   export WIKISAGA_INTERNAL_TOKEN={token}",
        f"   export WIKISAGA_DATA_DIR={root}",
        f"   export WIKISAGA_BACKEND_URL={url['backend']}",
    )
    if not with_orchestrator:
        _say(
            "   no orchestrator service in this installation: the backend makes pages "
            "itself (WIKISAGA_PAGE_GENERATOR=local)"
        )
    status = _run(services)
    if status == 0:
        _say("wikisaga up: every service stopped")
    return status


def register(app: typer.Typer) -> None:
    """Add ``up`` to the command line."""
    app.command()(up)
