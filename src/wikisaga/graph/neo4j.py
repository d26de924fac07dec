"""``neo4j://`` and ``bolt://`` — the graph in Neo4j, through the official driver.

Writes are managed transactions (``session.execute_write``, which retries transient
errors such as deadlocks and leader changes), one per batch of ``UNWIND $rows ... MERGE``.
A read is one ``execute_read``: it resolves the pointer, then reads every row by the
generation id it resolved, so a flip during the read cannot mix two generations (Neo4j
reads committed data, not a snapshot; the id is what holds the read to one generation).
A discard deletes in inner transactions of :data:`~wikisaga.graph._cypher.DELETE_BATCH`
rows, as auto-commit queries. The queries are in :mod:`wikisaga.graph._cypher`; this
module runs them and translates the driver's errors.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import urlsplit, urlunsplit

import neo4j
import neo4j.exceptions

from wikisaga.errors import (
    GenerationConflict,
    GenerationNotFound,
    GraphError,
    GraphUnavailable,
    InvalidGraphData,
)
from wikisaga.graph._base import DEFAULT_BATCH_SIZE, GraphStore
from wikisaga.graph._cypher import SCHEMA, Q
from wikisaga.graph._records import (
    Entity,
    GenerationInfo,
    GenerationState,
    GraphSummary,
    Neighbourhood,
    Provenance,
    Relation,
)

__all__ = ["Neo4jGraphStore"]

_P = ParamSpec("_P")
_T = TypeVar("_T")
_Tx = neo4j.ManagedTransaction

_UNAVAILABLE = (
    neo4j.exceptions.ServiceUnavailable,
    neo4j.exceptions.SessionExpired,
    neo4j.exceptions.TransientError,
)
# Auto-commit queries are not retried by the driver; a discard retries its own.
_AUTOCOMMIT_ATTEMPTS = 3


class Neo4jGraphStore(GraphStore):
    """The graph in the Neo4j database at ``url`` (default database unless ``database``).

    ``user`` and ``password`` authenticate (no password: no authentication). The schema
    (constraints and an index, all ``IF NOT EXISTS``) is created when the store opens.
    ``warn_notifications`` turns the server's warnings about a query (deprecated syntax, a
    plan that scans) into Python warnings, as the tests want; warnings that a property does
    not exist yet, which a fresh database gives for every read, are never asked for.
    """

    def __init__(
        self,
        url: str,
        *,
        user: str = "neo4j",
        password: str = "",
        database: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        connection_timeout: float = 10.0,
        max_transaction_retry_time: float = 15.0,
        warn_notifications: bool = False,
    ) -> None:
        self.url = _without_password(url)
        self.batch_size = batch_size
        self._database = database
        self._driver: neo4j.Driver | None = None
        auth = neo4j.basic_auth(user, password) if password else None
        with self._translated("connect to"):
            self._driver = neo4j.GraphDatabase.driver(
                url,
                auth=auth,
                connection_timeout=connection_timeout,
                max_transaction_retry_time=max_transaction_retry_time,
                notifications_disabled_classifications=[
                    neo4j.NotificationDisabledClassification.UNRECOGNIZED
                ],
                warn_notification_severity=neo4j.NotificationMinimumSeverity.WARNING
                if warn_notifications
                else None,
            )
        try:
            with self._translated("connect to"):
                self._driver.verify_connectivity()
                with self._session() as session:
                    for statement in SCHEMA:
                        session.run(statement).consume()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        driver, self._driver = self._driver, None
        if driver is not None:
            driver.close()

    # -- sessions and errors ------------------------------------------------------------

    def _session(self) -> neo4j.Session:
        if self._driver is None:
            raise GraphError(f"graph {self.url} is closed")
        return self._driver.session(database=self._database)

    @contextlib.contextmanager
    def _translated(self, doing: str) -> Iterator[None]:
        try:
            yield
        except GraphError:
            raise
        except _UNAVAILABLE as exc:
            raise GraphUnavailable(f"graph {self.url} did not answer ({doing}): {exc}") from exc
        except neo4j.exceptions.AuthError as exc:
            raise GraphError(f"graph {self.url} refused the credentials: {exc}") from exc
        except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError) as exc:
            raise GraphError(f"graph {self.url} failed ({doing}): {exc}") from exc

    def _write(
        self, work: Callable[Concatenate[_Tx, _P], _T], /, *args: _P.args, **kw: _P.kwargs
    ) -> _T:
        with self._translated("write"), self._session() as session:
            return session.execute_write(work, *args, **kw)

    def _read(
        self, work: Callable[Concatenate[_Tx, _P], _T], /, *args: _P.args, **kw: _P.kwargs
    ) -> _T:
        with self._translated("read"), self._session() as session:
            return session.execute_read(work, *args, **kw)

    def _autocommit(self, query: str, params: Mapping[str, Any]) -> None:
        with self._translated("delete"), self._session() as session:
            for attempt in range(_AUTOCOMMIT_ATTEMPTS):
                try:
                    session.run(query, dict(params)).consume()
                    return
                except neo4j.exceptions.TransientError:
                    # What the inner transactions already deleted stays deleted; running
                    # the query again deletes the rest.
                    if attempt == _AUTOCOMMIT_ATTEMPTS - 1:
                        raise

    # -- writing ------------------------------------------------------------------------

    def _begin_stage(self, project_id: str, generation: str) -> None:
        def work(tx: _Tx) -> None:
            if _lock_generation(tx, project_id, generation, created=False):
                return
            tx.run(Q.CREATE_GENERATION, project=project_id, generation=generation).consume()

        self._write(work)

    def _stage_entities(self, project_id: str, generation: str, batch: Sequence[Entity]) -> None:
        rows = [[e.key, e.name, e.type] for e in batch]

        def work(tx: _Tx) -> None:
            _lock_generation(tx, project_id, generation, created=True)
            tx.run(Q.MERGE_ENTITIES, rows=rows, project=project_id, generation=generation).consume()

        self._write(work)

    def _stage_relations(self, project_id: str, generation: str, batch: Sequence[Relation]) -> None:
        rows = [_relation_row(relation) for relation in batch]

        def work(tx: _Tx) -> None:
            _lock_generation(tx, project_id, generation, created=True)
            scope: dict[str, Any] = {"project": project_id, "generation": generation}
            written = tx.run(Q.MERGE_RELATIONS, rows=rows, **scope).single(strict=True)
            if written["written"] == len(rows):
                return
            keys = sorted({key for r in batch for key in (r.subject, r.object)})
            missing = [row["key"] for row in tx.run(Q.MISSING_KEYS, keys=keys, **scope)]
            # Raising rolls the transaction back: the batch is not written at all.
            raise InvalidGraphData(
                f"{len(rows) - written['written']} relation(s) have an endpoint that is not "
                f"an entity of generation {generation!r}, e.g. {missing[:1]}: stage the "
                "entities first"
            )

        self._write(work)

    def _discard(self, project_id: str, generation: str) -> None:
        def mark(tx: _Tx) -> None:
            row = tx.run(Q.MARK_DISCARDING, project=project_id, generation=generation).single()
            if row is not None and row["current"] == generation:
                raise GenerationConflict(
                    f"generation {generation!r} is current in project {project_id!r}; "
                    "make another current before discarding it"
                )

        self._write(mark)
        scope: dict[str, Any] = {"project": project_id, "generation": generation}
        self._autocommit(Q.DELETE_RELATIONS, scope)
        self._autocommit(Q.DELETE_ENTITIES, scope)
        self._write(lambda tx: tx.run(Q.DELETE_GENERATION, **scope).consume())

    def _make_current(self, project_id: str, generation: str | None) -> str | None:
        def work(tx: _Tx) -> str | None:
            if generation is not None:
                published = tx.run(Q.PUBLISH, project=project_id, generation=generation)
                if published.single() is None:
                    raise GenerationNotFound(
                        f"project {project_id!r} has no graph generation {generation!r} "
                        "to make current (never staged, or discarded)"
                    )
            row = tx.run(Q.POINT, project=project_id, generation=generation).single(strict=True)
            previous: str | None = row["previous"]
            return previous

        return self._write(work)

    # -- reading ------------------------------------------------------------------------

    def _current(self, project_id: str) -> str | None:
        return self._read(_current, project_id)

    def _generations(self, project_id: str) -> list[GenerationInfo]:
        def work(tx: _Tx) -> list[GenerationInfo]:
            return [
                GenerationInfo(row["generation"], _state(row), row["sequence"])
                for row in tx.run(Q.GENERATIONS, project=project_id)
            ]

        return self._read(work)

    def _entities(self, project_id: str, generation: str | None) -> list[Entity]:
        def work(tx: _Tx) -> list[Entity]:
            chosen = _resolve(tx, project_id, generation)
            if chosen is None:
                return []
            rows = tx.run(Q.ENTITIES, project=project_id, generation=chosen)
            return [Entity(row["key"], row["name"], row["type"]) for row in rows]

        return self._read(work)

    def _relations(self, project_id: str, generation: str | None) -> list[Relation]:
        def work(tx: _Tx) -> list[Relation]:
            chosen = _resolve(tx, project_id, generation)
            if chosen is None:
                return []
            rows = tx.run(Q.RELATIONS, project=project_id, generation=chosen)
            return [_relation(row) for row in rows]

        return self._read(work)

    def _summary(self, project_id: str, generation: str | None, strongest: int) -> GraphSummary:
        def work(tx: _Tx) -> GraphSummary:
            chosen = _resolve(tx, project_id, generation)
            if chosen is None:
                return GraphSummary(None, 0, 0, {}, ())
            scope: dict[str, Any] = {"project": project_id, "generation": chosen}
            entities = tx.run(Q.COUNT_ENTITIES, **scope).single(strict=True)["entities"]
            predicates = {
                row["predicate"]: row["relations"] for row in tx.run(Q.PREDICATES, **scope)
            }
            heaviest = [_relation(row) for row in tx.run(Q.STRONGEST, limit=strongest, **scope)]
            return GraphSummary(
                chosen, entities, sum(predicates.values()), predicates, tuple(heaviest)
            )

        return self._read(work)

    def _neighbourhood(
        self, project_id: str, generation: str | None, key: str
    ) -> Neighbourhood | None:
        def work(tx: _Tx) -> Neighbourhood | None:
            chosen = _resolve(tx, project_id, generation)
            if chosen is None:
                return None
            scope: dict[str, Any] = {"project": project_id, "generation": chosen, "key": key}
            row = tx.run(Q.ENTITY, **scope).single()
            if row is None:
                return None
            relations: dict[tuple[str, str, str], Relation] = {}
            neighbours: dict[str, Entity] = {}
            for found in tx.run(Q.TOUCHING, **scope):
                relation = _relation(found)
                relations[relation.triple] = relation
                for end in ("subject", "object"):
                    if found[end] != key:
                        neighbours[found[end]] = Entity(
                            found[end], found[f"{end}_name"], found[f"{end}_type"]
                        )
            entity = Entity(row["key"], row["name"], row["type"])
            return Neighbourhood(entity, tuple(relations.values()), tuple(neighbours.values()))

        return self._read(work)


# -- the work inside transactions -----------------------------------------------------------


def _lock_generation(tx: _Tx, project_id: str, generation: str, *, created: bool) -> bool:
    """Lock the generation's node and check it may be staged into; whether it exists.

    ``created`` says it must exist already (a batch after :meth:`_begin_stage`)."""
    row = tx.run(Q.LOCK_GENERATION, project=project_id, generation=generation).single()
    if row is None:
        if created:
            raise GenerationNotFound(
                f"graph generation {generation!r} of project {project_id!r} was discarded "
                "while it was being staged"
            )
        return False
    if row["discarding"]:
        raise GenerationConflict(
            f"graph generation {generation!r} of project {project_id!r} is being discarded; "
            "discard it again to finish, then stage it anew"
        )
    if row["published"]:
        raise GenerationConflict(
            f"graph generation {generation!r} of project {project_id!r} has been current; "
            "a published generation is never staged into again"
        )
    return True


def _current(tx: _Tx, project_id: str) -> str | None:
    row = tx.run(Q.CURRENT, project=project_id).single(strict=True)
    current: str | None = row["current"]
    return current


def _resolve(tx: _Tx, project_id: str, generation: str | None) -> str | None:
    if generation is None:
        return _current(tx, project_id)
    row = tx.run(Q.READABLE, project=project_id, generation=generation).single(strict=True)
    if not row["readable"]:
        raise GenerationNotFound(f"project {project_id!r} has no graph generation {generation!r}")
    return generation


def _state(row: neo4j.Record) -> GenerationState:
    if row["discarding"]:
        return GenerationState.DISCARDING
    if row["current"]:
        return GenerationState.CURRENT
    return GenerationState.RETIRED if row["published"] else GenerationState.STAGED


def _relation_row(relation: Relation) -> list[Any]:
    """The row :data:`~wikisaga.graph._cypher.Q.MERGE_RELATIONS` takes."""
    provenance = relation.provenance
    return [
        relation.subject,
        relation.predicate,
        relation.object,
        relation.weight,
        relation.method,
        relation.confidence,
        [p.document_id for p in provenance],
        [p.source_path for p in provenance],
        [p.sentence for p in provenance],
        [p.start for p in provenance],
        [p.end for p in provenance],
    ]


def _relation(row: neo4j.Record) -> Relation:
    provenance = zip(
        row["document_ids"] or (),
        row["source_paths"] or (),
        row["sentences"] or (),
        row["starts"] or (),
        row["ends"] or (),
        strict=True,
    )
    return Relation(
        row["subject"],
        row["predicate"],
        row["object"],
        weight=row["weight"],
        method=row["method"],
        confidence=row["confidence"],
        provenance=tuple(Provenance(*fields) for fields in provenance),
    )


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))
