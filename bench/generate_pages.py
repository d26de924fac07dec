"""Generating a wiki from 1,000 documents in process, then again after one changed.

Run from the repository root with the project's interpreter::

    .venv/bin/python bench/generate_pages.py             # three rounds, about a minute
    .venv/bin/python bench/generate_pages.py --quick     # 100 documents, a few seconds
    .venv/bin/python bench/generate_pages.py --documents 2000 --rounds 1

The corpus is made up (``synthetic_corpus``): Markdown documents of 1 to 3 KB in five
subject areas, each with headings, statements that the relation extractor reads (``X is a
tool for ...``, ``X uses Y ...``) and plain prose, parsed and chunked as ``wikisaga
ingest`` would; the same for one ``--seed``. Ingest is not timed.

Each round times two calls of :func:`wikisaga.content.generator.generate_wiki`:

``full``         every document analysed, its relations extracted, every page planned
                 and rendered;
``incremental``  the same corpus with one document changed (a sentence added; a
                 different document every round), given the full generation as
                 ``previous``: only that document is analysed and extracted again, and
                 only pages whose plan changed are rendered;
``from_json``    the same change given what a caller of the orchestrator keeps (the source
                 map and the per-document relations, through JSON): every document is
                 analysed again, none extracted again.

Peak memory is the process's peak resident set (``ru_maxrss``) after the rounds, and how
far it rose above the resident set before the first generation. The headline ratios are
``incremental_ratio`` (incremental ÷ full, median of the rounds; target ≤ 0.1) and the
time of the full generation (``seconds_1000_docs``; target < 30 s on 2 cores). The last
line of standard output is one JSON object (progress goes to standard error).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import random
import resource
import sys
from typing import Any

import _harness

from wikisaga.content.chunking import chunk_text
from wikisaga.content.generator import DocumentRelations, Generation, SourceMap, generate_wiki
from wikisaga.content.ingest import make_document
from wikisaga.content.records import Document

_AREAS = {
    "storage": ("Granite", "Basalt", "Quartz", "Shale", "database", "index", "table", "query"),
    "network": ("Heron", "Osprey", "Kestrel", "Merlin", "protocol", "socket", "packet", "route"),
    "compute": ("Cedar", "Maple", "Birch", "Alder", "scheduler", "worker", "queue", "task"),
    "interface": ("Coral", "Amber", "Indigo", "Violet", "widget", "layout", "theme", "form"),
    "security": ("Falcon", "Condor", "Harrier", "Vulture", "token", "policy", "secret", "role"),
}
_KINDS = ("library", "framework", "service", "tool", "server", "toolkit")
_VERBS = ("uses", "depends on", "extends", "supports", "provides", "implements")
_FILLER = (
    "configuration", "version", "release", "option", "default", "request", "response",
    "error", "limit", "cache", "metric", "record", "event", "stream", "batch", "schema",
)  # fmt: skip


def _sentence(rng: random.Random, names: tuple[str, ...], nouns: tuple[str, ...]) -> str:
    a, b = rng.sample(names, 2)
    noun, other = rng.choice(nouns), rng.choice(_FILLER)
    shape = rng.randrange(5)
    if shape == 0:
        return f"{a} is a {rng.choice(_KINDS)} for {noun} {other}."
    if shape == 1:
        return f"{a} {rng.choice(_VERBS)} {b} to handle each {noun}."
    if shape == 2:
        return f"Every {noun} in {a} keeps its {other} until the {rng.choice(_FILLER)} ends."
    if shape == 3:
        return f"The {noun} {other} of {a} can be changed without restarting {b}."
    return f"When a {noun} fails, {a} retries the {other} and reports the {rng.choice(_FILLER)}."


def synthetic_corpus(count: int, seed: int) -> list[Document]:
    """``count`` Markdown documents of 1 to 3 KB, parsed and chunked."""
    rng = random.Random(seed)
    documents = []
    for number in range(count):
        area = sorted(_AREAS)[number % len(_AREAS)]
        names, nouns = _AREAS[area][:4], _AREAS[area][4:]
        size = rng.randint(1000, 3000)
        parts = [f"# {rng.choice(names)} {rng.choice(nouns)} notes {number}", ""]
        while sum(len(p) + 1 for p in parts) < size:
            parts += [f"## {rng.choice(nouns).title()} {rng.choice(_FILLER)}", ""]
            parts.append(" ".join(_sentence(rng, names, nouns) for _ in range(rng.randint(3, 6))))
            parts.append("")
        text = "\n".join(parts)
        documents.append(make_document("bench", f"{area}/notes-{number:04d}.md", text.encode()))
    return documents


def changed(documents: list[Document], index: int) -> list[Document]:
    """The corpus with a sentence added to the end of document ``index``."""
    result = list(documents)
    old = result[index]
    text = f"{old.text}\n\n{old.title.split()[0]} is a tool for changed benchmark records."
    result[index] = dataclasses.replace(
        old,
        text=text,
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
        chunks=chunk_text(text, old.outline, old.doc_id),
    )
    return result


def _rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Scenario:
    def __init__(self, documents: list[Document]) -> None:
        self.documents = documents
        self.last: Generation | None = None
        self.sizes: dict[str, int] = {}

    def play(self, number: int, systems: list[str], samples: _harness.Samples) -> None:
        del systems
        full: list[Generation] = []
        samples.add("full", _harness.timed(lambda: full.append(generate_wiki(self.documents))))
        before = full[0]
        edited = changed(self.documents, (number * 7919) % len(self.documents))
        again: list[Generation] = []
        samples.add(
            "incremental",
            _harness.timed(lambda: again.append(generate_wiki(edited, previous=before))),
        )
        kept_map = SourceMap.from_json(json.loads(json.dumps(before.source_map.to_json())))
        kept = [
            DocumentRelations.from_json(json.loads(json.dumps(r.to_json())))
            for r in before.relations
        ]
        samples.add(
            "from_json",
            _harness.timed(lambda: generate_wiki(edited, previous=kept_map, relations=kept)),
        )
        self.sizes = {
            "pages": len(before.files),
            "relations": len(before.graph.triples),
            "entities": len(before.graph.entities),
            "incremental_pages": len(again[0].files),
            "bytes": sum(len(page.content.encode()) for page in before.files),
        }


def scenario(args: argparse.Namespace) -> dict[str, Any]:
    print(f"making {args.documents} documents", file=sys.stderr, flush=True)
    documents = synthetic_corpus(args.documents, args.seed)
    baseline = _rss_mb()
    bench = Scenario(documents)
    samples = _harness.run_rounds(
        ["generation"],
        bench.play,
        rounds=args.rounds,
        order=_harness.alternating_order,
        warmup_rounds=args.warmup,
        progress=lambda s: (
            f": full {s.last('full'):.2f} s, incremental {s.last('incremental'):.3f} s"
        ),
    )
    peak = _rss_mb()
    rows = [
        (name, f"{samples.median(name):.3f}", f"{min(samples[name]):.3f}")
        for name in ("full", "incremental", "from_json")
    ]
    _harness.print_table(("generation", "median s", "best s"), rows, "<>>")
    sizes = bench.sizes
    print(
        f"{args.documents} documents -> {sizes['pages']} pages ({sizes['bytes'] / 1e6:.1f} MB), "
        f"{sizes['relations']} relations, {sizes['entities']} entities; one changed document "
        f"-> {sizes['incremental_pages']} pages rewritten"
    )
    summary = _harness.summary("generate_pages", args)
    summary.update(
        {
            "documents": args.documents,
            f"seconds_{args.documents}_docs": round(samples.median("full"), 3),
            "incremental_seconds": round(samples.median("incremental"), 3),
            "from_json_seconds": round(samples.median("from_json"), 3),
            "incremental_ratio": round(samples.ratio("incremental", "full"), 4),
            "incremental_ratio_paired": round(samples.paired("incremental", "full"), 4),
            "from_json_ratio": round(samples.ratio("from_json", "full"), 4),
            "peak_mb": round(peak, 1),
            "peak_mb_over_baseline": round(peak - baseline, 1),
            **sizes,
        }
    )
    _harness.print_headline(summary, {"incremental_ratio": 0.1}, at_most={"incremental_ratio"})
    seconds = summary[f"seconds_{args.documents}_docs"]
    met = "met" if seconds < 30 or args.documents != 1000 else "NOT met"
    print(f"full generation of {args.documents} documents = {seconds:.2f} s (target < 30 s: {met})")
    return summary


COMMAND = _harness.Command(
    __doc__ or "",
    quick="one round of 100 documents",
    rounds=_harness.Default(1, 3, "rounds of a full and an incremental generation"),
    warmup=_harness.Default(0, 0, "untimed rounds first"),
    data="no files",
    seed=True,
)
COMMAND.parser.add_argument("--documents", type=int, help="corpus size (default 1000)")


def main(argv: list[str] | None = None) -> int:
    args = COMMAND.parse(argv)
    if args.documents is None:
        args.documents = 100 if args.quick else 1000
    if args.documents < 4:
        COMMAND.error("--documents must be at least 4")
    return _harness.run(args, "generate-pages-bench-", lambda _workdir: scenario(args))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
