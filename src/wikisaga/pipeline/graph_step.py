"""The graph's part of a wiki generation: two durable saga steps and their compensations.

DESIGN §1 puts the graph inside the saga, around the files and the snapshot:

- **stage** (step 4) writes the generation's entities and relations as a new graph
  generation, invisible to readers; its compensation, :data:`GRAPH_DISCARD`, removes that
  generation (idempotent: discarding what is not there succeeds);
- **make current** (step 7) flips the project's pointer to it; its compensation,
  :data:`GRAPH_RESTORE_CURRENT`, flips back to the generation that was current before.
  That previous generation is read *before* the step runs and recorded with its intent,
  so a recoverer in another process knows where to flip back to.

The generation id is the saga id (the graph contract's rule), so both compensations are
known before their actions start. They name the graph by its URL (never a password: a
Neo4j store takes its credentials from the settings of whoever runs the compensation).
Both are registered in the engine's default registry when this module is imported, as
:mod:`wikisaga.pipeline.compensations` does, and :func:`register_graph_compensations`
adds them to any other registry.

:func:`graph_records` turns the extractor's JSON (``{"entities": [...], "triples":
[...]}``, what :meth:`wikisaga.content.generator.Graph.to_json` and the orchestrator give)
into the store's records, one relation per triple with every place it was read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from distributed_saga import Compensation, CompensationRegistry, default_registry
from wikisaga.graph import Entity, GraphStore, Provenance, Relation, open_graph_store
from wikisaga.pipeline.publish import PublishStep

__all__ = [
    "GRAPH_DISCARD",
    "GRAPH_RESTORE_CURRENT",
    "discard_generation",
    "graph_records",
    "make_current_step",
    "register_graph_compensations",
    "restore_current_generation",
    "stage_step",
]

GRAPH_DISCARD = "wikisaga.graph.discard_generation"
GRAPH_RESTORE_CURRENT = "wikisaga.graph.restore_current_generation"


def discard_generation(args: Mapping[str, Any]) -> None:
    """Remove the staged generation ``args["generation"]``; absent is fine."""
    with open_graph_store(str(args["graph_url"])) as store:
        store.discard(str(args["project_id"]), str(args["generation"]))


def restore_current_generation(args: Mapping[str, Any]) -> None:
    """Flip the project back to ``args["previous"]`` if ``args["generation"]`` is current.

    When the pointer is elsewhere already (the flip never happened, or was undone), it is
    left alone: this compensation only ever undoes its own step.
    """
    project_id, generation = str(args["project_id"]), str(args["generation"])
    previous = args.get("previous")
    with open_graph_store(str(args["graph_url"])) as store:
        if store.current_generation(project_id) == generation:
            store.make_current(project_id, None if previous is None else str(previous))


def register_graph_compensations(registry: CompensationRegistry) -> CompensationRegistry:
    """Register both graph compensations in ``registry``; return it.

    Not ``concurrent``: the flip back must run before the discard (the store refuses to
    discard the current generation), which the engine's reverse order guarantees.
    """
    registry.register(GRAPH_DISCARD, discard_generation)
    registry.register(GRAPH_RESTORE_CURRENT, restore_current_generation)
    return registry


def stage_step(
    store: GraphStore,
    project_id: str,
    generation: str,
    entities: Sequence[Entity],
    relations: Sequence[Relation],
) -> PublishStep:
    """Step 4: stage ``generation``; compensated by discarding it."""
    return PublishStep(
        name=f"Stage graph generation with {len(relations)} relationships",
        action=lambda: store.stage(project_id, generation, entities, relations),
        compensation=Compensation(
            GRAPH_DISCARD,
            {"graph_url": store.url, "project_id": project_id, "generation": generation},
        ),
    )


def make_current_step(
    store: GraphStore, project_id: str, generation: str, previous: str | None
) -> PublishStep:
    """Step 7: make ``generation`` current; compensated by flipping back to ``previous``
    (read by the caller before the saga starts: the saga lock keeps it so)."""
    return PublishStep(
        name="Make graph generation current",
        action=lambda: store.make_current(project_id, generation),
        compensation=Compensation(
            GRAPH_RESTORE_CURRENT,
            {
                "graph_url": store.url,
                "project_id": project_id,
                "generation": generation,
                "previous": previous,
            },
        ),
    )


def graph_records(graph: Mapping[str, Any]) -> tuple[list[Entity], list[Relation]]:
    """Entities and relations of the extractor's JSON, ready for :meth:`GraphStore.stage`.

    Triples with the same ``(subject, predicate, object)`` become one relation: its weight
    is how many times it was read, its confidence the highest, its provenance every
    sentence. An endpoint that is not among the entities becomes one named by its key.
    Raises ``ValueError`` (or ``KeyError``/``TypeError``) for JSON of another shape.
    """
    entities: dict[str, Entity] = {}
    for item in _items(graph, "entities"):
        key = str(item["key"])
        kind = item.get("type")
        entities[key] = Entity(key=key, name=str(item.get("name") or key), type=kind or None)
    grouped: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for item in _items(graph, "triples"):
        triple = (str(item["subject"]), str(item["predicate"]), str(item["object"]))
        grouped.setdefault(triple, []).append(item)
    relations = []
    for (subject, predicate, obj), found in grouped.items():
        for key in (subject, obj):
            entities.setdefault(key, Entity(key=key, name=key))
        relations.append(
            Relation(
                subject=subject,
                predicate=predicate,
                object=obj,
                weight=float(len(found)),
                method=str(found[0].get("method") or ""),
                confidence=max(float(item.get("confidence", 1.0)) for item in found),
                provenance=tuple(_provenance(item) for item in found),
            )
        )
    return sorted(entities.values(), key=lambda e: e.key), relations


def _items(graph: Mapping[str, Any], name: str) -> Iterable[Mapping[str, Any]]:
    items = graph.get(name, [])
    if not isinstance(items, list) or not all(isinstance(item, Mapping) for item in items):
        raise ValueError(f"relations JSON: {name!r} must be a list of objects")
    return items


def _provenance(item: Mapping[str, Any]) -> Provenance:
    return Provenance(
        document_id=str(item.get("doc_id", "")),
        source_path=str(item.get("source", item.get("source_path", ""))),
        sentence=str(item.get("sentence", "")),
        start=int(item.get("start", 0)),
        end=int(item.get("end", 0)),
    )


register_graph_compensations(default_registry)
