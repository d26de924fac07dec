"""PostgreSQL for tests that need a database of their own: a fresh schema, seen through a
URL whose connections put it first on ``search_path``.

The tests' server is the one ``WIKISAGA_TEST_POSTGRES_URL`` names (the ``postgres_url``
fixture of ``tests/conftest.py``); every test that writes a saga log, a job queue or a
graph there works in a schema no other test uses, so that tests can share the server.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

__all__ = ["create_schema", "drop_schema", "fresh_schema", "schema_url"]


def schema_url(base: str, schema: str) -> str:
    """``base`` with ``schema`` first on the ``search_path`` of its connections."""
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options={quote(f'-c search_path={schema}')}"


def create_schema(base: str, schema: str) -> str:
    """Create ``schema`` on ``base``'s server; return the URL that works in it."""
    import psycopg  # noqa: PLC0415 - only PostgreSQL tests need the driver

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return schema_url(base, schema)


def drop_schema(base: str, schema: str) -> None:
    """Drop ``schema`` and everything in it (absent is fine)."""
    import psycopg  # noqa: PLC0415 - only PostgreSQL tests need the driver

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextmanager
def fresh_schema(base: str, prefix: str) -> Iterator[str]:
    """A new schema named ``<prefix>_<random>`` for the block: its URL; dropped after."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    url = create_schema(base, schema)
    try:
        yield url
    finally:
        drop_schema(base, schema)
