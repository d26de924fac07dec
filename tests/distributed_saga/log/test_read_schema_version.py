"""``read_schema_version``: a log's schema version, read without opening (upgrading) it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from distributed_saga import SagaLogError, SagaLogUnavailable
from distributed_saga.log import SCHEMA_VERSION, open_saga_log, read_schema_version
from distributed_saga.log._sql import _MIGRATIONS
from distributed_saga.log.postgres import PostgresSagaLog
from distributed_saga.log.sqlite import SQLiteSagaLog


def _url(path: Path) -> str:
    return f"sqlite:///{path.as_posix()}"


def test_a_current_sqlite_log_reads_as_the_current_version(tmp_path: Path) -> None:
    open_saga_log(_url(tmp_path / "sagas.db")).close()
    assert read_schema_version(_url(tmp_path / "sagas.db")) == SCHEMA_VERSION


def test_an_old_sqlite_log_reads_as_its_version_and_stays_old(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        for statement in _MIGRATIONS[0]:
            conn.execute(SQLiteSagaLog._render(statement))
        conn.execute("CREATE TABLE saga_schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO saga_schema_version VALUES (1)")
    conn.close()
    assert read_schema_version(_url(path)) == 1
    assert read_schema_version(_url(path)) == 1  # reading did not upgrade it


def test_a_database_without_a_saga_log_reads_as_zero(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE something_else (x INTEGER)")
    conn.close()
    assert read_schema_version(_url(path)) == 0


def test_a_missing_file_is_unavailable_and_not_created(tmp_path: Path) -> None:
    with pytest.raises(SagaLogUnavailable, match="cannot open"):
        read_schema_version(_url(tmp_path / "missing" / "sagas.db"))
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_is_no_database_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("not a database, just notes " * 100)
    with pytest.raises(SagaLogError, match="not a saga log"):
        read_schema_version(_url(path))


def test_memory_is_current_and_other_schemes_are_refused() -> None:
    assert read_schema_version("memory://") == SCHEMA_VERSION
    with pytest.raises(SagaLogError, match="unsupported"):
        read_schema_version("redis://localhost")


@pytest.mark.postgres
def test_a_postgres_log_reads_its_version_in_its_schema(
    postgres_url: str, postgres_schema: str
) -> None:
    assert read_schema_version(postgres_url, schema=postgres_schema) == 0
    PostgresSagaLog(postgres_url, schema=postgres_schema).close()
    assert read_schema_version(postgres_url, schema=postgres_schema) == SCHEMA_VERSION


def test_an_unreachable_postgres_is_unavailable_without_its_password() -> None:
    url = "postgresql://someone:sekrit@127.0.0.1:1/nothing"
    with pytest.raises(SagaLogUnavailable) as raised:
        read_schema_version(url, timeout=1)
    assert "sekrit" not in str(raised.value)
