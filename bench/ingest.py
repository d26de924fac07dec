"""Ingesting 1,000 documents into embedded Chroma, and reading them back.

Run from the repository root with the project's interpreter::

    .venv/bin/python bench/ingest.py              # 3 rounds of 1,000 documents, about a minute
    .venv/bin/python bench/ingest.py --quick      # 1 round of 100, a few seconds
    .venv/bin/python bench/ingest.py --docs 5000 --rounds 1
    .venv/bin/python bench/ingest.py --dir /mnt/ssd   # put the files and the store elsewhere

The documents are made up once per run (seeded, so every run makes the same ones): 1 to 3
KB each, 70 % Markdown, 10 % each reStructuredText, HTML and plain text, with headings,
paragraphs, lists and code blocks, words drawn from a vocabulary of 4,000. Every round
starts from an empty embedded store (``PersistentClient`` in a fresh directory) and times:

``parse``     making every document (read, decode, parse, chunk) without storing it;
``ingest``    ``wikisaga.content.ingest.ingest`` of the folder: parse, chunk, embed and write
              every document (chunks, then records);
``reingest``  the same again with nothing changed: read the listing, hash every file, write
              nothing;
``read``      ``DocumentStore.read_documents``: every document back, whole, with its chunks.

The figures are documents per second, medians over the rounds (the harness's warm-up and
rounds). The last line of standard output is one JSON object with ``ingest_docs_per_s`` and
``read_docs_per_s`` (the headline, with a target of 100 documents per second for ingest).
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import Any

import _harness

from wikisaga.content.documents import open_document_store
from wikisaga.content.ingest import find_sources, ingest, make_document

PROJECT = "bench-project"
USER = "bench-user"
TARGETS = {"ingest_docs_per_s": 100.0}
OPERATIONS = ("parse", "ingest", "reingest", "read")
_WHAT = {
    "parse": "read, decode, parse and chunk every file; store nothing",
    "ingest": "parse, chunk, embed, write chunks then records (empty store)",
    "reingest": "nothing changed: list, hash every file, write nothing",
    "read": "read_documents: every document whole, with its chunks",
}

# -- the documents ----------------------------------------------------------------------


def _vocabulary(draw: random.Random, size: int = 4000) -> list[str]:
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    weights = [26 - n for n in range(26)]
    return ["".join(draw.choices(letters, weights, k=draw.randint(2, 11))) for _ in range(size)]


def _sentence(draw: random.Random, words: list[str]) -> str:
    chosen = [draw.choice(words) for _ in range(draw.randint(6, 18))]
    return " ".join(chosen).capitalize() + "."


def _paragraph(draw: random.Random, words: list[str]) -> str:
    return " ".join(_sentence(draw, words) for _ in range(draw.randint(2, 5)))


def _markdown(draw: random.Random, words: list[str], size: int) -> str:
    parts = [f"# {_sentence(draw, words)[:40]}"]
    while sum(map(len, parts)) < size:
        roll = draw.random()
        if roll < 0.15:
            parts.append(f"## {_sentence(draw, words)[:30]}")
        elif roll < 0.25:
            parts.append("\n".join(f"- {_sentence(draw, words)}" for _ in range(3)))
        elif roll < 0.32:
            parts.append(f"```python\n{draw.choice(words)} = {draw.randint(0, 99)}\n```")
        else:
            parts.append(_paragraph(draw, words))
    return "\n\n".join(parts) + "\n"


def _rst(draw: random.Random, words: list[str], size: int) -> str:
    title = _sentence(draw, words)[:40]
    parts = [f"{title}\n{'=' * len(title)}"]
    while sum(map(len, parts)) < size:
        if draw.random() < 0.2:
            heading = _sentence(draw, words)[:30]
            parts.append(f"{heading}\n{'-' * len(heading)}")
        else:
            parts.append(_paragraph(draw, words))
    return "\n\n".join(parts) + "\n"


def _html(draw: random.Random, words: list[str], size: int) -> str:
    parts = [f"<html><head><title>{_sentence(draw, words)[:40]}</title></head><body>"]
    while sum(map(len, parts)) < size:
        if draw.random() < 0.2:
            parts.append(f"<h2>{_sentence(draw, words)[:30]}</h2>")
        else:
            parts.append(f"<p>{_paragraph(draw, words)}</p>")
    parts.append("<script>track()</script></body></html>")
    return "\n".join(parts)


def _text(draw: random.Random, words: list[str], size: int) -> str:
    parts = [_sentence(draw, words)[:40]]
    while sum(map(len, parts)) < size:
        parts.append(_paragraph(draw, words))
    return "\n\n".join(parts) + "\n"


def write_documents(folder: Path, count: int, seed: int = 0) -> int:
    """``count`` made-up documents of 1 to 3 KB under ``folder``; returns their bytes."""
    draw = random.Random(seed)
    words = _vocabulary(draw)
    total = 0
    for n in range(count):
        size = draw.randint(1000, 2800)  # a page's closing lines bring it to 1-3 KB
        roll = draw.random()
        if roll < 0.7:
            name, content = f"guide/{n // 100:02}/page-{n:05}.md", _markdown(draw, words, size)
        elif roll < 0.8:
            name, content = f"manual/page-{n:05}.rst", _rst(draw, words, size)
        elif roll < 0.9:
            name, content = f"site/page-{n:05}.html", _html(draw, words, size)
        else:
            name, content = f"notes/page-{n:05}.txt", _text(draw, words, size)
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode()
        path.write_bytes(data)
        total += len(data)
    return total


# -- one round --------------------------------------------------------------------------


def play_round(
    folder: Path, workdir: Path, count: int, number: int, samples: _harness.Samples
) -> int:
    """Every operation once on a fresh store; returns the number of chunks written."""
    files, _ = find_sources([folder])

    def parse_all() -> None:
        for source in files:
            make_document(PROJECT, source.source_path, source.path.read_bytes())

    samples.add("parse", _harness.timed(parse_all))
    with open_document_store(workdir / f"store-{number}") as store:
        report: dict[str, Any] = {}

        def first() -> None:
            report["first"] = ingest(store, project_id=PROJECT, user_id=USER, paths=[folder])

        def again() -> None:
            report["again"] = ingest(store, project_id=PROJECT, user_id=USER, paths=[folder])

        def read() -> None:
            report["read"] = store.read_documents(PROJECT)

        samples.add("ingest", _harness.timed(first))
        samples.add("reingest", _harness.timed(again))
        samples.add("read", _harness.timed(read))
    if len(report["first"].added) != count or len(report["again"].unchanged) != count:
        raise RuntimeError(f"round {number}: not every document was ingested once")
    if len(report["read"]) != count:
        raise RuntimeError(f"round {number}: {len(report['read'])} documents read back")
    return sum(len(document.chunks) for document in report["read"])


def report(
    samples: _harness.Samples, args: argparse.Namespace, total_bytes: int, chunks: int
) -> dict[str, Any]:
    """Print the table and the headline; returns the JSON summary."""
    n = args.docs
    rate = {op: n / samples.median(op) for op in OPERATIONS}
    rows = [(op, f"{samples.median(op):.2f}", f"{rate[op]:,.0f}", _WHAT[op]) for op in OPERATIONS]
    print()
    _harness.print_table(("operation", "seconds", "docs/s", "what"), rows, "<>><")
    print()
    print(
        f"{n:,} documents, {total_bytes / 1024:,.0f} KiB, {chunks:,} chunks; embedded Chroma, "
        f"median of {args.rounds} round(s), each on a fresh store."
    )
    summary = _harness.summary("ingest", args)
    summary |= {
        "warmup_rounds": args.warmup,
        "documents": n,
        "bytes": total_bytes,
        "chunks": chunks,
        "targets": TARGETS,
        "round_s": {op: [round(v, 3) for v in samples[op]] for op in OPERATIONS},
    }
    for op in OPERATIONS:
        summary[f"{op}_docs_per_s"] = rate[op]
    _harness.print_headline(summary, TARGETS)
    return summary


COMMAND = _harness.Command(
    __doc__,
    quick="1 round of 100 documents",
    rounds=_harness.Default(1, 3, "rounds, each on a fresh store"),
    warmup=_harness.Default(0, 0, "untimed rounds first"),
    data="the documents and the stores",
)
COMMAND.parser.add_argument("--docs", type=int, help="documents to ingest (default 1000)")


def main(argv: list[str] | None = None) -> int:
    args = COMMAND.parse(argv)
    args.docs = args.docs or (100 if args.quick else 1000)
    if args.docs < 1:
        COMMAND.error("--docs must be positive")

    def scenario(workdir: Path) -> dict[str, Any]:
        folder = workdir / "docs"
        total_bytes = write_documents(folder, args.docs)
        chunks = 0

        def play(number: int, systems: list[str], samples: _harness.Samples) -> None:
            nonlocal chunks
            del systems
            chunks = play_round(folder, workdir, args.docs, number, samples)

        def progress(samples: _harness.Samples) -> str:
            return f": ingest {args.docs / samples.last('ingest'):,.0f} docs/s"

        samples = _harness.run_rounds(
            ["embedded"],
            play,
            rounds=args.rounds,
            order=_harness.alternating_order,
            warmup_rounds=args.warmup,
            progress=progress,
        )
        return report(samples, args, total_bytes, chunks)

    return _harness.run(args, "ingest-bench-", scenario)


if __name__ == "__main__":
    sys.exit(main())
