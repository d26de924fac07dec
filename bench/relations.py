"""Precision and recall of the relation extractor's typed triples, on labelled sentences.

The sentences (``bench/data/relations-labelled.jsonl``) come from the long descriptions of
the distributions installed in the development environment, text none of us wrote; each
is labelled with the typed triples it states (``related_to`` is not measured). Packages
are split in two by a hash of their name: the ``tune`` half may be looked at while
improving the extractor, the ``heldout`` half may not, and the headline is the held-out
half. Each sentence is one document whose topic is its package (what "this library" and
"it" stand for), all read in one extraction.

A predicted triple is correct when a labelled triple of the same sentence has its
predicate and matching subject and object, each labelled triple matched at most once.
Keys match **strictly** when equal up to their separators (``pydantic-core`` =
``pydantic core``), and **leniently** when, also, they share their last word and one's words are a
subset of the other's (``http library`` ~ ``library``; last words compared in the
singular, ``sensible default`` ~ ``defaults``): the boundary of a noun phrase is not the
relation. Labels are written as surface names and go through the extractor's
:func:`normalise_key`, like its own mentions.

The last line of standard output is one JSON object: ``precision`` and ``recall`` (held-out,
lenient; targets ≥ 0.7 and ≥ 0.4), the same for the tuning half and for strict matching,
the counts behind them, and sentences per second.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _harness

from wikisaga.content.relations import (
    TYPED_PREDICATES,
    ExtractionOptions,
    ProseDocument,
    extract_relations,
    identity_key,
    normalise_key,
)
from wikisaga.content.relations._lexicon import singular

DATA = Path(__file__).resolve().parent / "data" / "relations-labelled.jsonl"
SPLITS = ("tune", "heldout")
TARGETS = {"precision": 0.7, "recall": 0.4}

Key = tuple[str, str, str]


@dataclass(frozen=True)
class Labelled:
    """One labelled sentence."""

    number: int
    package: str
    split: str
    sentence: str
    triples: tuple[Key, ...]


def load(path: Path) -> list[Labelled]:
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if not line.strip():
            continue
        row = json.loads(line)
        triples = tuple((normalise_key(s), p, normalise_key(o)) for s, p, o in row["triples"])
        records.append(Labelled(number, row["package"], row["split"], row["sentence"], triples))
    return records


def predict(records: Iterable[Labelled], options: ExtractionOptions) -> dict[int, list[Key]]:
    """The typed triples the extractor finds in each sentence, by sentence number."""
    documents = [
        ProseDocument(
            doc_id=f"{r.number:05d}", source_path=r.package, text=r.sentence, topic=r.package
        )
        for r in records
    ]
    found: dict[int, list[Key]] = {}
    for triple in extract_relations(documents, options).typed():
        found.setdefault(int(triple.doc_id), []).append(
            (triple.subject, triple.predicate.value, triple.object)
        )
    return found


def strict(a: str, b: str) -> bool:
    return identity_key(a) == identity_key(b)


def lenient(a: str, b: str) -> bool:
    if strict(a, b):
        return True
    words_a, words_b = a.split(), b.split()
    words_a[-1:] = [singular(w) for w in words_a[-1:]]
    words_b[-1:] = [singular(w) for w in words_b[-1:]]
    return words_a[-1:] == words_b[-1:] and (
        set(words_a) <= set(words_b) or set(words_b) <= set(words_a)
    )


Match = Callable[[str, str], bool]


@dataclass
class Tally:
    """Counts of one split, one way of matching, by predicate."""

    gold: Counter[str]
    predicted: Counter[str]
    correct: Counter[str]

    @classmethod
    def empty(cls) -> Tally:
        return cls(Counter(), Counter(), Counter())

    def precision(self, predicate: str | None = None) -> float:
        total = sum(self.predicted.values()) if predicate is None else self.predicted[predicate]
        right = sum(self.correct.values()) if predicate is None else self.correct[predicate]
        return right / total if total else 0.0

    def recall(self, predicate: str | None = None) -> float:
        total = sum(self.gold.values()) if predicate is None else self.gold[predicate]
        right = sum(self.correct.values()) if predicate is None else self.correct[predicate]
        return right / total if total else 0.0


def score(
    records: Iterable[Labelled],
    found: dict[int, list[Key]],
    match: Match,
    errors: list[str] | None = None,
) -> Tally:
    tally = Tally.empty()
    for record in records:
        gold = list(record.triples)
        predicted = sorted(set(found.get(record.number, [])))
        tally.gold.update(p for _, p, _ in gold)
        tally.predicted.update(p for _, p, _ in predicted)
        unmatched = list(gold)
        for s, p, o in predicted:
            hit = next(
                (g for g in unmatched if g[1] == p and match(g[0], s) and match(g[2], o)), None
            )
            if hit is not None:
                unmatched.remove(hit)
                tally.correct[p] += 1
            elif errors is not None:
                errors.append(f"FP  {s} | {p} | {o}    ({record.package}) {record.sentence}")
        if errors is not None:
            errors.extend(
                f"FN  {s} | {p} | {o}    ({record.package}) {record.sentence}"
                for s, p, o in unmatched
            )
    return tally


def _percent(value: float) -> str:
    return f"{value:.2f}"


def print_split(name: str, tally: Tally, strict_tally: Tally) -> None:
    print(f"\n{name}: typed relations, lenient matching (strict in the last row)")
    predicates = sorted({*tally.gold, *tally.predicted} & {p.value for p in TYPED_PREDICATES})
    rows = [
        [
            predicate,
            str(tally.gold[predicate]),
            str(tally.predicted[predicate]),
            str(tally.correct[predicate]),
            _percent(tally.precision(predicate)),
            _percent(tally.recall(predicate)),
        ]
        for predicate in predicates
    ]
    for label, figures in (("all", tally), ("all, strict", strict_tally)):
        rows.append(
            [
                label,
                str(sum(figures.gold.values())),
                str(sum(figures.predicted.values())),
                str(sum(figures.correct.values())),
                _percent(figures.precision()),
                _percent(figures.recall()),
            ]
        )
    _harness.print_table(
        ["predicate", "labelled", "predicted", "correct", "precision", "recall"], rows, "<>>>>>"
    )


def _figures(prefix: str, tally: Tally) -> dict[str, Any]:
    return {
        f"{prefix}precision": round(tally.precision(), 4),
        f"{prefix}recall": round(tally.recall(), 4),
        f"{prefix}labelled": sum(tally.gold.values()),
        f"{prefix}predicted": sum(tally.predicted.values()),
        f"{prefix}correct": sum(tally.correct.values()),
    }


def main(argv: list[str] | None = None) -> int:
    command = _harness.Command(
        __doc__ or "",
        quick="one timed pass",
        rounds=_harness.Default(1, 5, "timed passes over the labelled sentences"),
        warmup=_harness.Default(0, 1, "untimed passes first"),
        data="no files (nothing is written)",
    )
    command.parser.add_argument("--data", type=Path, default=DATA, help="labelled JSON lines")
    command.parser.add_argument(
        "--min-confidence",
        type=float,
        default=ExtractionOptions().min_confidence,
        help="the extractor's threshold (default: its own)",
    )
    command.parser.add_argument(
        "--errors",
        choices=SPLITS,
        help="print the false positives and negatives of one half (look at tune only)",
    )
    command.parser.add_argument(
        "--tune-only",
        action="store_true",
        help="report the tuning half only, so that working on the extractor never shows "
        "the held-out figures",
    )
    args = command.parse(argv)
    records = load(args.data)
    options = ExtractionOptions(min_confidence=args.min_confidence, cooccurrence=False)

    def scenario(workdir: Path) -> dict[str, Any]:
        del workdir
        for _ in range(args.warmup):
            predict(records, options)
        seconds = []
        found: dict[int, list[Key]] = {}
        for _ in range(args.rounds):
            started = time.perf_counter()
            found = predict(records, options)
            seconds.append(time.perf_counter() - started)
        result = _harness.summary("relations", args)
        result["sentences"] = len(records)
        result["sentences_per_s"] = round(len(records) / statistics.median(seconds), 1)
        result["min_confidence"] = args.min_confidence
        for split in SPLITS[:1] if args.tune_only else SPLITS:
            part = [r for r in records if r.split == split]
            errors: list[str] | None = [] if args.errors == split else None
            tally = score(part, found, lenient, errors)
            strict_tally = score(part, found, strict)
            print_split(
                f"{split} ({len({r.package for r in part})} packages, {len(part)} sentences)",
                tally,
                strict_tally,
            )
            prefix = "" if split == "heldout" else f"{split}_"
            result.update(_figures(prefix, tally))
            result.update(_figures(f"{prefix}strict_", strict_tally))
            if errors:
                print(f"\n{split} errors:", file=sys.stderr)
                print("\n".join(sorted(errors)), file=sys.stderr)
        if args.tune_only:
            return result
        print()
        print(f"held-out half (headline), extractor threshold {args.min_confidence:g}:")
        _harness.print_headline(result, TARGETS)
        return result

    return _harness.run(args, "relations-", scenario)


if __name__ == "__main__":
    sys.exit(main())
