"""``sqlite:///path`` — the graph in one SQLite file (WAL, ``synchronous=FULL``): the
embedded default. A write that returned is on disk (one sync of the WAL per transaction,
a batch of :attr:`~wikisaga.graph.GraphStore.batch_size` rows), so it survives a power
loss, as the saga that recorded it as done expects.

A read is one deferred transaction, which in WAL mode reads one snapshot of the file: the
pointer and the rows it leads to are always of the same moment. Each write takes the
write lock up front (``BEGIN IMMEDIATE``), so several processes may share the file.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

from wikisaga.errors import (
    GenerationConflict,
    GenerationNotFound,
    GraphError,
    GraphUnavailable,
    InvalidGraphData,
)
from wikisaga.graph._base import DEFAULT_BATCH_SIZE, GraphStore
from wikisaga.graph._records import (
    Entity,
    GenerationInfo,
    GenerationState,
    GraphSummary,
    Neighbourhood,
    Provenance,
    Relation,
)
from wikisaga.graph._sql import MIGRATIONS, QUERIES, SCHEMA_VERSION

__all__ = ["SQLiteGraphStore"]

_P = ParamSpec("_P")
_T = TypeVar("_T")
_Cursor = sqlite3.Cursor
_Triple = tuple[str, str, str]

_UNAVAILABLE = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN}
_IN_LIST = 500  # keys per IN (...) list, well under SQLite's parameter limit


class SQLiteGraphStore(GraphStore):
    """The graph in the SQLite file at ``path`` (parent directories are created).

    Writers in other processes are waited for up to ``busy_timeout`` seconds.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout: float = 10.0,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        if str(path) == ":memory:" or str(path).startswith("file:"):
            raise GraphError("a SQLite graph is a file path, not an in-memory database")
        self.path = Path(path)
        self.url = f"sqlite:///{self.path.as_posix()}"
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode = WAL")
            # Each write synced before it returns: a saga records "staged" and "made
            # current" in a log synced to disk, and a power loss must not undo them here.
            self._conn.execute("PRAGMA synchronous = FULL")
            self._write(self._migrate)
        except OSError as exc:
            self.close()
            raise GraphUnavailable(f"cannot open graph {self.url}: {exc}") from exc
        except sqlite3.Error as exc:
            self.close()
            raise _translate(exc, self.url) from exc
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SQLiteGraphStore:
        """Open ``sqlite:///relative/path`` or ``sqlite:////absolute/path``; query options
        ``busy_timeout`` and ``batch_size`` are accepted, keyword ``options`` win."""
        parts = urlsplit(url)
        path = unquote(parts.path[1:])
        if parts.scheme.lower() != "sqlite" or parts.netloc or not path:
            raise GraphError(f"expected sqlite:///path, got {url!r}")
        query: dict[str, Any] = {}
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            kind = {"busy_timeout": float, "batch_size": int}.get(name)
            if kind is None:
                raise GraphError(f"unknown option {name!r} in {url!r}")
            try:
                query[name] = kind(value)
            except ValueError:
                raise GraphError(f"option {name} must be a number in {url!r}") from None
        store = cls(path, **{**query, **options})
        store.url = url
        return store

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- transactions -------------------------------------------------------------------

    def _write(
        self, work: Callable[Concatenate[_Cursor, _P], _T], /, *args: _P.args, **kw: _P.kwargs
    ) -> _T:
        return self._transact("BEGIN IMMEDIATE", work, *args, **kw)

    def _read(
        self, work: Callable[Concatenate[_Cursor, _P], _T], /, *args: _P.args, **kw: _P.kwargs
    ) -> _T:
        return self._transact("BEGIN", work, *args, **kw)

    def _transact(
        self,
        begin: str,
        work: Callable[Concatenate[_Cursor, _P], _T],
        /,
        *args: _P.args,
        **kw: _P.kwargs,
    ) -> _T:
        with self._lock:
            if self._conn is None:
                raise GraphError(f"graph {self.url} is closed")
            cur = self._conn.cursor()
            try:
                cur.execute(begin)
                result = work(cur, *args, **kw)
                cur.execute("COMMIT")
            except BaseException as exc:
                if self._conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.rollback()
                if isinstance(exc, sqlite3.Error):
                    raise _translate(exc, self.url) from exc
                raise
            finally:
                cur.close()
            return result

    @staticmethod
    def _migrate(cur: _Cursor) -> None:
        cur.execute("CREATE TABLE IF NOT EXISTS graph_schema_version (version INTEGER NOT NULL)")
        row = cur.execute(QUERIES["schema_version"]).fetchone()
        version = 0 if row is None else int(row[0])
        if version > SCHEMA_VERSION:
            raise GraphError(
                f"graph schema version {version} is newer than this code's {SCHEMA_VERSION}"
            )
        for statements in MIGRATIONS[version:]:
            for statement in statements:
                cur.execute(statement)
        if row is None:
            cur.execute("INSERT INTO graph_schema_version VALUES (?)", (SCHEMA_VERSION,))
        elif version < SCHEMA_VERSION:
            cur.execute("UPDATE graph_schema_version SET version = ?", (SCHEMA_VERSION,))

    # -- writing ------------------------------------------------------------------------

    def _begin_stage(self, project_id: str, generation: str) -> None:
        self._write(_open_generation, project_id, generation, create=True)

    def _stage_entities(self, project_id: str, generation: str, batch: Sequence[Entity]) -> None:
        def work(cur: _Cursor) -> None:
            _open_generation(cur, project_id, generation, create=False)
            cur.executemany(
                QUERIES["upsert_entity"],
                [(project_id, generation, e.key, e.name, e.type) for e in batch],
            )

        self._write(work)

    def _stage_relations(self, project_id: str, generation: str, batch: Sequence[Relation]) -> None:
        def work(cur: _Cursor) -> None:
            _open_generation(cur, project_id, generation, create=False)
            _check_endpoints(cur, project_id, generation, batch)
            scope = (project_id, generation)
            cur.executemany(
                QUERIES["upsert_relation"],
                [(*scope, *r.triple, r.weight, r.method, r.confidence) for r in batch],
            )
            cur.executemany(QUERIES["forget_provenance"], [(*scope, *r.triple) for r in batch])
            cur.executemany(
                QUERIES["insert_provenance"],
                [
                    (
                        *scope,
                        *r.triple,
                        position,
                        p.document_id,
                        p.source_path,
                        p.sentence,
                        p.start,
                        p.end,
                    )
                    for r in _last_of_each(batch)
                    for position, p in enumerate(r.provenance)
                ],
            )

        self._write(work)

    def _discard(self, project_id: str, generation: str) -> None:
        def work(cur: _Cursor) -> None:
            if _current(cur, project_id) == generation:
                raise GenerationConflict(
                    f"generation {generation!r} is current in project {project_id!r}; "
                    "make another current before discarding it"
                )
            scope = (project_id, generation)
            for query in ("provenance", "relations", "entities", "generation"):
                cur.execute(QUERIES[f"delete_{query}"], scope)

        self._write(work)

    def _make_current(self, project_id: str, generation: str | None) -> str | None:
        def work(cur: _Cursor) -> str | None:
            previous = _current(cur, project_id)
            if generation is not None:
                if _generation(cur, project_id, generation) is None:
                    raise GenerationNotFound(
                        f"project {project_id!r} has no graph generation {generation!r} "
                        "to make current (never staged, or discarded)"
                    )
                cur.execute(QUERIES["publish"], (project_id, generation))
            if generation is not None or previous is not None:
                cur.execute(QUERIES["point"], (project_id, generation))
            return previous

        return self._write(work)

    # -- reading ------------------------------------------------------------------------

    def _current(self, project_id: str) -> str | None:
        return self._read(_current, project_id)

    def _generations(self, project_id: str) -> list[GenerationInfo]:
        def work(cur: _Cursor) -> list[GenerationInfo]:
            rows = cur.execute(QUERIES["generations"], (project_id,)).fetchall()
            return [
                GenerationInfo(
                    generation=name,
                    state=GenerationState.CURRENT
                    if is_current
                    else GenerationState.RETIRED
                    if published
                    else GenerationState.STAGED,
                    sequence=sequence,
                )
                for name, sequence, published, is_current in rows
            ]

        return self._read(work)

    def _entities(self, project_id: str, generation: str | None) -> list[Entity]:
        def work(cur: _Cursor) -> list[Entity]:
            chosen = _resolve(cur, project_id, generation)
            if chosen is None:
                return []
            rows = cur.execute(QUERIES["entities"], (project_id, chosen)).fetchall()
            return [Entity(*row) for row in rows]

        return self._read(work)

    def _relations(self, project_id: str, generation: str | None) -> list[Relation]:
        def work(cur: _Cursor) -> list[Relation]:
            chosen = _resolve(cur, project_id, generation)
            if chosen is None:
                return []
            scope = (project_id, chosen)
            rows = cur.execute(QUERIES["relations"], scope).fetchall()
            provenance = _provenance(cur.execute(QUERIES["provenance"], scope).fetchall())
            return _relations(rows, provenance)

        return self._read(work)

    def _summary(self, project_id: str, generation: str | None, strongest: int) -> GraphSummary:
        def work(cur: _Cursor) -> GraphSummary:
            chosen = _resolve(cur, project_id, generation)
            if chosen is None:
                return GraphSummary(None, 0, 0, {}, ())
            scope = (project_id, chosen)
            (entities,) = cur.execute(QUERIES["count_entities"], scope).fetchone()
            predicates = dict(cur.execute(QUERIES["predicates"], scope).fetchall())
            rows = cur.execute(QUERIES["strongest"], (*scope, strongest)).fetchall()
            return GraphSummary(
                generation=chosen,
                entities=entities,
                relations=sum(predicates.values()),
                predicates=predicates,
                strongest=tuple(_relations(rows, _provenance_of(cur, scope, rows))),
            )

        return self._read(work)

    def _neighbourhood(
        self, project_id: str, generation: str | None, key: str
    ) -> Neighbourhood | None:
        def work(cur: _Cursor) -> Neighbourhood | None:
            chosen = _resolve(cur, project_id, generation)
            if chosen is None:
                return None
            scope = (project_id, chosen)
            row = cur.execute(QUERIES["entity"], (*scope, key)).fetchone()
            if row is None:
                return None
            rows = cur.execute(QUERIES["touching"], (*scope, key, key)).fetchall()
            relations = _relations(rows, _provenance_of(cur, scope, rows))
            others = {r.object if r.subject == key else r.subject for r in relations}
            neighbours = [
                Entity(*found)
                for other in sorted(others)
                if (found := cur.execute(QUERIES["entity"], (*scope, other)).fetchone())
            ]
            return Neighbourhood(Entity(*row), tuple(relations), tuple(neighbours))

        return self._read(work)


# -- the work inside transactions -----------------------------------------------------------


def _current(cur: _Cursor, project_id: str) -> str | None:
    row = cur.execute(QUERIES["current"], (project_id,)).fetchone()
    return None if row is None else row[0]


def _generation(cur: _Cursor, project_id: str, generation: str) -> tuple[int, int] | None:
    row = cur.execute(QUERIES["generation"], (project_id, generation)).fetchone()
    return None if row is None else (int(row[0]), int(row[1]))


def _open_generation(cur: _Cursor, project_id: str, generation: str, *, create: bool) -> None:
    """Check that ``generation`` may be staged into; create it when ``create``."""
    found = _generation(cur, project_id, generation)
    if found is None:
        if not create:
            raise GenerationNotFound(
                f"graph generation {generation!r} of project {project_id!r} was discarded "
                "while it was being staged"
            )
        (sequence,) = cur.execute(QUERIES["touch_project"], (project_id,)).fetchone()
        cur.execute(QUERIES["insert_generation"], (project_id, generation, sequence))
        return
    if found[1]:
        raise GenerationConflict(
            f"graph generation {generation!r} of project {project_id!r} has been current; "
            "a published generation is never staged into again"
        )


def _resolve(cur: _Cursor, project_id: str, generation: str | None) -> str | None:
    if generation is None:
        return _current(cur, project_id)
    if _generation(cur, project_id, generation) is None:
        raise GenerationNotFound(f"project {project_id!r} has no graph generation {generation!r}")
    return generation


def _check_endpoints(
    cur: _Cursor, project_id: str, generation: str, batch: Sequence[Relation]
) -> None:
    wanted = sorted({key for r in batch for key in (r.subject, r.object)})
    known: set[str] = set()
    for start in range(0, len(wanted), _IN_LIST):
        chunk = wanted[start : start + _IN_LIST]
        query = QUERIES["known_keys"].format(keys=", ".join("?" * len(chunk)))
        known.update(key for (key,) in cur.execute(query, (project_id, generation, *chunk)))
    missing = [key for key in wanted if key not in known]
    if missing:
        raise InvalidGraphData(
            f"{len(missing)} relation endpoint(s) are not entities of generation "
            f"{generation!r}, e.g. {missing[0]!r}: stage the entities first"
        )


def _last_of_each(batch: Sequence[Relation]) -> Iterable[Relation]:
    """The last relation of the batch for each triple: the one whose provenance stays."""
    return {r.triple: r for r in batch}.values()


def _provenance(rows: Iterable[Sequence[Any]]) -> dict[_Triple, list[Provenance]]:
    found: dict[_Triple, list[Provenance]] = {}
    for subject, predicate, obj, _position, *fields in rows:
        found.setdefault((subject, predicate, obj), []).append(Provenance(*fields))
    return found


def _provenance_of(
    cur: _Cursor, scope: tuple[str, str], rows: Sequence[Sequence[Any]]
) -> dict[_Triple, list[Provenance]]:
    found: dict[_Triple, list[Provenance]] = {}
    for subject, predicate, obj, *_ in rows:
        triple = (subject, predicate, obj)
        found.update(_provenance(cur.execute(QUERIES["provenance_of"], (*scope, *triple))))
    return found


def _relations(
    rows: Iterable[Sequence[Any]], provenance: dict[_Triple, list[Provenance]]
) -> list[Relation]:
    return [
        Relation(
            subject,
            predicate,
            obj,
            weight=weight,
            method=method,
            confidence=confidence,
            provenance=tuple(provenance.get((subject, predicate, obj), ())),
        )
        for subject, predicate, obj, weight, method, confidence in rows
    ]


def _translate(exc: sqlite3.Error, url: str) -> GraphError:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in _UNAVAILABLE:
        return GraphUnavailable(f"graph {url} did not answer: {exc}")
    return GraphError(f"graph {url} failed: {exc}")
