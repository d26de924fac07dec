"""Every saga log backend against the contract, plus what is particular to each backend."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from distributed_saga._errors import SagaLockedError, SagaLogError, SagaLogUnavailable
from distributed_saga._records import SagaState
from distributed_saga.log import MemorySagaLog, SagaLog, open_saga_log
from distributed_saga.log._sql import SCHEMA_VERSION
from distributed_saga.log.postgres import PostgresSagaLog
from distributed_saga.log.sqlite import SQLiteSagaLog
from distributed_saga.testing import SagaLogContract
from distributed_saga.testing.contract import EXPIRY, LEASE, OWNER, SHORT_LEASE, drive, intent

# -- the contract, bound to each backend ------------------------------------------------


class TestMemorySagaLog(SagaLogContract):
    @pytest.fixture
    def log(self) -> Iterator[SagaLog]:
        with MemorySagaLog() as log:
            yield log


class TestSQLiteSagaLog(SagaLogContract):
    @pytest.fixture
    def log(self, tmp_path: Path) -> Iterator[SagaLog]:
        with SQLiteSagaLog(tmp_path / "sagas.db") as log:
            yield log


@pytest.mark.postgres
class TestPostgresSagaLog(SagaLogContract):
    @pytest.fixture
    def reopen_log(self, postgres_url: str, postgres_schema: str) -> Callable[[], SagaLog]:
        return lambda: PostgresSagaLog(postgres_url, schema=postgres_schema)

    @pytest.fixture
    def log(self, reopen_log: Callable[[], SagaLog]) -> Iterator[SagaLog]:
        with reopen_log() as log:
            yield log


def claim_all_concurrently(logs: list[SagaLog], limit: int) -> dict[str, list[str]]:
    """Each log claims expired sagas in its own thread until none is left; who got what."""
    start = threading.Barrier(len(logs), timeout=30)

    def claim(owner: str, log: SagaLog) -> list[str]:
        start.wait()
        got: list[str] = []
        while batch := log.claim_expired(owner, LEASE, limit=limit):
            got.extend(batch)
        return got

    with ThreadPoolExecutor(max_workers=len(logs)) as pool:
        futures = {
            f"claimant-{n}": pool.submit(claim, f"claimant-{n}", log) for n, log in enumerate(logs)
        }
    return {owner: future.result() for owner, future in futures.items()}


# -- SQLite -----------------------------------------------------------------------------


def test_sqlite_log_keeps_its_file_in_wal_mode(tmp_path: Path) -> None:
    with SQLiteSagaLog(tmp_path / "sagas.db"):
        with sqlite3.connect(tmp_path / "sagas.db") as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        conn.close()


def test_sqlite_synchronous_defaults_to_full(tmp_path: Path) -> None:
    with SQLiteSagaLog(tmp_path / "sagas.db") as log:
        assert log.synchronous == "FULL"


def test_sqlite_synchronous_normal_is_applied_from_argument_and_url(tmp_path: Path) -> None:
    with SQLiteSagaLog(tmp_path / "a.db", synchronous="normal") as log:
        assert log.synchronous == "NORMAL"
    with open_saga_log(f"sqlite:///{tmp_path}/b.db?synchronous=NORMAL") as log:
        assert isinstance(log, SQLiteSagaLog)
        assert log.synchronous == "NORMAL"


def test_sqlite_refuses_an_unknown_synchronous_setting(tmp_path: Path) -> None:
    with pytest.raises(SagaLogError, match="synchronous"):
        SQLiteSagaLog(tmp_path / "sagas.db", synchronous="OFF")


def test_sqlite_creates_missing_parent_directories(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "sagas.db"
    with SQLiteSagaLog(path):
        assert path.is_file()


def test_sqlite_url_with_three_slashes_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with open_saga_log("sqlite:///data/sagas.db") as log:
        assert isinstance(log, SQLiteSagaLog)
        assert log.url == "sqlite:///data/sagas.db"
        assert log.path == Path("data/sagas.db")
    assert (tmp_path / "data" / "sagas.db").is_file()


def test_sqlite_url_with_four_slashes_is_absolute(tmp_path: Path) -> None:
    assert tmp_path.is_absolute()
    url = f"sqlite:///{tmp_path}/abs.db"
    assert url.startswith("sqlite:////")
    with SQLiteSagaLog.from_url(url) as log:
        assert log.path == tmp_path / "abs.db"
        assert log.url == url
    assert (tmp_path / "abs.db").is_file()


def test_sqlite_url_options_give_way_to_keyword_options(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db?synchronous=NORMAL&busy_timeout=0.5"
    with open_saga_log(url, synchronous="FULL") as log:
        assert isinstance(log, SQLiteSagaLog)
        assert log.synchronous == "FULL"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://host/sagas.db",
        "sqlite:///",
        "sqlite:///sagas.db?journal=off",
        "sqlite:///sagas.db?busy_timeout=soon",
    ],
)
def test_sqlite_refuses_a_malformed_url(url: str) -> None:
    with pytest.raises(SagaLogError):
        SQLiteSagaLog.from_url(url)


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite:///file:sagas"])
def test_sqlite_refuses_an_in_memory_database(url: str) -> None:
    with pytest.raises(SagaLogError, match="memory://"):
        SQLiteSagaLog.from_url(url)


def test_sqlite_log_built_from_a_path_reports_a_url_that_reopens_it(tmp_path: Path) -> None:
    with SQLiteSagaLog(tmp_path / "sagas.db") as log:
        drive(log, "s1", SagaState.EXECUTING)
        url = log.url
    with open_saga_log(url) as reopened:
        assert reopened.get_saga("s1").state is SagaState.EXECUTING


def test_sqlite_records_the_schema_version(tmp_path: Path) -> None:
    with SQLiteSagaLog(tmp_path / "sagas.db"):
        pass
    with sqlite3.connect(tmp_path / "sagas.db") as conn:
        assert conn.execute("SELECT version FROM saga_schema_version").fetchall() == [
            (SCHEMA_VERSION,)
        ]
    conn.close()


def test_sqlite_refuses_a_database_from_a_newer_schema(tmp_path: Path) -> None:
    with SQLiteSagaLog(tmp_path / "sagas.db"):
        pass
    with sqlite3.connect(tmp_path / "sagas.db") as conn:
        conn.execute("UPDATE saga_schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    conn.close()
    with pytest.raises(SagaLogError, match="newer"):
        SQLiteSagaLog(tmp_path / "sagas.db")


def test_sqlite_write_lock_held_past_busy_timeout_is_unavailable(tmp_path: Path) -> None:
    with SQLiteSagaLog(tmp_path / "sagas.db", busy_timeout=0.05) as log:
        blocker = sqlite3.connect(tmp_path / "sagas.db", isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")
            with pytest.raises(SagaLogUnavailable) as raised:
                log.create_saga("s1", None, owner=OWNER, lease_seconds=LEASE)
            assert isinstance(raised.value.__cause__, sqlite3.OperationalError)
            blocker.execute("ROLLBACK")
        finally:
            blocker.close()
        log.create_saga("s1", None, owner=OWNER, lease_seconds=LEASE)  # usable again


def test_sqlite_file_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "a-directory.db").mkdir()
    with pytest.raises(SagaLogUnavailable):
        SQLiteSagaLog(tmp_path / "a-directory.db")


def test_sqlite_parent_that_is_a_file_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(SagaLogUnavailable):
        SQLiteSagaLog(tmp_path / "file" / "sagas.db")


def test_sqlite_file_that_is_not_a_database_is_a_log_error_not_unavailable(
    tmp_path: Path,
) -> None:
    (tmp_path / "sagas.db").write_bytes(b"this is not a database, " * 100)
    with pytest.raises(SagaLogError) as raised:
        SQLiteSagaLog(tmp_path / "sagas.db")
    assert not isinstance(raised.value, SagaLogUnavailable)
    assert isinstance(raised.value.__cause__, sqlite3.DatabaseError)


def test_sqlite_missing_table_is_a_log_error_not_unavailable(tmp_path: Path) -> None:
    with SQLiteSagaLog(tmp_path / "sagas.db") as log:
        drive(log, "s1", SagaState.EXECUTING)
        with sqlite3.connect(tmp_path / "sagas.db") as conn:
            conn.execute("DROP TABLE saga_step")
        conn.close()
        with pytest.raises(SagaLogError) as raised:
            log.get_saga("s1")
        assert not isinstance(raised.value, SagaLogUnavailable)
        assert isinstance(raised.value.__cause__, sqlite3.OperationalError)


def test_sqlite_closed_log_refuses_calls(tmp_path: Path) -> None:
    log = SQLiteSagaLog(tmp_path / "sagas.db")
    log.close()
    log.close()  # closing twice is harmless
    with pytest.raises(SagaLogError, match="closed"):
        log.list_sagas()


def test_sqlite_failed_write_rolls_back_and_leaves_the_log_usable(tmp_path: Path) -> None:
    with SQLiteSagaLog(tmp_path / "sagas.db") as log:
        drive(log, "holder", SagaState.EXECUTING, lock_key="doc")
        with pytest.raises(SagaLockedError):
            log.create_saga("s2", None, owner=OWNER, lease_seconds=LEASE, lock_key="doc")
        intent(log, "holder", index=1)
        assert len(log.get_saga("holder").steps) == 2


def test_sqlite_logs_on_one_file_claim_each_expired_saga_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "sagas.db"
    with SQLiteSagaLog(path) as log:
        ids = [f"s{index:03d}" for index in range(60)]
        for saga_id in ids:
            drive(log, saga_id, SagaState.EXECUTING, lease_seconds=SHORT_LEASE)
    time.sleep(EXPIRY)
    logs: list[SagaLog] = [SQLiteSagaLog(path, synchronous="NORMAL") for _ in range(4)]
    try:
        claims = claim_all_concurrently(logs, limit=4)
    finally:
        for each in logs:
            each.close()
    assert sorted(s for got in claims.values() for s in got) == ids


# -- PostgreSQL -------------------------------------------------------------------------


@pytest.fixture
def pg_log(postgres_url: str, postgres_schema: str) -> Iterator[PostgresSagaLog]:
    with PostgresSagaLog(postgres_url, schema=postgres_schema) as log:
        yield log


def admin(postgres_url: str, query: str) -> None:
    import psycopg  # noqa: PLC0415

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(query)  # type: ignore[call-overload]


@pytest.mark.postgres
def test_postgres_logs_on_several_connections_claim_each_expired_saga_exactly_once(
    postgres_url: str, postgres_schema: str, pg_log: PostgresSagaLog
) -> None:
    ids = [f"s{index:03d}" for index in range(120)]
    for saga_id in ids:
        drive(pg_log, saga_id, SagaState.EXECUTING, lease_seconds=SHORT_LEASE)
    time.sleep(EXPIRY)
    logs: list[SagaLog] = [
        PostgresSagaLog(postgres_url, schema=postgres_schema, pool_size=1) for _ in range(6)
    ]
    try:
        claims = claim_all_concurrently(logs, limit=5)
    finally:
        for each in logs:
            each.close()
    everything = sorted(s for got in claims.values() for s in got)
    assert everything == ids
    for owner, got in claims.items():
        assert {pg_log.get_saga(saga_id).owner for saga_id in got} <= {owner}


@pytest.mark.postgres
def test_postgres_threads_sharing_one_pool_claim_each_expired_saga_exactly_once(
    pg_log: PostgresSagaLog,
) -> None:
    ids = [f"s{index:03d}" for index in range(60)]
    for saga_id in ids:
        drive(pg_log, saga_id, SagaState.EXECUTING, lease_seconds=SHORT_LEASE)
    time.sleep(EXPIRY)
    claims = claim_all_concurrently([pg_log] * 8, limit=3)  # 8 threads, 4 connections
    assert sorted(s for got in claims.values() for s in got) == ids


@pytest.mark.postgres
def test_postgres_schemas_isolate_logs(postgres_url: str, pg_log: PostgresSagaLog) -> None:
    other = f"test_{uuid.uuid4().hex[:16]}"
    try:
        with PostgresSagaLog(postgres_url, schema=other) as second:
            drive(pg_log, "s1", SagaState.EXECUTING, lock_key="doc")
            assert second.list_sagas() == []
            second.create_saga("s1", None, owner=OWNER, lease_seconds=LEASE, lock_key="doc")
    finally:
        admin(postgres_url, f'DROP SCHEMA IF EXISTS "{other}" CASCADE')


@pytest.mark.postgres
def test_postgres_opens_from_a_url_with_options(postgres_url: str, postgres_schema: str) -> None:
    with open_saga_log(postgres_url, schema=postgres_schema, pool_size=2) as log:
        assert isinstance(log, PostgresSagaLog)
        drive(log, "s1", SagaState.COMMITTED)
        assert log.get_saga("s1").state is SagaState.COMMITTED


@pytest.mark.postgres
def test_postgres_url_has_its_password_removed(postgres_url: str, postgres_schema: str) -> None:
    with PostgresSagaLog(postgres_url, schema=postgres_schema) as log:
        assert ":wikisaga@" not in log.url
        assert log.url.startswith("postgresql://wikisaga@")


def test_postgres_keyword_conninfo_with_a_quoted_password_is_redacted_whole() -> None:
    conninfo = "host=127.0.0.1 port=1 dbname=x password='two words' connect_timeout=2"
    with pytest.raises(SagaLogUnavailable) as raised:
        PostgresSagaLog(conninfo)
    assert "two" not in str(raised.value)
    assert "words" not in str(raised.value)


def test_postgres_malformed_conninfo_is_a_log_error_that_does_not_quote_it() -> None:
    with pytest.raises(SagaLogError) as raised:
        PostgresSagaLog("host=x password=hunter2 nonsense")
    assert "hunter2" not in str(raised.value)
    assert raised.value.__cause__ is None


def test_postgres_refused_connection_is_unavailable() -> None:
    with pytest.raises(SagaLogUnavailable) as raised:
        PostgresSagaLog("postgresql://u:secret@127.0.0.1:1/nothing")
    assert "secret" not in str(raised.value)


def test_postgres_without_psycopg_explains_how_to_install_it() -> None:
    program = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from distributed_saga.log import open_saga_log\n"
        "from distributed_saga._errors import SagaLogError\n"
        "try:\n"
        "    open_saga_log('postgresql://u@localhost/db')\n"
        "except SagaLogError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    assert "pip install 'wikisaga[postgres]'" in result.stdout


@pytest.mark.postgres
def test_postgres_broken_connection_is_unavailable_then_replaced(
    postgres_url: str, postgres_schema: str
) -> None:
    name = f"saga-{uuid.uuid4().hex[:12]}"
    url = f"{postgres_url}?application_name={name}"
    with PostgresSagaLog(url, schema=postgres_schema, pool_size=1) as log:
        drive(log, "s1", SagaState.EXECUTING)
        admin(
            postgres_url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            f" WHERE application_name = '{name}'",
        )
        with pytest.raises(SagaLogUnavailable) as raised:
            log.get_saga("s1")
        assert raised.value.__cause__ is not None
        assert log.get_saga("s1").state is SagaState.EXECUTING  # a new connection


@pytest.mark.postgres
def test_postgres_statement_timeout_is_unavailable(
    postgres_url: str, postgres_schema: str, pg_log: PostgresSagaLog
) -> None:
    import psycopg  # noqa: PLC0415

    drive(pg_log, "s1", SagaState.EXECUTING)
    url = f"{postgres_url}?options=-c%20statement_timeout%3D200"
    with (
        PostgresSagaLog(url, schema=postgres_schema) as impatient,
        psycopg.connect(postgres_url) as blocker,
    ):
        blocker.execute(f'SELECT 1 FROM "{postgres_schema}".saga FOR UPDATE')
        with pytest.raises(SagaLogUnavailable):
            intent(impatient, "s1", index=1)
        blocker.rollback()
        intent(impatient, "s1", index=1)


@pytest.mark.postgres
def test_postgres_missing_table_is_a_log_error_not_unavailable(
    postgres_url: str, postgres_schema: str, pg_log: PostgresSagaLog
) -> None:
    import psycopg  # noqa: PLC0415

    drive(pg_log, "s1", SagaState.EXECUTING)
    admin(postgres_url, f'DROP TABLE "{postgres_schema}".saga_step')
    with pytest.raises(SagaLogError) as raised:
        pg_log.get_saga("s1")
    assert not isinstance(raised.value, SagaLogUnavailable)
    assert isinstance(raised.value.__cause__, psycopg.errors.UndefinedTable)


@pytest.mark.postgres
def test_postgres_refuses_a_database_from_a_newer_schema(
    postgres_url: str, postgres_schema: str, pg_log: PostgresSagaLog
) -> None:
    admin(
        postgres_url,
        f'UPDATE "{postgres_schema}".saga_schema_version SET version = {SCHEMA_VERSION + 1}',
    )
    with pytest.raises(SagaLogError, match="newer"):
        PostgresSagaLog(postgres_url, schema=postgres_schema)


@pytest.mark.postgres
def test_postgres_logs_opening_a_new_schema_at_once_create_it_once(
    postgres_url: str, postgres_schema: str
) -> None:
    start = threading.Barrier(4, timeout=30)

    def open_log() -> PostgresSagaLog:
        start.wait()
        return PostgresSagaLog(postgres_url, schema=postgres_schema, pool_size=1)

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(open_log) for _ in range(4)]
    logs = [future.result() for future in futures if future.exception() is None]
    try:
        assert [future.exception() for future in futures] == [None] * 4
        drive(logs[0], "s1", SagaState.PENDING)
        assert [s.saga_id for s in logs[3].list_sagas()] == ["s1"]
    finally:
        for log in logs:
            log.close()


@pytest.mark.postgres
def test_postgres_closed_log_refuses_calls(pg_log: PostgresSagaLog) -> None:
    pg_log.close()
    with pytest.raises(SagaLogError, match="closed"):
        pg_log.list_sagas()
