"""A PostgreSQL server for a benchmark, fresh databases on it, and what its commits cost.

:func:`server` yields a :class:`Server`: the one ``--url`` names, or, without a URL, a
throwaway cluster made with ``initdb`` in a temporary directory and started with
``pg_ctl`` on a free port (its defaults: ``fsync`` and ``synchronous_commit`` on). A
throwaway cluster is the benchmark's alone, so nobody else's work lands in its commit and
transaction counts; it is stopped and deleted afterwards. Run as root, the cluster runs as
the ``postgres`` user (``initdb`` refuses root). Without ``initdb``, ``scripts/provision-postgres``
is asked for the test server instead.

Every system measured gets a database of its own (:meth:`Server.create_space`; a schema in
the server's database when the role may not create databases), dropped when the server is
left. :class:`CommitCounter` counts the ``COMMIT`` statements psycopg
connections send (ours, and those SQLAlchemy opens for DBOS); :meth:`Server.next_xid` reads
the cluster's transaction counter, whose advance is the number of transactions that wrote
(each of which flushes the WAL at commit).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.pq import Trace, TransactionStatus

ROOT = Path(__file__).resolve().parents[1]
PROVISION = ROOT / "scripts" / "provision-postgres"
SETTINGS = ("synchronous_commit", "fsync", "wal_sync_method", "commit_delay", "server_version")
_USER = "bench"


@dataclass(frozen=True)
class Space:
    """Where one system keeps its tables: a database of its own, or a schema in a shared one."""

    url: str
    schema: str | None
    """``None``: the database at ``url`` is the system's alone (tables go in ``public``)."""

    def connect(self, **options: Any) -> psycopg.Connection[Any]:
        """A connection whose ``search_path`` starts at the space's schema."""
        if self.schema is not None:
            options.setdefault("options", f"-c search_path={self.schema}")
        return psycopg.connect(self.url, **options)

    def log_options(self) -> dict[str, Any]:
        """What ``open_saga_log(space.url, **...)`` needs to keep the log here."""
        return {} if self.schema is None else {"schema": self.schema}


@dataclass
class Server:
    """A PostgreSQL server the benchmark may create databases on."""

    url: str
    """Where to connect as a role that may create databases."""
    owned: bool
    """Whether the benchmark started it (then its transaction counter is ours alone)."""
    postmaster_pid: int | None = None
    """The server's main process, when it runs on this machine and can be found."""
    databases: list[str] = field(default_factory=list)
    schemas: list[str] = field(default_factory=list)

    def database_url(self, name: str) -> str:
        """The URL of database ``name`` on this server, with the same role."""
        return urlunsplit(urlsplit(self.url)._replace(path=f"/{name}"))

    def create_space(self, purpose: str) -> Space:
        """A new empty database for ``purpose``, or, if the role may not create databases,
        a new schema in the server's database. Dropped when :func:`server` is left."""
        name = f"bench_{re.sub(r'[^a-z0-9]+', '_', purpose.lower())}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
            if row is not None and row[0]:
                conn.execute(f'CREATE DATABASE "{name}"')
                self.databases.append(name)
                return Space(self.database_url(name), None)
            conn.execute(f'CREATE SCHEMA "{name}"')
            self.schemas.append(name)
            return Space(self.url, name)

    def drop_spaces(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            for name in reversed(self.databases):
                # FORCE ends whatever a benchmark left connected (PostgreSQL 13+).
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            for name in reversed(self.schemas):
                conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        self.databases.clear()
        self.schemas.clear()

    def settings(self, url: str | None = None) -> dict[str, str]:
        """:data:`SETTINGS` as a new connection to ``url`` (default: the server's) sees them."""
        with psycopg.connect(url or self.url, autocommit=True) as conn:
            return session_settings(conn)

    def next_xid(self) -> int:
        """The next transaction id the cluster will hand out (reading it takes none)."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            row = conn.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text").fetchone()
        assert row is not None
        return int(row[0])

    def pids(self) -> list[int]:
        """The postmaster and its children (backends, WAL writer...), if on this machine."""
        if self.postmaster_pid is None:
            return []
        children = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with suppress(OSError, IndexError, ValueError):
                    stat = (entry / "stat").read_text()
                    if int(stat.rsplit(")", 1)[1].split()[1]) == self.postmaster_pid:
                        children.append(int(entry.name))
        return [self.postmaster_pid, *children]


def session_settings(conn: psycopg.Connection[Any]) -> dict[str, str]:
    """:data:`SETTINGS` in force on ``conn`` (left as it was: no transaction stays open)."""
    idle = conn.info.transaction_status == TransactionStatus.IDLE
    values = {}
    for name in SETTINGS:
        row = conn.execute(f"SHOW {name}").fetchone()
        values[name] = str(row[0]) if row else "?"
    if idle and conn.info.transaction_status != TransactionStatus.IDLE:
        conn.rollback()
    return values


@contextmanager
def server(url: str | None, workdir: Path) -> Iterator[Server]:
    """The server ``url`` names, or a throwaway cluster; databases made on it are dropped."""
    if url is not None:
        found = Server(url=url, owned=False, postmaster_pid=_local_postmaster(url))
        try:
            yield found
        finally:
            found.drop_spaces()
        return
    if _binary("initdb") is None:
        provisioned = _provision()
        with server(provisioned, workdir) as found:
            yield found
        return
    with _throwaway_cluster(workdir) as found:
        yield found


def _local_postmaster(url: str) -> int | None:
    """The pid of the server's postmaster, if its backend is a process on this machine."""
    with (
        suppress(psycopg.Error, OSError, IndexError, ValueError, TypeError),
        psycopg.connect(url, autocommit=True) as conn,
    ):
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        stat = Path(f"/proc/{row[0]}/stat").read_text()  # type: ignore[index]
        return int(stat.rsplit(")", 1)[1].split()[1])
    return None


def _provision() -> str:
    print("no initdb on PATH: asking scripts/provision-postgres", file=sys.stderr)
    done = subprocess.run([str(PROVISION)], capture_output=True, text=True, check=True)
    return done.stdout.strip().splitlines()[-1]


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found is not None:
        return found
    candidates = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
        key=lambda path: [int(part) for part in re.findall(r"\d+", path.parts[-3])],
    )
    return str(candidates[-1]) if candidates else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _throwaway_cluster(workdir: Path) -> Iterator[Server]:
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise SystemExit("initdb and pg_ctl are needed for a throwaway cluster")
    as_root = os.geteuid() == 0
    # Root's temporary directories are private; the postgres user must reach its own.
    parent = Path(tempfile.mkdtemp(prefix="bench-pg-", dir=None if as_root else workdir))
    data = parent / "data"
    prefix: list[str] = []
    if as_root:
        shutil.chown(parent, "postgres", "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    log = parent / "server.log"

    def run(*command: str) -> None:
        subprocess.run([*prefix, *command], check=True, capture_output=True, text=True)

    started = False
    try:
        print(f"starting a throwaway PostgreSQL cluster on port {port}", file=sys.stderr)
        # -N: initdb's own files need not be synced; the server syncs as usual once running.
        run(initdb, "-D", str(data), "-U", _USER, "--auth=trust", "-E", "UTF8", "-N")
        options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c max_connections=200"
        run(pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options, "start")
        started = True
        pid = int((data / "postmaster.pid").read_text().split()[0])
        yield Server(
            url=f"postgresql://{_USER}@127.0.0.1:{port}/postgres", owned=True, postmaster_pid=pid
        )
    except subprocess.CalledProcessError as exc:
        tail = log.read_text()[-2000:] if log.exists() else ""
        raise SystemExit(f"could not start PostgreSQL: {exc.stderr or exc}\n{tail}") from exc
    finally:
        if started:
            with suppress(subprocess.CalledProcessError):
                run(pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(parent, ignore_errors=True)


class CommitCounter:
    """Counts the transactions psycopg connections end, and their round trips, while installed.

    Every connection that runs a statement or commits while counting (ours, and those
    SQLAlchemy opens for DBOS) has libpq's protocol trace turned on, and the trace is read
    at :meth:`stop`: each ``ReadyForQuery`` the server sends ends one round trip (``BEGIN``
    is one of its own unless pipelined), and a transaction ends at each ``COMMIT`` and at
    each statement run outside a transaction (autocommit: the statement is its own
    transaction). A commit with no transaction open sends nothing and is not counted.
    """

    def __init__(self) -> None:
        self.commits = 0
        self.round_trips = 0
        self.connections: list[psycopg.Connection[Any]] = []
        self._traces: dict[int, tuple[psycopg.Connection[Any], IO[str]]] = {}
        self._active = False

    @contextmanager
    def installed(self) -> Iterator[CommitCounter]:
        execute, commit = psycopg.Cursor.execute, psycopg.Connection.commit
        executemany = psycopg.Cursor.executemany
        watch = self._watch

        def counted_execute(cur: psycopg.Cursor[Any], *args: Any, **kwargs: Any) -> Any:
            watch(cur.connection)
            return execute(cur, *args, **kwargs)

        def counted_executemany(cur: psycopg.Cursor[Any], *args: Any, **kwargs: Any) -> Any:
            watch(cur.connection)
            return executemany(cur, *args, **kwargs)

        def counted_commit(conn: psycopg.Connection[Any]) -> None:
            watch(conn)
            commit(conn)

        psycopg.Cursor.execute = counted_execute  # type: ignore[method-assign]
        psycopg.Cursor.executemany = counted_executemany  # type: ignore[method-assign]
        psycopg.Connection.commit = counted_commit  # type: ignore[method-assign]
        try:
            yield self
        finally:
            psycopg.Cursor.execute = execute  # type: ignore[method-assign]
            psycopg.Cursor.executemany = executemany  # type: ignore[method-assign]
            psycopg.Connection.commit = commit  # type: ignore[method-assign]
            self._untrace()

    def _watch(self, conn: psycopg.Connection[Any]) -> None:
        if not self._active or id(conn) in self._traces or conn.closed:
            return
        trace = tempfile.TemporaryFile("w+", prefix="pgtrace-")  # noqa: SIM115 - kept open
        conn.pgconn.trace(trace.fileno())
        conn.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS | Trace.REGRESS_MODE)
        self._traces[id(conn)] = (conn, trace)
        if conn not in self.connections:
            self.connections.append(conn)

    def _untrace(self) -> None:
        for conn, trace in self._traces.values():
            if not conn.closed:
                with suppress(psycopg.Error):
                    conn.pgconn.untrace()
            trace.close()
        self._traces.clear()

    def start(self) -> None:
        self._untrace()
        self.commits = self.round_trips = 0
        self._active = True

    def stop(self) -> int:
        """Stop counting; the number of transactions ended (:attr:`round_trips` is set too)."""
        self._active = False
        traces = [trace for _, trace in self._traces.values()]
        for conn, _ in self._traces.values():
            if not conn.closed:
                with suppress(psycopg.Error):
                    conn.pgconn.untrace()
        for trace in traces:
            trace.flush()
            trace.seek(0)
            commits, trips = count_trace(trace)
            self.commits += commits
            self.round_trips += trips
        self._untrace()
        return self.commits

    def settings(self) -> dict[str, str]:
        """:data:`SETTINGS` on the first committing connection still open."""
        for conn in self.connections:
            if not conn.closed:
                with suppress(psycopg.Error):
                    return session_settings(conn)
        return dict.fromkeys(SETTINGS, "?")


def count_trace(lines: Iterator[str] | IO[str]) -> tuple[int, int]:
    """Transactions ended and round trips in a libpq protocol trace (see CommitCounter)."""
    commits = trips = 0
    tag: str | None = None
    for line in lines:
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 3 or parts[0] != "B":
            continue
        if parts[2] == "CommandComplete":
            tag = parts[3].strip().strip('"').split(" ")[0] if len(parts) > 3 else ""
        elif parts[2] == "ReadyForQuery":
            trips += 1
            status = parts[3].strip() if len(parts) > 3 else ""
            if tag == "COMMIT" or (status == "I" and tag not in (None, "ROLLBACK", "BEGIN")):
                commits += 1
            tag = None
    return commits, trips
