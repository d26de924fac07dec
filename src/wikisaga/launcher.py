"""Run services as real subprocesses: for tests, the demo, ``wikisaga up`` and chaos runs.

>>> with ServiceProcess("filesystem", env={"WIKISAGA_INTERNAL_TOKEN": "t"},
...                     log_dir=Path("logs")) as fs:          # doctest: +SKIP
...     httpx.get(f"{fs.url}/health")

Each process runs ``python -m wikisaga serve <name> --host 127.0.0.1 --port <port>`` in a
session of its own, with stdout and stderr appended to ``<log_dir>/<name>-<port>.log``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any, Self

import httpx

__all__ = ["ServiceProcess", "ServiceStartError", "free_port", "signals_held"]

_LOG_TAIL_BYTES = 4000


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on ``host`` a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class ServiceStartError(RuntimeError):
    """A service process exited or did not become healthy in time."""


_HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold off SIGINT and SIGTERM for the block, then deliver any that came, once each.

    Their Python handlers (the default ``KeyboardInterrupt`` included) run in the main
    thread between two bytecodes, wherever it is; for the block each is only noted, and
    after it each signal noted is raised again, to the handler the caller had. Handlers
    run only in the main thread, so elsewhere this holds nothing and needs to hold
    nothing; signals left to the system (default or ignored) are not touched.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted: list[int] = []

    def note(signum: int, _frame: FrameType | None) -> None:
        if signum not in noted:
            noted.append(signum)

    previous: dict[signal.Signals, Any] = {}
    for held in _HELD_SIGNALS:
        if callable(signal.getsignal(held)):
            previous[held] = signal.signal(held, note)
    try:
        yield
    finally:
        for held, handler in previous.items():
            signal.signal(held, handler)
        for signum in noted:
            signal.raise_signal(signum)


class ServiceProcess:
    """One service running as a subprocess of this one."""

    def __init__(
        self,
        name: str,
        *,
        log_dir: Path,
        env: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 20.0,
    ) -> None:
        self.name = name
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.env = dict(env or {})
        self.extra_args = list(extra_args)
        self.startup_timeout = startup_timeout
        self.log_dir = Path(log_dir)
        self.log_path = self.log_dir / f"{name}-{self.port}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """The service's base URL, without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The process id while a process was started, else ``None``."""
        return self._process.pid if self._process is not None else None

    @property
    def alive(self) -> bool:
        """Whether the process is running."""
        return self._process is not None and self._process.poll() is None

    @property
    def returncode(self) -> int | None:
        """The exit status once the process ended (negative: killed by that signal)."""
        return self._process.poll() if self._process is not None else None

    def command(self) -> list[str]:
        """The command line the process runs."""
        return [
            sys.executable,
            "-m",
            "wikisaga",
            "serve",
            self.name,
            "--host",
            self.host,
            "--port",
            str(self.port),
            *self.extra_args,
        ]

    def log_tail(self, limit: int = _LOG_TAIL_BYTES) -> str:
        """The last ``limit`` bytes of the process's log."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(0, os.SEEK_END)
                size = log.tell()
                log.seek(max(0, size - limit))
                return log.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def start(self) -> Self:
        """Start the process and wait until ``/health`` answers; raise if it does not."""
        self.spawn()
        self.wait_started()
        return self

    def spawn(self) -> None:
        """Start the process, without waiting for it (:meth:`start` is both halves).

        Ctrl-C or SIGTERM arriving meanwhile takes effect once the process is recorded
        (:func:`signals_held`): raised inside ``Popen``, it would leave a child that
        nothing knows of, so that nothing stops.
        """
        if self.alive:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._close_log()
        self._log = self.log_path.open("ab")
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        with signals_held():
            self._process = subprocess.Popen(
                self.command(),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_started(self) -> None:
        """Wait until the spawned process is healthy; kill it and raise if it is not (or
        if the wait is interrupted)."""
        try:
            self.wait_healthy(self.startup_timeout)
        except BaseException:
            self.kill()
            raise

    def wait_healthy(self, timeout: float) -> None:
        """Poll ``/health`` until it answers 200; raise with the log tail if it cannot."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0) as client:
            while True:
                if not self.alive:
                    raise ServiceStartError(
                        f"{self.name} exited with status {self.returncode} before it was "
                        f"healthy; log {self.log_path}:\n{self.log_tail()}"
                    )
                try:
                    response = client.get(f"{self.url}/health")
                    if response.status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise ServiceStartError(
                        f"{self.name} was not healthy at {self.url} within {timeout:g}s; "
                        f"log {self.log_path}:\n{self.log_tail()}"
                    )
                time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> int | None:
        """Send SIGTERM, wait up to ``timeout`` seconds, then SIGKILL; return the status."""
        process = self._process
        if process is not None and process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                process.wait()
        self._close_log()
        return self.returncode

    def kill(self) -> int | None:
        """Send SIGKILL (no chance to clean up) and wait; return the status."""
        process = self._process
        if process is not None and process.poll() is None:
            self._signal(signal.SIGKILL)
            process.wait()
        self._close_log()
        return self.returncode

    def restart(self, timeout: float = 10.0) -> Self:
        """Stop the process if it runs, then start it again on the same port."""
        self.stop(timeout)
        return self.start()

    def _signal(self, signum: int) -> None:
        assert self._process is not None
        with contextlib.suppress(ProcessLookupError):
            self._process.send_signal(signum)

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        if not self.alive:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.alive else "stopped"
        return f"<ServiceProcess {self.name} {self.url} {state} pid={self.pid}>"
