"""A log written by an older schema is upgraded in place when it is opened, on both dialects.

The old database is made as the old code made it: the schema from the migrations it knew
(entries are appended, never edited, so ``_MIGRATIONS[:v]`` is schema version ``v``), and
rows written with plain SQL. Opening it with this code must bring it to
:data:`SCHEMA_VERSION` with every record intact, and the upgraded log must work: recovery
claims, lock keys, pages, a user's pages (read through the index version 3 added) and
pruning.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from distributed_saga._errors import SagaLockedError
from distributed_saga._records import SagaState, StepState
from distributed_saga.log import SagaLog
from distributed_saga.log._sql import _MIGRATIONS, SCHEMA_VERSION, _SqlSagaLog
from distributed_saga.log.postgres import PostgresSagaLog
from distributed_saga.log.sqlite import SQLiteSagaLog
from distributed_saga.retention import prune_sagas
from distributed_saga.testing.contract import LEASE, OWNER, intent

SAGAS = (
    # saga_id, user_id, state, lock_key, owner, lease_expires_at, created_at, updated_at
    ("done", "ann", "committed", "doc", None, None, 1000.0, 1001.0),
    ("stuck", "bob", "executing", "doc2", "dead-owner", 1002.5, 1002.0, 1002.5),
    ("failed", "ann", "failed", "doc3", None, None, 1003.0, 1004.0),
)
STEPS = (
    # saga_id, step_index, name, state, compensation, compensation_args
    ("done", 0, "publish", "completed", "undo", '{"k": 1}'),
    ("stuck", 0, "publish", "started", "undo", '{"k": 2}'),
    ("failed", 0, "publish", "compensation_failed", "undo", '{"k": 3}'),
)
NEW_INDEXES = {"saga_unfinished", "saga_lock_history", "saga_user_history"}
# The indexes each old schema version has, besides primary keys.
OLD_INDEXES = {
    1: {"saga_lock_key", "saga_created", "saga_owned"},
    2: {"saga_lock_key", "saga_created", "saga_unfinished", "saga_lock_history"},
}
OLD_VERSIONS = pytest.mark.parametrize("old_version", sorted(OLD_INDEXES))


def write_old_log(cls: type[_SqlSagaLog], execute: Callable[..., Any], old_version: int) -> None:
    """Create schema version ``old_version`` and its rows through ``execute(sql, params)``."""
    for migration in _MIGRATIONS[:old_version]:
        for statement in migration:
            execute(cls._render(statement))
    execute("CREATE TABLE saga_schema_version (version INTEGER NOT NULL)")
    execute(cls._render("INSERT INTO saga_schema_version (version) VALUES (?)"), (old_version,))
    for saga_id, user_id, state, lock_key, owner, lease, created, updated in SAGAS:
        execute(
            cls._render(
                "INSERT INTO saga (saga_id, user_id, state, lock_key, owner, lease_expires_at,"
                " lease_seconds, created_at, updated_at, metadata)"
                " VALUES (?, ?, ?, ?, ?, ?, 30.0, ?, ?, {json_param})"
            ),
            (saga_id, user_id, state, lock_key, owner, lease, created, updated, '{"old": true}'),
        )
    for saga_id, index, name, state, undo, args in STEPS:
        execute(
            cls._render(
                "INSERT INTO saga_step (saga_id, step_index, name, state, compensation,"
                " compensation_args, in_process_rollback, idempotency_key, attempts,"
                " started_at) VALUES (?, ?, ?, ?, ?, {json_param}, ?, NULL, 1, 1000.5)"
            ),
            (saga_id, index, name, state, undo, args, False),
        )


def check_upgraded(log: SagaLog, version: int, indexes: set[str]) -> None:
    """The records of the old log, read back whole, and the upgraded log at work."""
    assert version == SCHEMA_VERSION
    assert indexes >= NEW_INDEXES
    assert "saga_owned" not in indexes
    by_id = {saga.saga_id: saga for saga in log.list_sagas()}
    assert [s.saga_id for s in log.list_sagas()] == ["failed", "stuck", "done"]
    for saga_id, user_id, state, lock_key, owner, lease, created, updated in SAGAS:
        saga = by_id[saga_id]
        assert (saga.user_id, saga.state.value, saga.lock_key) == (user_id, state, lock_key)
        assert saga.owner == owner
        assert (saga.lease_expires_at, saga.created_at, saga.updated_at) == (
            lease,
            created,
            updated,
        )
        assert dict(saga.metadata) == {"old": True}
    for saga_id, index, name, state, undo, args in STEPS:
        (step,) = by_id[saga_id].steps
        assert (step.index, step.name, step.state.value, step.compensation) == (
            index,
            name,
            state,
            undo,
        )
        assert step.compensation_args == json.loads(args)
    # A user's sagas, read through saga_user_history, page after page.
    assert [s.saga_id for s in log.list_sagas(user_id="ann")] == ["failed", "done"]
    failed = by_id["failed"]
    assert failed.created_at is not None
    after = log.list_sagas(user_id="ann", before=(failed.created_at, failed.saga_id))
    assert [s.saga_id for s in after] == ["done"]
    assert [s.saga_id for s in log.list_sagas(user_id="bob")] == ["stuck"]
    # Recovery scans the new index of unfinished sagas: the expired one, and only it.
    assert log.claim_expired("recoverer", LEASE) == ["stuck"]
    assert log.get_saga("stuck").steps[0].state is StepState.STARTED
    # The failed saga still holds its lock key; the committed one released its own.
    with pytest.raises(SagaLockedError):
        log.create_saga("blocked", None, owner=OWNER, lease_seconds=LEASE, lock_key="doc3")
    log.create_saga("next", None, owner=OWNER, lease_seconds=LEASE, lock_key="doc")
    intent(log, "next")
    assert [s.saga_id for s in log.list_sagas(lock_key="doc")] == ["next", "done"]
    assert [s.saga_id for s in log.list_sagas(states={SagaState.FAILED})] == ["failed"]
    done = by_id["done"]
    assert done.created_at is not None
    assert log.list_sagas(before=(done.created_at, done.saga_id)) == []
    # Old finished sagas go; the failed one stays unless asked for.
    assert prune_sagas(log, 3600.0) == 1
    assert {s.saga_id for s in log.list_sagas()} == {"failed", "stuck", "next"}


@contextmanager
def sqlite_catalog(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path)
    try:
        yield conn
    finally:
        conn.close()


def sqlite_state(path: Path) -> tuple[int, set[str]]:
    with sqlite_catalog(path) as conn:
        (version,) = conn.execute("SELECT max(version) FROM saga_schema_version").fetchone()
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()
    return int(version), {name for (name,) in rows}


def user_page_query(cls: type[_SqlSagaLog], *, before: bool) -> tuple[str, tuple[Any, ...]]:
    """The statement of a page of ann's sagas (the first, or one ``before`` a position)."""
    position = (1003.0, "failed") if before else None
    query, params = cls._page_query(None, None, "ann", 50, position)
    return cls._render(query), params


def sqlite_user_plan(path: Path, *, before: bool) -> str:
    query, params = user_page_query(SQLiteSagaLog, before=before)
    with sqlite_catalog(path) as conn:
        rows = conn.execute(f"EXPLAIN QUERY PLAN {query}", params).fetchall()
    return "\n".join(str(row[3]) for row in rows)


@OLD_VERSIONS
def test_sqlite_log_of_an_old_schema_version_is_upgraded_in_place(
    tmp_path: Path, old_version: int
) -> None:
    path = tmp_path / "old.db"
    with sqlite_catalog(path) as conn:
        write_old_log(SQLiteSagaLog, conn.execute, old_version)
        conn.commit()
    assert sqlite_state(path) == (old_version, OLD_INDEXES[old_version])
    assert "saga_user_history" not in sqlite_user_plan(path, before=False)
    with SQLiteSagaLog(path) as log:
        check_upgraded(log, *sqlite_state(path))
    # A user's page is a range of the new index, in its order (no sort), first or deep.
    for before in (False, True):
        plan = sqlite_user_plan(path, before=before)
        assert "USING INDEX saga_user_history (user_id=?" in plan, plan
        assert "TEMP B-TREE" not in plan, plan
    with SQLiteSagaLog(path) as reopened:  # a second opening finds nothing left to do
        assert sqlite_state(path)[0] == SCHEMA_VERSION
        assert {s.saga_id for s in reopened.list_sagas()} == {"failed", "stuck", "next"}


def postgres_state(url: str, schema: str) -> tuple[int, set[str]]:
    import psycopg  # noqa: PLC0415 - only PostgreSQL tests need the driver

    with psycopg.connect(url) as conn:
        (version,) = conn.execute(
            f'SELECT max(version) FROM "{schema}".saga_schema_version'
        ).fetchone()
        rows = conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = %s", (schema,)
        ).fetchall()
    return int(version), {name for (name,) in rows}


def postgres_user_plan(url: str, schema: str, *, before: bool) -> str:
    """The plan of a page of ann's sagas, sequential scans priced out (the table is tiny)."""
    import psycopg  # noqa: PLC0415 - only PostgreSQL tests need the driver

    query, params = user_page_query(PostgresSagaLog, before=before)
    with psycopg.connect(url) as conn:
        conn.execute("SELECT set_config('search_path', %s, true)", (f'"{schema}"',))
        conn.execute("ANALYZE saga")
        conn.execute("SET LOCAL enable_seqscan = off")
        rows = conn.execute(f"EXPLAIN {query}", params).fetchall()
    return "\n".join(str(row[0]) for row in rows)


@pytest.mark.postgres
@OLD_VERSIONS
def test_postgres_log_of_an_old_schema_version_is_upgraded_in_place(
    postgres_url: str, postgres_schema: str, old_version: int
) -> None:
    import psycopg  # noqa: PLC0415 - only PostgreSQL tests need the driver

    with psycopg.connect(postgres_url) as conn:
        conn.execute(f'CREATE SCHEMA "{postgres_schema}"')
        conn.execute("SELECT set_config('search_path', %s, true)", (f'"{postgres_schema}"',))
        write_old_log(PostgresSagaLog, conn.execute, old_version)
    version, indexes = postgres_state(postgres_url, postgres_schema)
    assert version == old_version
    assert OLD_INDEXES[old_version] <= indexes
    assert "saga_user_history" not in indexes
    with PostgresSagaLog(postgres_url, schema=postgres_schema) as log:
        check_upgraded(log, *postgres_state(postgres_url, postgres_schema))
    for before in (False, True):
        plan = postgres_user_plan(postgres_url, postgres_schema, before=before)
        assert "Index Scan Backward using saga_user_history" in plan, plan
        assert "Sort" not in plan, plan
    with PostgresSagaLog(postgres_url, schema=postgres_schema) as reopened:
        assert postgres_state(postgres_url, postgres_schema)[0] == SCHEMA_VERSION
        assert {s.saga_id for s in reopened.list_sagas()} == {"failed", "stuck", "next"}
