"""A real Neo4j Community server for tests and benchmarks, from ``tools/neo4j-test-server``.

:func:`build` compiles the tool's one Java class with Maven and writes its runtime
classpath; the Maven repository lives outside the clone (:data:`MAVEN_REPO`), so a fresh
clone on the same machine reuses it and, after the first build, needs no network. A build
whose outputs are newer than the pom and the class is not redone.

:class:`Neo4jTestServer` starts one server (Bolt on 127.0.0.1, on a port the server picks,
no authentication, no HTTP), waits for its ``READY bolt://...`` line and for the driver to
connect, and stops it with SIGTERM (then SIGKILL). Its log is ``server.log`` in its
directory; every startup error quotes the end of it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Self

__all__ = [
    "JVM_FLAGS",
    "MAVEN_REPO",
    "QUICK_START_FLAGS",
    "TOOL_DIR",
    "Neo4jTestServer",
    "Neo4jTestServerError",
    "build",
    "missing_tools",
]

TOOL_DIR = Path(__file__).resolve().parents[3] / "tools" / "neo4j-test-server"
"""The Maven project: ``pom.xml`` and ``src/main/java/Main.java``."""

MAVEN_REPO = Path(os.environ.get("WIKISAGA_MAVEN_REPO", Path.home() / ".cache" / "wikisaga" / "m2"))
"""Maven's local repository for the build (``WIKISAGA_MAVEN_REPO`` overrides it)."""

JVM_FLAGS = (
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-XX:+UseSerialGC",
)
QUICK_START_FLAGS = ("-XX:TieredStopAtLevel=1",)
"""Only the quick JIT: on two cores the server starts in about 8 s instead of 14, and runs
the queries of a test as fast; a benchmark's long batches want the optimising JIT too."""

_READY = re.compile(r"^READY (bolt://\S+)$", re.MULTILINE)
_LOG_TAIL = 4000


class Neo4jTestServerError(RuntimeError):
    """The test server could not be built, started or reached; the message quotes its
    output."""


def missing_tools() -> list[str]:
    """The programs the server needs (``java``, ``mvn``) that are not on ``PATH``."""
    return [tool for tool in ("java", "mvn") if shutil.which(tool) is None]


def build(tool_dir: Path = TOOL_DIR, *, maven_repo: Path = MAVEN_REPO, timeout: float = 900) -> str:
    """Compile the server if needed; return its runtime classpath (classes first)."""
    target = tool_dir / "target"
    classes, classpath = target / "classes", target / "cp.txt"
    target.mkdir(parents=True, exist_ok=True)
    # Two test sessions of one clone build one at a time, the second finding it done.
    with (target / ".build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _up_to_date(tool_dir, classes / "Main.class", classpath):
            command = [
                "mvn",
                "-q",
                "-B",
                "package",
                "dependency:build-classpath",
                "-Dmdep.outputFile=target/cp.txt",
                f"-Dmaven.repo.local={maven_repo}",
            ]
            # Offline once the repository has been filled: no network, no update checks.
            attempts = [[*command, "-o"], command] if maven_repo.is_dir() else [command]
            for number, attempt in enumerate(attempts, start=1):
                done = subprocess.run(
                    attempt,
                    cwd=tool_dir,
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                    check=False,
                )
                if done.returncode == 0:
                    break
                if number == len(attempts):
                    output = (done.stdout + done.stderr)[-_LOG_TAIL:]
                    raise Neo4jTestServerError(
                        f"building {tool_dir} failed ({' '.join(attempt)}):\n{output}"
                    )
    return f"{classes}{os.pathsep}{classpath.read_text().strip()}"


def _up_to_date(tool_dir: Path, *outputs: Path) -> bool:
    sources = [tool_dir / "pom.xml", *sorted((tool_dir / "src").rglob("*.java"))]
    if not all(output.is_file() for output in outputs):
        return False
    newest_source = max(source.stat().st_mtime for source in sources)
    return min(output.stat().st_mtime for output in outputs) >= newest_source


class Neo4jTestServer:
    """One Neo4j server with its data and log in ``directory``; use it with ``with``.

    ``heap`` is the JVM's ``-Xmx`` (128m runs a 10k-edge benchmark); ``port`` 0 lets the
    server pick a free one, which it reports on its READY line; ``quick_start`` adds
    :data:`QUICK_START_FLAGS`.
    """

    def __init__(
        self,
        directory: Path,
        *,
        port: int = 0,
        heap: str = "256m",
        quick_start: bool = True,
        startup_timeout: float = 180.0,
        stop_timeout: float = 30.0,
    ) -> None:
        self.directory = Path(directory)
        self.port = port
        self.heap = heap
        self.quick_start = quick_start
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.log_path = self.directory / "server.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """``bolt://127.0.0.1:<port>`` of the running server."""
        if self._url is None:
            raise Neo4jTestServerError("the Neo4j test server is not running")
        return self._url

    def start(self) -> Self:
        """Build if needed, start the server, and return once Bolt answers."""
        missing = missing_tools()
        if missing:
            raise Neo4jTestServerError(f"{' and '.join(missing)} not found on PATH")
        classpath = build()
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [
            "java",
            *JVM_FLAGS,
            *(QUICK_START_FLAGS if self.quick_start else ()),
            f"-Xmx{self.heap}",
            "-cp",
            classpath,
            "Main",
            str(self.port),
            str(self.directory / "db"),
        ]
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C of the tests is not sent to it twice
            )
        try:
            self._url = self._wait_until_ready()
            self._check_bolt(self._url)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> str:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        while True:
            found = _READY.search(self.log_path.read_text(errors="replace"))
            if found:
                return found.group(1)
            if self._process.poll() is not None:
                raise Neo4jTestServerError(
                    f"the Neo4j test server exited with {self._process.returncode} before "
                    f"it was ready; its log:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise Neo4jTestServerError(
                    f"the Neo4j test server was not ready after {self.startup_timeout:g} s; "
                    f"its log:\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def _check_bolt(self, url: str) -> None:
        import neo4j  # noqa: PLC0415 - only a started server needs the driver

        try:
            with neo4j.GraphDatabase.driver(url, auth=None, connection_timeout=10) as driver:
                driver.verify_connectivity()
        except Exception as exc:
            raise Neo4jTestServerError(
                f"the Neo4j test server printed READY but {url} does not answer ({exc}); "
                f"its log:\n{self.log_tail()}"
            ) from exc

    def log_tail(self) -> str:
        """The end of the server's log (standard output and error)."""
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-_LOG_TAIL:]
        return "(no log)"

    def stop(self) -> None:
        """SIGTERM (a clean shutdown, about 2 s), then SIGKILL after ``stop_timeout``."""
        process, self._process, self._url = self._process, None, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
