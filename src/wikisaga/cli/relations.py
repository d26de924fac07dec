"""``wikisaga relations PATH...``: run the relation extractor on files, print its triples.

Every file is read by :mod:`wikisaga.content.parsing`, the parsers the pipeline ingests
with (Markdown, reStructuredText, HTML by their endings, anything else as plain text), and
only the prose of the parsed document reaches the extractor: code blocks, inline code
markers, URLs, tags and other markup never do. A directory stands for the files under it
that a parser reads by their ending, in path order; a file that cannot be parsed (binary,
not UTF-8, empty) is skipped with a note on standard error. Every file is one document;
its path, as given, is its id and its source. ``--json`` prints one JSON object per
triple, a line each, with the keys ``subject``, ``predicate``, ``object``, ``doc_id``,
``source``, ``sentence``, ``start``, ``end`` (the sentence's character offsets in the
parsed document's prose, ``ParsedDocument.text``, not in the file's raw bytes), ``method``
and ``confidence``; otherwise a table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from wikisaga.content.relations import (
    ExtractionOptions,
    Predicate,
    ProseDocument,
    extract_relations,
    prose_document,
)

__all__ = ["register", "relations"]


def _files(paths: list[Path]) -> Iterator[Path]:
    # The parsers (docutils, markdown-it) load only when this command runs, not with
    # every other command of the command line.
    from wikisaga.content.parsing import FORMATS  # noqa: PLC0415

    # The endings that make a file under a directory a document (not the bare "no suffix").
    suffixes = frozenset(suffix for suffix in FORMATS if suffix)
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes
            )
        else:
            yield path


def _document(path: Path, topic: str | None) -> ProseDocument | None:
    """The prose of one file as the pipeline's parsers see it, or ``None`` (and a note on
    standard error) when it cannot be parsed."""
    from wikisaga.content.parsing import Unparseable, decode, format_of, parse  # noqa: PLC0415

    name = path.as_posix()
    try:
        parsed = parse(
            decode(path.read_bytes()), format_of(name) or "text", fallback_title=path.stem
        )
    except Unparseable as exc:
        typer.echo(f"skipped {name}: {exc}", err=True)
        return None
    # The parsed prose has no markup left; "text" only splits it into sentences (blank
    # lines between blocks end one) at its own offsets.
    return prose_document(parsed.text, doc_id=name, source_path=name, syntax="text", topic=topic)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def relations(
    paths: Annotated[
        list[Path],
        typer.Argument(exists=True, readable=True, help="files or directories to read"),
    ],
    json_output: Annotated[
        bool, typer.Option("--json", help="print JSON lines instead of a table")
    ] = False,
    entities: Annotated[
        bool, typer.Option("--entities", help="print the merged entities instead of triples")
    ] = False,
    topic: Annotated[
        str | None,
        typer.Option(help='what "this library" and a leading "it" stand for in every file'),
    ] = None,
    min_confidence: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="drop typed triples below this confidence")
    ] = ExtractionOptions().min_confidence,
    related: Annotated[bool, typer.Option(help="add related_to triples from co-occurrence")] = True,
) -> int:
    """Extract typed relations (and co-occurrence) from documents, offline."""
    documents = [doc for path in _files(paths) if (doc := _document(path, topic)) is not None]
    options = ExtractionOptions(min_confidence=min_confidence, cooccurrence=related)
    extraction = extract_relations(documents, options)
    if entities:
        for entity in extraction.entities:
            if json_output:
                print(json.dumps(entity.to_json(), ensure_ascii=False, sort_keys=True))
            else:
                print(f"{_clip(entity.key, 40):<40} {entity.type or '-':<12} {entity.mentions:>5}")
        return 0
    if json_output:
        for triple in extraction.triples:
            print(json.dumps(triple.to_json(), ensure_ascii=False, sort_keys=True))
        return 0
    if not extraction.triples:
        print("no relations found")
        return 0
    print(f"{'subject':<30} {'predicate':<14} {'object':<30} {'conf':>5}  {'method':<12} where")
    for triple in extraction.triples:
        where = f"{triple.source_path}:{triple.start}-{triple.end}"
        print(
            f"{_clip(triple.subject, 30):<30} {triple.predicate.value:<14} "
            f"{_clip(triple.object, 30):<30} {triple.confidence:>5.2f}  {triple.method:<12} {where}"
        )
    typed = sum(1 for t in extraction.triples if t.predicate is not Predicate.RELATED_TO)
    print(f"{typed} typed, {len(extraction.triples) - typed} related_to")
    return 0


def register(app: typer.Typer) -> None:
    """Add ``relations`` to the command line."""
    app.command()(relations)
