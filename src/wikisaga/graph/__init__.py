"""The knowledge graph: one contract (:class:`GraphStore`), two backends, opened from a URL.

===========================================  ===========================================
URL                                          backend
===========================================  ===========================================
``sqlite:///relative/or/abs/path.db``        ``SQLiteGraphStore`` (WAL; the embedded default)
``neo4j://host:7687``, ``bolt://host:7687``  ``Neo4jGraphStore`` (the official driver)
(and their ``+s`` / ``+ssc`` TLS forms)
===========================================  ===========================================

Generations are staged invisibly and made current in one step (DESIGN §1 steps 4 and 7,
§6, §11); :mod:`wikisaga.graph._base` documents the contract. Backends are imported only
when their URL is opened. This package imports no service (checked by import-linter).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wikisaga.config import Settings
from wikisaga.errors import GraphError
from wikisaga.graph._base import DEFAULT_BATCH_SIZE, GraphStore
from wikisaga.graph._records import (
    MAX_KEY_BYTES,
    Entity,
    GenerationInfo,
    GenerationState,
    GraphSummary,
    Neighbourhood,
    Provenance,
    Relation,
)

if TYPE_CHECKING:
    from wikisaga.graph.neo4j import Neo4jGraphStore
    from wikisaga.graph.sqlite import SQLiteGraphStore

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "MAX_KEY_BYTES",
    "NEO4J_SCHEMES",
    "Entity",
    "GenerationInfo",
    "GenerationState",
    "GraphStore",
    "GraphSummary",
    "Neighbourhood",
    "Neo4jGraphStore",
    "Provenance",
    "Relation",
    "SQLiteGraphStore",
    "default_graph_url",
    "open_graph_store",
]

NEO4J_SCHEMES = frozenset(
    f"{base}{tls}" for base in ("neo4j", "bolt") for tls in ("", "+s", "+ssc")
)
"""URL schemes opened with the Neo4j driver."""


def default_graph_url(settings: Settings | None = None) -> str:
    """``WIKISAGA_NEO4J_URI`` when set, else ``sqlite:///<data dir>/graph.db``."""
    settings = settings if settings is not None else Settings.from_env()
    if settings.neo4j_uri:
        return settings.neo4j_uri
    return f"sqlite:///{(settings.data_dir / 'graph.db').as_posix()}"


def open_graph_store(
    url: str | None = None, *, settings: Settings | None = None, **options: Any
) -> GraphStore:
    """Open the graph store named by ``url`` (default: :func:`default_graph_url`).

    A Neo4j URL takes its user and password from ``options`` (``user``, ``password``), else
    from the settings (``WIKISAGA_NEO4J_USER``, ``WIKISAGA_NEO4J_PASSWORD``). Other
    ``options`` go to the backend's constructor.
    """
    if url is None:
        settings = settings if settings is not None else Settings.from_env()
        url = default_graph_url(settings)
    scheme, sep, _ = url.partition("://")
    if not sep:
        raise GraphError(f"graph URL {url!r} has no scheme (sqlite:///, neo4j://, bolt://)")
    scheme = scheme.lower()
    if scheme == "sqlite":
        from wikisaga.graph.sqlite import SQLiteGraphStore  # noqa: PLC0415 - lazy by design

        return SQLiteGraphStore.from_url(url, **options)
    if scheme in NEO4J_SCHEMES:
        from wikisaga.graph.neo4j import Neo4jGraphStore  # noqa: PLC0415 - lazy by design

        if "user" not in options or "password" not in options:
            settings = settings if settings is not None else Settings.from_env()
            options.setdefault("user", settings.neo4j_user)
            options.setdefault("password", settings.neo4j_password.get_secret_value())
        return Neo4jGraphStore(url, **options)
    raise GraphError(f"unsupported graph URL scheme {scheme!r} in {url!r}")


def __getattr__(name: str) -> Any:
    if name == "SQLiteGraphStore":
        from wikisaga.graph.sqlite import SQLiteGraphStore  # noqa: PLC0415

        return SQLiteGraphStore
    if name == "Neo4jGraphStore":
        from wikisaga.graph.neo4j import Neo4jGraphStore  # noqa: PLC0415

        return Neo4jGraphStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
