"""The patterns that turn one sentence into typed triples.

=================  ========================================================  ==========
method             reads                                                     confidence
=================  ========================================================  ==========
``verb``           X uses / depends on / provides / supports ... Y           0.9
``passive``        X is written in / built on / powered by / part of ... Y   0.85
``inverse``        Y is used by / required by / supported by ... X           0.85
``noun``           X is an alternative to / a fork of / a wrapper around Y   0.85
``apposition``     X, an alternative to Y, ... (the same nouns)              0.8
``copula``         X is a Y, X is one of the Ys  (is_a)                      0.9
``appositive``     X, a Y, ...  (is_a)                                       0.75
``such_as``        Ys such as X and Z; Ys including X; X and other Ys (is_a) 0.7
=================  ========================================================  ==========

The trigger phrases of the first five are in ``data/triggers.txt``. Every pattern shares
the reader's argument finding (:class:`~._reader.SentenceReader`): lists give one triple
per item (×0.95), a relative clause or a reduced one ("a library written in Rust") takes
the subject of the copula it hangs from, "this library" and a clause-initial "it" stand
for the document's topic (×0.9, ×0.8). A negation between subject and predicate, or
right after it ("X does not use Y", "X never uses Y", "X no longer depends on Y", "X
requires no Y"), gives nothing. A hedge anywhere before the predicate ("may", "might",
"could", "if") multiplies the confidence by 0.4, which puts it under the default
threshold; "can", "optionally" and "will" by 0.85. Questions give nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from wikisaga.content.relations._lexicon import lexicon, singular
from wikisaga.content.relations._phrases import Phrase
from wikisaga.content.relations._reader import Arguments, Hit, Mention, SentenceReader
from wikisaga.content.relations._records import EntityKind, Predicate
from wikisaga.content.relations._tokens import NOMINAL, Tag, Token

__all__ = ["Found", "SentenceFindings", "read_sentence"]

_BASE = {"verb": 0.9, "passive": 0.85, "inverse": 0.85, "noun": 0.85}
_APPOSITION_ENDS = frozenset({",", ")", ".", ";", ":", "—", "–"})
_HEARST_INTRODUCERS = (("such", "as"), ("including",), ("like",), ("e.g",), ("for", "example"))


@dataclass(frozen=True, slots=True)
class Found:
    """A typed relation as one sentence states it."""

    subject: Mention
    predicate: Predicate
    object: Mention
    method: str
    confidence: float


@dataclass(frozen=True, slots=True)
class SentenceFindings:
    """Everything one sentence gives: its named mentions, its relations, the types it
    states (entity key → type noun)."""

    mentions: tuple[Mention, ...] = ()
    found: tuple[Found, ...] = ()
    types: tuple[tuple[str, str], ...] = ()


def read_sentence(tokens: tuple[Token, ...], topic: str | None) -> SentenceFindings:
    """Named mentions, typed relations and stated types of one tokenised sentence."""
    if not tokens:
        return SentenceFindings()
    reader = SentenceReader(tokens, topic)
    found: list[Found] = []
    types: list[tuple[str, str]] = []
    if tokens[-1].lower != "?":
        for hit in reader.hits:
            found.extend(_trigger(reader, hit))
        for index in range(len(tokens)):
            if reader.copula_at(index):
                found.extend(_copula(reader, index, types))
        found.extend(_appositive(reader, types))
        found.extend(_such_as(reader, types))
    mentions = reader.named_mentions()
    for mention in mentions:
        if mention.type is not None:
            types.append((mention.key, mention.type))
    return SentenceFindings(tuple(mentions), _best(found), tuple(types))


def _best(found: list[Found]) -> tuple[Found, ...]:
    """One finding per (subject, predicate, object): the most confident, then the first."""
    kept: dict[tuple[str, Predicate, str], Found] = {}
    for item in found:
        if item.subject.key == item.object.key:
            continue
        key = (item.subject.key, item.predicate, item.object.key)
        if key not in kept or item.confidence > kept[key].confidence:
            kept[key] = item
    return tuple(kept.values())


def _pairs(
    left: Arguments, right: Arguments, predicate: Predicate, method: str, base: float
) -> list[Found]:
    if left.negated or right.negated or not left or not right:
        return []
    confidence = round(base * left.factor * right.factor, 3)
    return [
        Found(subject, predicate, obj, method, confidence)
        for subject in left.mentions
        for obj in right.mentions
    ]


def _trigger(reader: SentenceReader, hit: Hit) -> list[Found]:
    frame = hit.trigger.frame
    predicate = hit.trigger.predicate
    right = reader.objects(hit.end)
    if right.how == "support":
        predicate = Predicate.SUPPORTS
    if frame == "noun":
        det = hit.start - 1
        while det >= 0 and reader.tokens[det].tag is not Tag.DET:
            det -= 1
        if det < 0:  # "X is part of Y": no determiner
            left = reader.subjects(hit.start)
            return _pairs(left, right, predicate, "noun", _BASE["noun"])
        before = det - 1
        if before >= 0 and reader.tokens[before].lower in (",", "("):
            left = _appositive_subject(reader, before)
            return _pairs(left, right, predicate, "apposition", 0.8)
        left = reader.subjects(det)
        return _pairs(left, right, predicate, "noun", _BASE["noun"])
    left = reader.subjects(hit.start)
    if frame == "inverse":
        return _pairs(right, left, predicate, "inverse", _BASE["inverse"])
    return _pairs(left, right, predicate, frame, _BASE[frame])


def _appositive_subject(reader: SentenceReader, comma: int) -> Arguments:
    """The name before ``comma`` in "X, a Y ...", or nothing."""
    args = Arguments()
    phrase = reader.ending_at.get(comma)
    if phrase is None:
        return args
    mention = reader.mention(phrase)
    if mention is not None and mention.kind is not EntityKind.PHRASE:
        args.mentions.append(mention)
    return args


def _copula(reader: SentenceReader, index: int, types: list[tuple[str, str]]) -> list[Found]:
    """X is a Y / X is one of the Ys → X is_a Y."""
    tokens = reader.tokens
    j = index + 1
    while j < len(tokens) and tokens[j].tag is Tag.ADV:
        j += 1
    if j >= len(tokens) or tokens[j].tag is Tag.NEG or j in reader.hit_at:
        return []
    base = 0.9
    if tokens[j].lower == "one" and j + 1 < len(tokens) and tokens[j + 1].lower == "of":
        j += 2
        base = 0.8
    elif tokens[j].tag is not Tag.DET or tokens[j].lower not in ("a", "an", "the"):
        return []
    phrase = reader.starting_at.get(j)
    if phrase is None:
        return []
    hit = reader.hit_at.get(phrase.end)
    if hit is not None and hit.trigger.frame == "noun":
        return []  # "X is a wrapper around Y": the relational noun speaks
    if phrase.determiner == "the":
        base -= 0.05
    right = reader.objects(j)
    left = reader.subjects(index)
    found = _pairs(left, right, Predicate.IS_A, "copula", base)
    found = [f for f in found if f.object.kind is not EntityKind.CODE]
    for item in found:
        head = item.object.key.rsplit(" ", 1)[-1]
        if head in lexicon().type_nouns:
            types.append((item.subject.key, head))
    return found


def _appositive(reader: SentenceReader, types: list[tuple[str, str]]) -> list[Found]:
    """X, a Y, ... / X (a Y) → X is_a Y."""
    tokens = reader.tokens
    found: list[Found] = []
    for phrase in reader.phrases:
        comma = phrase.end
        det = comma + 1
        if det >= len(tokens) or tokens[comma].lower not in (",", "("):
            continue
        if tokens[det].tag is not Tag.DET or tokens[det].lower not in ("a", "an"):
            continue
        described = reader.starting_at.get(det)
        if described is None:
            continue
        hit = reader.hit_at.get(described.end)
        if hit is not None and hit.trigger.frame == "noun":
            continue  # "X, a wrapper around Y": the relational noun speaks
        after = tokens[described.end] if described.end < len(tokens) else None
        if not (
            after is None
            or after.lower in _APPOSITION_ENDS
            or after.tag in (Tag.VERB, Tag.REL)
            or hit is not None
        ):
            continue
        subject = reader.mention(phrase)
        obj = reader.mention(described)
        if subject is None or obj is None or subject.kind is EntityKind.PHRASE:
            continue
        if phrase.start > 0 and tokens[phrase.start - 1].tag is Tag.PREP:
            continue
        found.append(Found(subject, Predicate.IS_A, obj, "appositive", 0.75))
        head = obj.key.rsplit(" ", 1)[-1]
        if head in lexicon().type_nouns:
            types.append((subject.key, head))
    return found


def _introducer(tokens: tuple[Token, ...], at: int) -> int:
    """The index after "such as" / "including" / "like" at ``at`` (``at`` if none)."""
    i = at + 1 if at < len(tokens) and tokens[at].lower == "," else at
    for words in _HEARST_INTRODUCERS:
        if tuple(t.lower for t in tokens[i : i + len(words)]) == words:
            after = i + len(words)
            if after < len(tokens) and tokens[after].lower == ",":
                after += 1
            return after
    return at


def _such_as(reader: SentenceReader, types: list[tuple[str, str]]) -> list[Found]:
    """Ys such as X and Z / Ys including X / X and other Ys → X is_a Y."""
    tokens = reader.tokens
    found: list[Found] = []
    lex = lexicon()
    for phrase in reader.phrases:
        general = _general(reader, phrase)
        if general is None:
            continue
        start = _introducer(tokens, phrase.end)
        if start != phrase.end:
            examples = reader.objects(start, clauses=False)
            for example in examples.mentions:
                if example.kind is not EntityKind.PHRASE and not examples.negated:
                    found.append(Found(example, Predicate.IS_A, general, "such_as", 0.7))
        if phrase.start >= 2 and tokens[phrase.start].lower == "other":
            conj = phrase.start - 1
            if tokens[conj].lower in ("and", "or"):
                named = reader.ending_at.get(conj)
                mention = reader.mention(named) if named is not None else None
                if mention is not None and mention.kind is not EntityKind.PHRASE:
                    found.append(Found(mention, Predicate.IS_A, general, "such_as", 0.7))
    for item in found:
        head = item.object.key.rsplit(" ", 1)[-1]
        if head in lex.type_nouns:
            types.append((item.subject.key, head))
    return found


def _general(reader: SentenceReader, phrase: Phrase) -> Mention | None:
    """The class a Hearst pattern names: a plural common noun phrase."""
    head = phrase.head
    if head.tag not in NOMINAL or head.tag is not Tag.NOUN or singular(head.lower) == head.lower:
        return None
    mention = reader.mention(phrase)
    if mention is None or mention.kind is not EntityKind.PHRASE:
        return None
    return mention
