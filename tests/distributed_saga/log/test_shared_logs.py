"""Logs named by URL are opened once per process and lent to every saga that names them.

Each test has a registry of its own (``SharedSagaLogs``) except where the engine's own
(``shared_saga_logs``, which ``DistributedSaga(log=url)`` uses) is the subject; every log
is a real SQLite file, and what reaches it is read back with ``sqlite3``.
"""

from __future__ import annotations

import gc
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from distributed_saga import (
    Compensation,
    DistributedSaga,
    SagaLogError,
    SagaLogUnavailable,
    compensation,
)
from distributed_saga.log import SagaLog, SharedSagaLogs, shared_saga_logs

UNDO = "tests.shared_logs.undo"


@compensation(UNDO)
def _undo(args: Any) -> None:
    del args


def url_of(path: Path) -> str:
    return f"sqlite:///{path}"


def run_saga(log: SagaLog | str, saga_id: str) -> DistributedSaga:
    saga = DistributedSaga(saga_id, "user", log=log)
    saga.execute_step("one", lambda: 1, rollback=Compensation(UNDO, {}))
    saga.commit()
    return saga


def saga_ids_in(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT saga_id FROM saga")}


def is_closed(log: SagaLog) -> bool:
    try:
        log.list_sagas(limit=1)
    except SagaLogError as exc:
        if "is closed" not in str(exc):
            raise
        return True
    return False


@pytest.fixture
def logs() -> Iterator[SharedSagaLogs]:
    registry = SharedSagaLogs(keep_idle=2)
    yield registry
    registry.close_all()


def test_one_url_is_one_log_until_it_closes(logs: SharedSagaLogs, tmp_path: Path) -> None:
    url = url_of(tmp_path / "a.db")
    with logs.lease(url) as first, logs.lease(url) as second:
        assert first is second
        with logs.lease(url_of(tmp_path / "b.db")) as other:
            assert other is not first
    assert logs.open_count() == 2  # both idle, both kept
    with logs.lease(url) as again:
        assert again is first
        run_saga(again, "s-1")
    assert saga_ids_in(tmp_path / "a.db") == {"s-1"}


def test_idle_logs_beyond_the_bound_are_closed_least_recent_first(
    logs: SharedSagaLogs, tmp_path: Path
) -> None:
    opened = []
    for name in "abcde":
        with logs.lease(url_of(tmp_path / f"{name}.db")) as log:
            opened.append(log)
    assert logs.open_count() == 2
    assert [is_closed(log) for log in opened] == [True, True, True, False, False]


def test_a_log_in_use_is_never_closed_under_its_saga(tmp_path: Path) -> None:
    logs = SharedSagaLogs(keep_idle=0)
    held = logs.acquire(url_of(tmp_path / "held.db"))
    try:
        for name in "abc":
            with logs.lease(url_of(tmp_path / f"{name}.db")):
                pass
        assert logs.open_count() == 1
        run_saga(held, "still-writing")
    finally:
        logs.release(held)
    assert is_closed(held)
    assert saga_ids_in(tmp_path / "held.db") == {"still-writing"}


def test_a_deleted_file_gets_a_new_log_and_the_sagas_after_land_in_the_new_file(
    logs: SharedSagaLogs, tmp_path: Path
) -> None:
    path = tmp_path / "sagas.db"
    with logs.lease(url_of(path)) as before:
        run_saga(before, "before")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with logs.lease(url_of(path)) as after:
        assert after is not before
        run_saga(after, "after")
    assert is_closed(before)
    assert saga_ids_in(path) == {"after"}


def test_threads_starting_together_open_the_log_once(logs: SharedSagaLogs, tmp_path: Path) -> None:
    url = url_of(tmp_path / "sagas.db")
    start = threading.Barrier(8)
    seen: list[SagaLog] = []
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            start.wait()
            with logs.lease(url) as log:
                seen.append(log)
                run_saga(log, f"thread-{n}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({id(log) for log in seen}) == 1
    assert logs.open_count() == 1
    assert saga_ids_in(tmp_path / "sagas.db") == {f"thread-{n}" for n in range(8)}


def test_memory_urls_are_not_shared(logs: SharedSagaLogs) -> None:
    with logs.lease("memory://") as first, logs.lease("memory://") as second:
        assert first is not second
        run_saga(first, "only-here")
        assert [s.saga_id for s in first.list_sagas()] == ["only-here"]
        assert second.list_sagas() == []
    assert logs.open_count() == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_opens_its_own_and_leaves_the_parents_open(
    logs: SharedSagaLogs, tmp_path: Path
) -> None:
    url = url_of(tmp_path / "sagas.db")
    parent = logs.acquire(url)
    try:
        run_saga(parent, "parent-before")
        pid = os.fork()
        if pid == 0:  # the child: exits with 0 only if it got a log of its own that works
            status = 1
            try:
                child = logs.acquire(url)
                run_saga(child, "child")
                logs.release(child)
                logs.release(parent)  # given back in the child: must not close the parent's
                status = 0 if child is not parent else 2
            finally:
                os._exit(status)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        run_saga(parent, "parent-after")
    finally:
        logs.release(parent)
    assert saga_ids_in(tmp_path / "sagas.db") == {"parent-before", "child", "parent-after"}


def test_sagas_that_name_a_url_share_the_processs_log(tmp_path: Path) -> None:
    url = url_of(tmp_path / "sagas.db")
    first = run_saga(url, "url-1")
    log = first.log
    del first
    gc.collect()
    assert not is_closed(log)  # idle, kept for the next saga
    second = run_saga(url, "url-2")
    assert second.log is log
    assert saga_ids_in(tmp_path / "sagas.db") == {"url-1", "url-2"}
    del second
    gc.collect()
    with shared_saga_logs.lease(url) as lent:
        assert lent is log


def test_the_shared_logs_are_closed_at_exit(tmp_path: Path) -> None:
    # A SQLite log's last connection checkpoints the WAL into the database and removes it
    # when it closes; a process that exits without closing leaves the WAL behind.
    path = tmp_path / "sagas.db"
    script = (
        "from distributed_saga import Compensation, DistributedSaga, compensation\n"
        "compensation('exit.undo')(lambda args: None)\n"
        f"saga = DistributedSaga('at-exit', 'user', log={url_of(path)!r})\n"
        "saga.execute_step('one', lambda: 1, rollback=Compensation('exit.undo', {}))\n"
        "saga.commit()\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    assert path.exists()
    assert not Path(f"{path}-wal").exists()
    assert saga_ids_in(path) == {"at-exit"}


def test_a_negative_bound_is_refused() -> None:
    with pytest.raises(ValueError, match="keep_idle"):
        SharedSagaLogs(keep_idle=-1)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback TCP port that accepts connections and never says a word: a PostgreSQL
    URL to it opens only when its connect timeout runs out."""
    psycopg = pytest.importorskip("psycopg")
    del psycopg
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    yield f"postgresql://nobody@127.0.0.1:{port}/nothing?connect_timeout=2"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def acquire_into(logs: SharedSagaLogs, url: str, failures: list[BaseException]) -> None:
    """Acquire ``url``'s log (a thread's target), keeping the error it raises."""
    try:
        logs.acquire(url)
    except BaseException as exc:  # noqa: BLE001 - the caller checks it
        failures.append(exc)


def test_a_url_slow_to_open_holds_up_no_other_url(
    logs: SharedSagaLogs, tmp_path: Path, silent_server: str
) -> None:
    failures: list[BaseException] = []
    stuck = threading.Thread(target=acquire_into, args=(logs, silent_server, failures))
    stuck.start()
    try:
        time.sleep(0.2)  # the stuck open has begun
        with logs.lease(url_of(tmp_path / "sagas.db")) as log:
            run_saga(log, "not-held-up")
        assert stuck.is_alive(), "the SQLite log waited for the PostgreSQL one"
    finally:
        stuck.join()
    assert [type(exc) for exc in failures] == [SagaLogUnavailable]
    assert saga_ids_in(tmp_path / "sagas.db") == {"not-held-up"}


def test_sagas_waiting_on_an_open_that_fails_each_get_the_error_and_nothing_is_kept(
    logs: SharedSagaLogs, silent_server: str
) -> None:
    failures: list[BaseException] = []
    threads = [
        threading.Thread(target=acquire_into, args=(logs, silent_server, failures))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [type(exc) for exc in failures] == [SagaLogUnavailable, SagaLogUnavailable]
    assert logs.open_count() == 0
