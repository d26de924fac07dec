"""Incremental regeneration: given the previous source map and relations, only pages
whose plan changed are rendered, and the result equals a full regeneration byte for
byte."""

from __future__ import annotations

import dataclasses
import hashlib
import json

from generator_support import apply, document, files_of

from wikisaga.content.chunking import chunk_text
from wikisaga.content.generator import (
    DocumentRelations,
    Generation,
    SourceMap,
    generate_wiki,
)
from wikisaga.content.records import Document
from wikisaga.content.relations import EXTRACTOR_VERSION, Predicate, Triple


def edited(documents: list[Document], index: int, extra: str) -> list[Document]:
    """The corpus with a paragraph ``extra`` added to the end of document ``index``."""
    changed = list(documents)
    old = changed[index]
    text = f"{old.text}\n\n{extra}"
    changed[index] = dataclasses.replace(
        old,
        text=text,
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
        chunks=chunk_text(text, old.outline, old.doc_id),
    )
    return changed


def assert_incremental_equals_full(
    before: Generation, documents: list[Document], previous: Generation | SourceMap, **kw: object
) -> Generation:
    incremental = generate_wiki(documents, previous=previous, **kw)  # type: ignore[arg-type]
    full = generate_wiki(documents)
    assert apply(files_of(before), incremental) == files_of(full)
    assert incremental.source_map == full.source_map
    assert incremental.graph == full.graph
    return incremental


def test_one_changed_document_regenerates_only_what_draws_on_it(
    sample: list[Document], sample_generation: Generation
) -> None:
    index = next(i for i, d in enumerate(sample) if d.source_path == "docs/uvicorn.md")
    changed = edited(sample, index, "Uvicorn reads its settings from command line options.")
    result = assert_incremental_equals_full(sample_generation, changed, sample_generation)
    assert result.changed_documents == (changed[index].doc_id,)
    written = {page.file_path for page in result.files}
    assert "wiki/sources/docs-uvicorn.md" in written
    assert len(written) < len(result.plan)
    assert set(result.unchanged) | written == {page.file_path for page in result.plan}
    for path in written:  # each rewritten page draws on the change or had its plan change
        entry = next(p for p in result.plan if p.file_path == path)
        old = next(p for p in sample_generation.plan if p.file_path == path)
        assert entry.stamp != old.stamp


def test_nothing_changed_means_nothing_is_rendered(
    sample: list[Document], sample_generation: Generation
) -> None:
    again = generate_wiki(sample, previous=sample_generation.source_map)
    assert again.files == ()
    assert again.deleted == ()
    assert again.changed_documents == ()
    assert len(again.unchanged) == len(sample_generation.files)


def test_a_caller_keeping_only_json_gets_the_same_result(
    sample: list[Document], sample_generation: Generation
) -> None:
    """The source map and relations survive JSON (as the service's callers keep them)
    and give what the in-process previous generation gives."""
    source_map = SourceMap.from_json(json.loads(json.dumps(sample_generation.source_map.to_json())))
    relations = [
        DocumentRelations.from_json(json.loads(json.dumps(r.to_json())))
        for r in sample_generation.relations
    ]
    assert source_map == sample_generation.source_map
    assert relations == list(sample_generation.relations)
    changed = edited(sample, 2, "HTTPX is an alternative to urllib3 for many programs.")
    assert_incremental_equals_full(sample_generation, changed, source_map, relations=relations)


def test_added_and_removed_documents(sample: list[Document], sample_generation: Generation) -> None:
    added = document(
        "docs/gunicorn.md",
        "# Gunicorn\n\nGunicorn is a WSGI HTTP server for Unix. Gunicorn uses a pre-fork "
        "worker model. Uvicorn provides a worker class for Gunicorn.\n",
    )
    grown = [*sample, added]
    result = assert_incremental_equals_full(sample_generation, grown, sample_generation)
    assert "wiki/sources/docs-gunicorn.md" in {p.file_path for p in result.files}

    shrunk = [d for d in sample if d.source_path != "docs/httpx.md"]
    result = assert_incremental_equals_full(sample_generation, shrunk, sample_generation)
    assert "wiki/sources/docs-httpx.md" in result.deleted


def test_relations_of_unchanged_documents_are_reused_not_extracted(
    sample: list[Document], sample_generation: Generation
) -> None:
    """A kept relation record whose fingerprint matches is used as given (a marker triple
    in it reaches the graph); one whose fingerprint does not match is ignored."""
    kept = sample_generation.relations[0]
    doc = next(d for d in sample if d.doc_id == kept.doc_id)
    first = kept.triples[0]
    marker = Triple(
        subject=first.subject,
        predicate=Predicate.USES,
        object="marker entity",
        doc_id=first.doc_id,
        source_path=first.source_path,
        sentence=first.sentence,
        start=first.start,
        end=first.end,
        method="test",
        confidence=1.0,
    )
    doctored = dataclasses.replace(kept, triples=(*kept.triples, marker))
    reused = generate_wiki(sample, relations=[doctored])
    assert marker in reused.graph.triples

    stale = dataclasses.replace(doctored, fingerprint="0" * 64)
    fresh = generate_wiki(sample, relations=[stale])
    assert marker not in fresh.graph.triples
    assert doc.doc_id in {r.doc_id for r in fresh.relations}


def test_relations_kept_from_other_extraction_rules_are_extracted_again(
    sample: list[Document], sample_generation: Generation
) -> None:
    """A kept record made by other extraction rules (another ``EXTRACTOR_VERSION``, or
    none: written before the version was kept) is extracted again, so a wiki generated
    after an upgrade is the one the new rules make, unchanged documents included."""
    kept = sample_generation.relations[0]
    assert kept.extractor == EXTRACTOR_VERSION
    assert DocumentRelations.from_json(kept.to_json()) == kept
    first = kept.triples[0]
    marker = dataclasses.replace(first, predicate=Predicate.USES, object="marker entity")
    doctored = dataclasses.replace(kept, triples=(*kept.triples, marker))
    older = dataclasses.replace(doctored, extractor="wikisaga-relations/0")
    assert marker not in generate_wiki(sample, relations=[older]).graph.triples
    unversioned = doctored.to_json()
    del unversioned["extractor"]
    record = DocumentRelations.from_json(unversioned)
    assert record.extractor == ""
    again = generate_wiki(sample, relations=[record])
    assert marker not in again.graph.triples
    assert next(r for r in again.relations if r.doc_id == kept.doc_id).extractor == (
        EXTRACTOR_VERSION
    )
    assert marker in generate_wiki(sample, relations=[doctored]).graph.triples


def test_another_generator_version_regenerates_everything(
    sample: list[Document], sample_generation: Generation
) -> None:
    older = dataclasses.replace(sample_generation.source_map, generator="wikisaga-generator/0")
    result = generate_wiki(sample, previous=older)
    assert files_of(result) == files_of(sample_generation)
    assert result.unchanged == ()


def test_incremental_equals_full_on_a_large_corpus(
    synthetic: list[Document], synthetic_generation: Generation
) -> None:
    changed = edited(synthetic, 17, "Granite is a library for index caches.")
    changed = edited(changed, 140, "Heron depends on Osprey to handle each socket.")
    result = assert_incremental_equals_full(synthetic_generation, changed, synthetic_generation)
    # Far fewer than all: the changed documents' pages, and those whose plan they moved
    # (an entity that gains a page is then linked from every document naming it).
    assert len(result.files) < len(result.plan) / 2
