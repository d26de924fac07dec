"""The graph store contract: what every backend must do, and nothing about how.

A graph store keeps, per project, **generations** of a knowledge graph: entities
(:class:`~wikisaga.graph.Entity`) and typed relations between them
(:class:`~wikisaga.graph.Relation`, with their :class:`~wikisaga.graph.Provenance`). One
generation is the graph of one published wiki generation (DESIGN §1, steps 4 and 7).

Projects
    Every node and edge carries its project id; every call names one project and touches
    nothing of another. A project id follows :func:`wikisaga.ids.validate_project_id`.

Generations
    A generation id is chosen by the caller (the saga id of the wiki generation, so that a
    compensation knows what to discard before the write starts) and follows the saga id rule
    (:func:`wikisaga.ids.validate_saga_id`). Its life:

    ``stage``         writes entities and relations under the generation, in batches of
                      :attr:`GraphStore.batch_size` rows, one transaction each. Readers of
                      the project never see a staged generation unless they name it. A
                      stage cut off halfway leaves some batches written: stage again (every
                      write replaces what it finds, so a replay changes nothing) or discard.
    ``make_current``  flips the project's current-generation pointer in one transaction and
                      returns the previous one (``None`` if there was none); flipping to that
                      previous one undoes it. A generation once made current is *published*:
                      it can no longer be staged into, so what a flip back returns to is what
                      readers saw before. A generation never staged (or discarded) is refused
                      with :class:`~wikisaga.errors.GenerationNotFound`: a pointer to nothing
                      would show readers an empty graph that nobody wrote.
    ``discard``       removes exactly that generation's writes. Idempotent: discarding what
                      is not there succeeds. It is the saga's compensation of the stage. The
                      current generation is refused (:class:`~wikisaga.errors.GenerationConflict`);
                      flip away from it first.
    ``prune``         after a commit, removes the generations older than the current one,
                      keeping the ``keep`` most recent that were current before it.

Readers
    ``entities``, ``relations``, ``summary`` and ``neighbourhood`` read the current
    generation, or the one named by ``generation=``, and always exactly one: the pointer is
    resolved and the rows are read in one read transaction, and every row is selected by its
    generation id, so a flip during a read never mixes two generations. With no current
    generation they return empty results; naming a generation that does not exist raises
    :class:`~wikisaga.errors.GenerationNotFound`.

Errors
    Every failure is a :class:`~wikisaga.errors.GraphError` (the database not answering is
    :class:`~wikisaga.errors.GraphUnavailable`), with the driver's error as its
    ``__cause__``; records that break their rules are
    :class:`~wikisaga.errors.InvalidGraphData`; ids that break theirs are
    :class:`~wikisaga.errors.InvalidId`.

Public methods check their arguments here, once, and call one backend hook each; the
backend owns the transactions. Every method is safe to call from several threads.
"""

from __future__ import annotations

import abc
import dataclasses
import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

from wikisaga.errors import InvalidGraphData
from wikisaga.graph._records import (
    Entity,
    GenerationInfo,
    GenerationState,
    GraphSummary,
    Neighbourhood,
    Relation,
)
from wikisaga.ids import validate_project_id, validate_saga_id

__all__ = ["DEFAULT_BATCH_SIZE", "GraphStore"]

DEFAULT_BATCH_SIZE = 5000
"""Rows per write transaction. Neo4j wrote 10,000 edges in 1.4 s in batches of 5,000 and
1.2-2.9 s in batches of 1,000; much larger batches only hold more in the server's heap."""

_R = TypeVar("_R", Entity, Relation)


def _batches(records: Iterable[_R], kind: type[_R], size: int) -> Iterator[list[_R]]:
    """``records`` in lists of at most ``size``, each checked to be a ``kind``."""
    iterator = iter(records)
    while batch := list(itertools.islice(iterator, size)):
        for record in batch:
            if not isinstance(record, kind):
                raise InvalidGraphData(
                    f"expected {kind.__name__} records, got {type(record).__name__}"
                )
        yield batch


class GraphStore(abc.ABC):
    """Generations of each project's knowledge graph, staged invisibly, made current at once."""

    url: str
    """The URL this store was opened from, without any password."""

    batch_size: int = DEFAULT_BATCH_SIZE
    """Rows written per transaction by :meth:`stage`."""

    # -- writing ------------------------------------------------------------------------

    def stage(
        self,
        project_id: str,
        generation: str,
        entities: Iterable[Entity] = (),
        relations: Iterable[Relation] = (),
    ) -> None:
        """Write ``entities``, then ``relations``, into ``generation`` of the project.

        The generation is created if new (even with nothing in it: an empty graph is a
        graph) and stays invisible to readers until :meth:`make_current`. Entities are
        written before relations, in batches of :attr:`batch_size`, one transaction per
        batch; ``entities`` and ``relations`` may be generators, consumed once. A relation
        whose subject or object is not an entity of the generation is refused with
        :class:`~wikisaga.errors.InvalidGraphData` (its batch is not written). Staging
        into a generation that has been current is refused with
        :class:`~wikisaga.errors.GenerationConflict`.
        """
        project_id, generation = self._ids(project_id, generation)
        self._begin_stage(project_id, generation)
        for entity_batch in _batches(entities, Entity, self.batch_size):
            self._stage_entities(project_id, generation, entity_batch)
        for relation_batch in _batches(relations, Relation, self.batch_size):
            self._stage_relations(project_id, generation, relation_batch)

    def discard(self, project_id: str, generation: str) -> None:
        """Remove every entity, relation and provenance of ``generation``, and the
        generation itself. Discarding a generation that is not there succeeds; discarding
        the current one raises :class:`~wikisaga.errors.GenerationConflict`."""
        self._discard(*self._ids(project_id, generation))

    def make_current(self, project_id: str, generation: str | None) -> str | None:
        """Make ``generation`` what readers of the project see, in one transaction; return
        the generation that was current before (``None`` if none was).

        ``make_current(project, previous)`` with that return value undoes it; ``None``
        leaves the project with no current generation (as before its first). Making the
        current generation current again changes nothing and returns it. A generation that
        was never staged, or was discarded, raises
        :class:`~wikisaga.errors.GenerationNotFound` and changes nothing.
        """
        project_id = validate_project_id(project_id)
        if generation is not None:
            generation = validate_saga_id(generation)
        return self._make_current(project_id, generation)

    def prune(self, project_id: str, *, keep: int = 1) -> list[str]:
        """Remove the generations older than the current one, except the ``keep`` most
        recent that were current before it; return the ids removed, oldest first.

        Generations newer than the current one (a stage in flight, or one flipped back
        from) are left alone: their saga discards them. Keeping one lets a reader that
        resolved the pointer just before a flip finish reading the generation it chose.
        Without a current generation nothing is removed.
        """
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
            raise InvalidGraphData("keep must be a non-negative integer")
        infos = self.generations(project_id)
        current = next((info for info in infos if info.state is GenerationState.CURRENT), None)
        if current is None:
            return []
        older = [info for info in infos if info.sequence < current.sequence]
        retired = [info for info in older if info.state is GenerationState.RETIRED]
        kept = {info.generation for info in retired[len(retired) - keep :]} if keep else set()
        doomed = [info.generation for info in older if info.generation not in kept]
        for generation in doomed:
            self._discard(project_id, generation)
        return doomed

    # -- reading ------------------------------------------------------------------------

    def current_generation(self, project_id: str) -> str | None:
        """The id of the project's current generation, or ``None``."""
        return self._current(validate_project_id(project_id))

    def generations(self, project_id: str) -> list[GenerationInfo]:
        """Every generation of the project, in the order they were first staged."""
        infos = self._generations(validate_project_id(project_id))
        return sorted(infos, key=lambda info: info.sequence)

    def entities(self, project_id: str, *, generation: str | None = None) -> list[Entity]:
        """The entities of one generation (the current one by default), sorted by key."""
        found = self._entities(*self._read_ids(project_id, generation))
        return sorted(found, key=lambda entity: entity.key)

    def relations(self, project_id: str, *, generation: str | None = None) -> list[Relation]:
        """The relations of one generation (the current one by default), with their
        provenance in the order it was staged, sorted by ``(subject, predicate, object)``."""
        found = self._relations(*self._read_ids(project_id, generation))
        return sorted(found, key=lambda relation: relation.triple)

    def summary(
        self, project_id: str, *, generation: str | None = None, strongest: int = 10
    ) -> GraphSummary:
        """Counts of one generation (the current one by default) and its ``strongest``
        heaviest relations: by weight, then confidence, both descending, then triple."""
        if isinstance(strongest, bool) or not isinstance(strongest, int) or strongest < 0:
            raise InvalidGraphData("strongest must be a non-negative integer")
        found = self._summary(*self._read_ids(project_id, generation), strongest)
        heaviest = sorted(found.strongest, key=lambda r: (-r.weight, -r.confidence, r.triple))
        return dataclasses.replace(found, strongest=tuple(heaviest))

    def neighbourhood(
        self, project_id: str, key: str, *, generation: str | None = None
    ) -> Neighbourhood | None:
        """The entity ``key`` of one generation (the current one by default) with every
        relation from or to it and the entities at their other ends; ``None`` if the
        generation has no such entity."""
        if not isinstance(key, str):
            raise InvalidGraphData("entity key must be a string")
        found = self._neighbourhood(*self._read_ids(project_id, generation), key)
        if found is None:
            return None
        return Neighbourhood(
            entity=found.entity,
            relations=tuple(sorted(found.relations, key=lambda relation: relation.triple)),
            neighbours=tuple(sorted(found.neighbours, key=lambda entity: entity.key)),
        )

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections. The store must not be used afterwards."""

    def __enter__(self) -> GraphStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- what a backend implements ------------------------------------------------------
    #
    # Ids arrive checked. Each hook is one transaction unless it says otherwise.

    @abc.abstractmethod
    def _begin_stage(self, project_id: str, generation: str) -> None:
        """Create the generation if absent (next sequence number of the project); refuse
        with GenerationConflict if it has been current or is being discarded."""

    @abc.abstractmethod
    def _stage_entities(self, project_id: str, generation: str, batch: Sequence[Entity]) -> None:
        """Upsert one batch of entities; refuse as :meth:`_begin_stage` does (the
        generation may have changed since), and GenerationNotFound if it is gone."""

    @abc.abstractmethod
    def _stage_relations(self, project_id: str, generation: str, batch: Sequence[Relation]) -> None:
        """Upsert one batch of relations, replacing their provenance; InvalidGraphData,
        writing nothing, if an endpoint is not an entity of the generation."""

    @abc.abstractmethod
    def _discard(self, project_id: str, generation: str) -> None:
        """Remove the generation and its rows (several transactions allowed, marking it
        ``discarding`` first); GenerationConflict if it is current."""

    @abc.abstractmethod
    def _make_current(self, project_id: str, generation: str | None) -> str | None:
        """Flip the pointer and mark the generation published, in one transaction."""

    @abc.abstractmethod
    def _current(self, project_id: str) -> str | None: ...

    @abc.abstractmethod
    def _generations(self, project_id: str) -> list[GenerationInfo]: ...

    @abc.abstractmethod
    def _entities(self, project_id: str, generation: str | None) -> list[Entity]:
        """``generation`` ``None`` means the current one, resolved in the same read."""

    @abc.abstractmethod
    def _relations(self, project_id: str, generation: str | None) -> list[Relation]: ...

    @abc.abstractmethod
    def _summary(self, project_id: str, generation: str | None, strongest: int) -> GraphSummary:
        """Counts, predicates and the strongest relations, all from one read."""

    @abc.abstractmethod
    def _neighbourhood(
        self, project_id: str, generation: str | None, key: str
    ) -> Neighbourhood | None: ...

    # -- argument checks ----------------------------------------------------------------

    @staticmethod
    def _ids(project_id: str, generation: str) -> tuple[str, str]:
        return validate_project_id(project_id), validate_saga_id(generation)

    @staticmethod
    def _read_ids(project_id: str, generation: str | None) -> tuple[str, str | None]:
        project_id = validate_project_id(project_id)
        return project_id, None if generation is None else validate_saga_id(generation)
