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
the subject of the copula it hangs from, "this library" stands for the document's topic
(×0.9) and a clause-initial "it" for the previous sentence's one subject, else the topic
(×0.8; nothing after several subjects, or after several names and no subject).
"includes"/"contains" give ``provides`` at half the confidence, under the default
threshold. A negation between subject and predicate, or
right after it ("X does not use Y", "X never uses Y", "X no longer depends on Y", "X
requires no Y"), gives nothing. A hedge anywhere before the predicate ("may", "might",
"could", "if") multiplies the confidence by 0.4, which puts it under the default
threshold; "can", "optionally" and "will" by 0.85. Questions give nothing, and so do
sentences with more function words of other languages than of English.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace

from wikisaga.content.relations._arguments import Arguments, objects, subjects
from wikisaga.content.relations._lexicon import lexicon, singular
from wikisaga.content.relations._phrases import Phrase
from wikisaga.content.relations._reader import Hit, Mention, SentenceReader
from wikisaga.content.relations._records import EntityKind, Predicate
from wikisaga.content.relations._tokens import NOMINAL, WH_ADVERBS, Tag, Token

__all__ = ["Found", "SentenceFindings", "read_sentence"]

_BASE = {"verb": 0.9, "agent": 0.85, "passive": 0.85, "inverse": 0.85, "noun": 0.85}
_AMBIGUOUS = frozenset({("includes",), ("include",), ("contains",), ("contain",)})
"""Verbs that state ``provides`` only sometimes: what a thing includes or contains is as
often a part, an example or a property ("strings only contain ASCII characters", "the
distribution contains the sources") as something it offers. Their triples get half the
confidence (0.45), under the default threshold; ``min_confidence=0`` keeps them."""
_AMBIGUOUS_FACTOR = 0.5
_RUNS_ON = frozenset({("runs", "on"), ("run", "on")})
"""A program "runs on" a platform (an operating system, an interpreter: ``supports``) or
on another program or service that hosts it ("PyPI runs on Warehouse": ``depends_on``,
a foundation, never ``supports``)."""
_DEFINITE = frozenset({"the", "this", "that", "these", "those"})
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
    subjects: tuple[Mention, ...] = ()
    """The sentence's grammatical subjects, what an "it" in the next one may stand for."""
    abbreviations: tuple[tuple[str, str], ...] = ()
    """``(short, spelt out)`` keys of one entity written two ways: "the Python Package
    Index (PyPI)", "PyPI is the Python Package Index"."""


def _abbreviates(short: str, words: Sequence[Token]) -> bool:
    """Whether ``short`` is made of the initials of ``words`` (their function words left
    out): "PyPI" of "Python Package Index", "npm" of "Node Package Manager"."""
    capitals = [c for c in short if c.isupper()]
    letters = capitals if len(capitals) >= 2 else [c for c in short if c.isalpha()]
    initials = [w.text[0] for w in words if w.tag not in _FUNCTION_TAGS and w.text[0].isalpha()]
    return len(initials) >= 2 and [c.lower() for c in letters] == [c.lower() for c in initials]


def _abbreviations(reader: SentenceReader) -> tuple[tuple[str, str], ...]:
    """The short forms the sentence spells out (see :attr:`SentenceFindings.abbreviations`):
    a name with its initials in brackets after it, or a copula between the two."""
    found: list[tuple[str, str]] = []
    for phrase in reader.phrases:
        long = reader.mention(phrase)
        if long is None or long.kind is EntityKind.PHRASE:
            continue
        for short in (_bracketed_after(reader, phrase), _copula_before(reader, phrase)):
            if short is not None and _abbreviates(reader.tokens[short.start].text, phrase.words):
                named = reader.mention(short)
                if named is not None:
                    found.append((named.key, long.key))
    return tuple(found)


def _bracketed_after(reader: SentenceReader, phrase: Phrase) -> Phrase | None:
    """The one-word phrase in brackets right after ``phrase``: "the Python Package Index
    (PyPI)"."""
    tokens, after = reader.tokens, phrase.end
    if after + 2 >= len(tokens) or tokens[after].lower != "(" or tokens[after + 2].lower != ")":
        return None
    short = reader.starting_at.get(after + 1)
    return short if short is not None and short.end == after + 2 else None


def _copula_before(reader: SentenceReader, phrase: Phrase) -> Phrase | None:
    """The one-word subject of "is" right before ``phrase``: "PyPI is the Python Package
    Index"."""
    before = phrase.start - 1
    if before < 1 or not reader.copula_at(before) or reader.tokens[before].lower != "is":
        return None
    subject = reader.ending_at.get(before)
    return subject if subject is not None and subject.end - subject.start == 1 else None


def read_sentence(
    tokens: tuple[Token, ...], topic: str | None, previous: tuple[Mention, ...] | None = None
) -> SentenceFindings:
    """Named mentions, typed relations and stated types of one tokenised sentence;
    ``previous`` is the subjects of the sentence before (``None`` if there is none)."""
    letters = {t.text[0] for t in tokens if _VARIABLE.fullmatch(t.text)}
    tokens = _unquoted(tokens, topic)
    if not tokens or _title_cased(tokens):
        return SentenceFindings()
    reader = SentenceReader(tokens, topic, previous)
    found: list[Found] = []
    types: list[tuple[str, str]] = []
    if not _question(tokens) and _english(tokens):
        for hit in reader.hits:
            if hit.trigger.frame != "verb" or not _inside_noun_phrase(reader, hit):
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
    best = _best(found)
    variables = _variables(
        [*mentions, *(m for f in best for m in (f.subject, f.object))], quoted=letters
    )
    if variables:
        mentions = [m for m in mentions if m.key not in variables]
        best = tuple(
            f for f in best if f.subject.key not in variables and f.object.key not in variables
        )
        types = [item for item in types if item[0] not in variables]
    subjects = _subjects(reader, best)
    topic_mention = reader.topic_mention() if not subjects and len(mentions) > 1 else None
    topic_key = topic_mention.key if topic_mention is not None else ""
    named = {m.key: m for m in mentions if m.key != topic_key} if not subjects else {}
    if len(named) > 1 and tokens[0].tag is not Tag.VERB:
        # No subject found, but several names ("The first ASGI server implementation,
        # originally developed to power Django Channels, is the Daphne webserver."): the
        # "it" after it is one of them, which no reading here can tell, and not the
        # document's topic. Given them all, an "it" stands for nothing. (An instruction,
        # "Install it from PyPI with pip.", has no subject to name: the topic stays.)
        subjects = tuple(named.values())
    return SentenceFindings(tuple(mentions), best, tuple(types), subjects, _abbreviations(reader))


_FUNCTION_TAGS = frozenset(
    {Tag.DET, Tag.PREP, Tag.CONJ, Tag.AUX, Tag.MODAL, Tag.PRON, Tag.REL, Tag.NEG, Tag.POSS}
)
_MIN_TITLE_WORDS = 3


def _title_cased(tokens: tuple[Token, ...]) -> bool:
    """Whether the text is a title with every word capitalised ("External Control of
    System or Configuration Setting (CWE-15)", a heading): its capitals say nothing of
    which words are names, and it states nothing. A sentence ends as one ("PEP 517 is a
    Python Enhancement Proposal.")."""
    words = [
        t
        for t in tokens
        if t.tag not in _FUNCTION_TAGS and t.tag is not Tag.PUNCT and t.text[0].isalpha()
    ]
    return (
        tokens[-1].text not in _SENTENCE_ENDS
        and len(words) >= _MIN_TITLE_WORDS
        and all(t.text[0].isupper() for t in words)
    )


_SENTENCE_ENDS = frozenset({".", "!", "?", "…"})


def _unquoted(tokens: tuple[Token, ...], topic: str | None) -> tuple[Token, ...]:
    """``tokens`` without the sentences they quote.

    A span in quotation marks that states a relation of its own is an example the
    sentence mentions, not something it says: the type rule "the most often stated of
    "X is a library/database/…"", or "("Open Collective is a funding platform. It
    provides …" is about Open Collective)". Quoted names and terms (the term "saga")
    stay. A quotation the sentence splitter cut in two runs to the end of the first part
    (an opening mark left open) and from the start of the second (a closing mark
    without its opening one).
    """
    spans = _quoted_spans(tokens)
    if not spans:
        return tokens
    dropped: set[int] = set()
    for start, end in spans:
        inner = tokens[start:end]
        if len(inner) >= _MIN_QUOTED_CLAUSE and _states_relation(inner, topic):
            dropped.update(range(max(start - 1, 0), min(end + 1, len(tokens))))
    if not dropped:
        return tokens
    return tuple(token for index, token in enumerate(tokens) if index not in dropped)


_MIN_QUOTED_CLAUSE = 3  # "X uses Y": the fewest tokens a quoted relation takes
_OPENING, _CLOSING, _STRAIGHT = "“", "”", '"'
_BRACKETS = frozenset("([{")  # what an opening mark may follow without closing anything


def _quoted_spans(tokens: tuple[Token, ...]) -> list[tuple[int, int]]:
    """The ``[start, end)`` token ranges inside quotation marks (the marks excluded).

    A straight mark opens when it is attached to the word after it and not to the one
    before (an opening bracket is no word), and closes when attached to the word before
    only; one attached to both or neither closes an open quotation, else it is no
    quotation mark (a stray one)."""
    spans: list[tuple[int, int]] = []
    opened: int | None = None
    last = len(tokens) - 1
    for index, token in enumerate(tokens):
        if token.text not in (_OPENING, _CLOSING, _STRAIGHT):
            continue
        before = (
            index > 0
            and tokens[index - 1].end == token.start
            and tokens[index - 1].text not in _BRACKETS
        )
        after = index < last and tokens[index + 1].start == token.end
        if token.text != _STRAIGHT:
            closes = token.text == _CLOSING
        elif before != after:
            closes = before
        elif opened is not None:
            closes = True
        else:
            continue
        if not closes:
            opened = index + 1
        elif opened is not None:
            spans.append((opened, index))
            opened = None
        elif not spans:
            spans.append((0, index))  # the end of a quotation begun in the sentence before
    if opened is not None:
        spans.append((opened, len(tokens)))  # the quotation goes on in the next sentence
    return spans


def _states_relation(tokens: tuple[Token, ...], topic: str | None) -> bool:
    reader = SentenceReader(tokens, topic, None)
    return bool(reader.hits) or any(reader.copula_at(i) for i in range(len(tokens)))


_VARIABLE = re.compile(r"[A-Z]s?")


def _variables(mentions: Iterable[Mention], *, quoted: Collection[str] = ()) -> set[str]:
    """The keys of the placeholders a sentence states a rule with ("X uses Y and Z uses
    W", "Ys such as X"): capital letters standing alone, when it names two or more of
    them, counting those of its quoted examples (``quoted``: where "X is the Y" is a
    proper name). One letter alone may be a name ("written in C")."""
    letters: dict[str, set[str]] = {}
    for mention in mentions:
        if _VARIABLE.fullmatch(mention.name):
            letters.setdefault(mention.name[0], set()).add(mention.key)
    if len(letters.keys() | set(quoted)) < 2:
        return set()
    return {key for keys in letters.values() for key in keys}


def _subjects(reader: SentenceReader, found: tuple[Found, ...]) -> tuple[Mention, ...]:
    """The grammatical subjects of a sentence: of its relations (the object of a passive
    with an agent or of "Y develops X"; not the examples of "Ys such as X"), else the name
    it opens with."""
    subjects: dict[str, Mention] = {}
    for item in found:
        if item.method == "such_as":
            continue
        mention = item.object if item.method in ("inverse", "agent") else item.subject
        subjects.setdefault(mention.key, mention)
    if not subjects:
        for leading in reader.leading_subjects():
            subjects.setdefault(leading.key, leading)
    return tuple(subjects.values())


# What opens a question, asked ("What is Black?") or as a heading ("How Black wraps lines").
_QUESTION_WORDS = WH_ADVERBS | {"what"}


def _question(tokens: tuple[Token, ...]) -> bool:
    """Whether a sentence asks rather than states: it ends with "?" or opens with "how",
    "why" or "what" ("How Black wraps lines", a heading, says nothing of Black)."""
    return tokens[-1].lower == "?" or tokens[0].lower in _QUESTION_WORDS


def _english(tokens: tuple[Token, ...]) -> bool:
    """Whether a sentence reads as English: no more function words of other languages
    ("Ce module utilise Python") than English ones."""
    lex = lexicon()
    english = sum(1 for t in tokens if lex.is_function_word(t.lower))
    foreign = sum(1 for t in tokens if t.lower in lex.foreign_words)
    return foreign <= english


def _best(found: list[Found]) -> tuple[Found, ...]:
    """One finding per (subject, predicate, object): the most confident, then the first;
    none from a thing to itself, in the singular or the plural."""
    kept: dict[tuple[str, Predicate, str], Found] = {}
    for item in found:
        if singular(item.subject.key) == singular(item.object.key):
            continue  # "vulnerabilities" is no kind of "vulnerability": one thing
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
    # Only what a thing provides can name another relation: "provides an implementation
    # of Y" implements Y, but "uses a C extension for speed" extends nothing.
    relational = hit.trigger.predicate is Predicate.PROVIDES
    right = objects(reader, hit.end, relational=relational)
    joined = reader.hit_at.get(hit.end + 1)
    if not right and joined is not None and joined.trigger.frame == frame:
        right = objects(reader, joined.end, relational=relational)  # "develops and supports"
    if not right and frame == "verb":
        right = _gap_object(reader, hit)
    predicate = right.predicate or hit.trigger.predicate
    if predicate is Predicate.WRITTEN_IN:
        right.mentions = [m for m in right.mentions if _language_like(m)]
    if frame == "noun":
        det = hit.start - 1
        while det >= 0 and reader.tokens[det].tag is not Tag.DET:
            det -= 1
        if det < 0:  # "X is part of Y": no determiner
            left = subjects(reader, hit.start)
            return _pairs(left, right, predicate, "noun", _BASE["noun"])
        before = det - 1
        if before >= 0 and reader.tokens[before].lower in (",", "("):
            left = _appositive_subject(reader, before)
            return _pairs(left, right, predicate, "apposition", 0.8)
        left = subjects(reader, det)
        return _pairs(left, right, predicate, "noun", _BASE["noun"])
    left = subjects(reader, hit.start, reduced=frame in ("passive", "inverse"))
    if predicate is Predicate.CREATED_BY:
        who = right if frame == "passive" else left
        who.mentions = [m for m in who.mentions if m.kind is not EntityKind.CODE]
    base = _BASE[frame]
    if hit.trigger.words in _AMBIGUOUS and predicate is hit.trigger.predicate:
        base *= _AMBIGUOUS_FACTOR
    if frame in ("inverse", "agent"):
        return _pairs(right, left, predicate, frame, base)
    if hit.trigger.words in _RUNS_ON and right.predicate is None:
        return _runs_on(left, right, base)
    return _pairs(left, right, predicate, frame, base)


def _inside_noun_phrase(reader: SentenceReader, hit: Hit) -> bool:
    """Whether a verb's bare form is a noun in a compound: "a tier-based support system"
    (one thing, after "a", cannot "support"; "a few packages support" and "a client and a
    server support" can)."""
    if reader.tokens[hit.start].lower.endswith("s"):
        return False
    phrase = reader.ending_at.get(hit.start)
    if phrase is None or phrase.head.lower.endswith("s") or phrase.words[0].lower not in _A:
        return False
    # "a client and a server support": the last of several.
    return phrase.start == 0 or reader.tokens[phrase.start - 1].lower not in _JOINS


_A = frozenset({"a", "an"})
_JOINS = frozenset({"and", "or", "nor", ",", "&"})


def _runs_on(left: Arguments, right: Arguments, base: float) -> list[Found]:
    """ "X runs on Linux and PyPy" (supports) / "X runs on Warehouse" (depends_on); on
    something that is no name ("a bar runs on standard error"), nothing."""
    on_platform = [m for m in right.mentions if _platform_like(m)]
    hosted = [
        m for m in right.mentions if not _platform_like(m) and m.kind is not EntityKind.PHRASE
    ]
    return [
        *_pairs(left, replace(right, mentions=on_platform), Predicate.SUPPORTS, "verb", base),
        *_pairs(left, replace(right, mentions=hosted), Predicate.DEPENDS_ON, "verb", base),
    ]


def _platform_like(mention: Mention) -> bool:
    """A language, an operating system, an interpreter or a runtime (``data/platforms.txt``)."""
    lex = lexicon()
    first = mention.key.split()[0]
    return any(word in lex.languages or word in lex.platforms for word in (mention.key, first))


def _gap_object(reader: SentenceReader, hit: Hit) -> Arguments:
    """The object a relative clause leaves out: "the pooling that it provides" says that
    it provides the pooling."""
    args = Arguments()
    subject_at = reader.skip_back(hit.start)
    if subject_at < 0:
        return args
    subject = reader.ending_at.get(subject_at + 1)
    start = subject.start if subject is not None else subject_at
    if start < 1 or reader.tokens[start - 1].tag is not Tag.REL:
        return args
    antecedent = reader.ending_at.get(start - 1)
    mention = reader.mention(antecedent) if antecedent is not None else None
    if mention is not None:
        args.mentions.append(mention)
        args.factor = 0.9
    return args


def _language_like(mention: Mention) -> bool:
    """What something can be written in: a listed language, or a short name."""
    if mention.key in lexicon().languages:
        return True
    return mention.kind is not EntityKind.PHRASE and " " not in mention.key


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


def _copula_object(reader: SentenceReader, index: int) -> tuple[Phrase, float] | None:
    """The phrase after the copula at ``index`` that says what the subject is, and the
    pattern's confidence: "is a Y" 0.9, "is the Y" 0.85, "is one of the Ys" 0.8."""
    tokens = reader.tokens
    j = index + 1
    while j < len(tokens) and tokens[j].tag is Tag.ADV:
        j += 1
    # After "the more public a library is", what follows says how much, not what.
    stop = j >= len(tokens) or tokens[j].tag is Tag.NEG or j in reader.hit_at
    if stop or _correlative(tokens, index):
        return None
    base = 0.9
    if reader.words_at(j, ("one", "of")):
        j, base = j + 2, 0.8
    elif tokens[j].lower not in ("a", "an", "the") or _degree(tokens, j + 1):
        return None  # and "is a bit confused", "a little slower": how much, not what
    phrase = reader.starting_at.get(j)
    if phrase is None:
        return None
    hit = reader.hit_at.get(phrase.end)
    if hit is not None and hit.trigger.frame == "noun":
        return None  # "X is a wrapper around Y": the relational noun speaks
    if phrase.determiner == "the":
        # "X is the core of Y", "the beneficiary of": a role, not a kind; "SASL is the
        # Simple Authentication and Security Layer": what it stands for.
        if reader.words_at(phrase.end, ("of",)) or _spelt_out_name(tokens, j + 1):
            return None
        base -= 0.05
    return phrase, base


_DEGREE_NOUNS = frozenset({"bit", "little", "lot", "tad"})


_CORRELATIVES = frozenset({"more", "less", "fewer", "better", "worse", "sooner", "later"})


def _correlative(tokens: tuple[Token, ...], copula: int) -> bool:
    """Whether the copula at ``copula`` ends the first half of "the more ..., the more
    ...": "the" and a comparative before it ("the more public a library is the better
    ..."), where what follows the copula says how much, not what."""
    return any(
        tokens[k].lower == "the" and tokens[k + 1].lower in _CORRELATIVES for k in range(copula - 1)
    )


def _degree(tokens: tuple[Token, ...], at: int) -> bool:
    """Whether the words at ``at`` say a degree ("bit confused", "little slower", "lot
    more"): such a word before an adjective, an adverb or a participle, not before the
    noun it describes ("a little library", "a bit mask")."""
    if at + 1 >= len(tokens) or tokens[at].lower not in _DEGREE_NOUNS:
        return False
    after = tokens[at + 1]
    return after.tag in (Tag.ADJ, Tag.ADV) or after.lower.endswith("ed")


def _spelt_out_name(tokens: tuple[Token, ...], start: int) -> bool:
    """Whether the words from ``start`` to the clause's next mark are one proper name of
    two words or more ("the Simple Authentication and Security Layer"): what the subject
    stands for, not a kind of thing it is."""
    words = []
    for token in tokens[start:]:
        if token.tag is Tag.PUNCT:
            break
        if token.tag not in _FUNCTION_TAGS:
            words.append(token)
    return len(words) >= 2 and all(t.text[0].isupper() for t in words)


def _copula(reader: SentenceReader, index: int, types: list[tuple[str, str]]) -> list[Found]:
    """X is a Y / X is one of the Ys → X is_a Y."""
    described = _copula_object(reader, index)
    if described is None:
        return []
    phrase, base = described
    left = subjects(reader, index)
    if not left.how and _definite_description(reader, index):
        return []  # "The check is a unique index": which check, the sentence before says
    if not left.how and _possessed(reader, index):
        return []  # "A topic's title is a name": a property of the topic, no entity
    if left.how == "topic" and reader.words_at(phrase.end, ("to",)):
        return []  # "It is an occasional request to support ...": "it" is no entity
    if _after_restrictive_clause(reader, index):
        return []  # "The system that enables a URL map is ...": the system is, not the map
    found = _pairs(left, objects(reader, phrase.start), Predicate.IS_A, "copula", base)
    # "Python 3.10 is the minimal supported Python version" says nothing of a kind
    found = [f for f in found if f.subject.key not in f.object.key.split()[:-1]]
    for item in found:
        head = item.object.key.rsplit(" ", 1)[-1]
        if head in lexicon().type_nouns:
            types.append((item.subject.key, head))
    return found


def _after_restrictive_clause(reader: SentenceReader, index: int) -> bool:
    """Whether the copula at ``index`` ends a relative clause with no comma ("The system
    that enables having a central URL map is the add_url_rule function"): its subject is
    the phrase before the relative pronoun, not the one right before the copula."""
    tokens = reader.tokens
    start = reader.clause_start(index)
    for r in range(start + 1, index):
        if tokens[r].tag is Tag.REL and tokens[r - 1].lower != ",":
            inside = range(r + 1, index)
            acts = any(tokens[k].tag in _VERBAL or k in reader.hit_at for k in inside) or (
                tokens[r + 1].tag is Tag.PRON  # "the tool that you install is ..."
            )
            return acts and all(tokens[k].lower != "," for k in inside)
    return False


_VERBAL = frozenset({Tag.VERB, Tag.AUX, Tag.MODAL})


def _definite_description(reader: SentenceReader, index: int) -> bool:
    """Whether the subject before the copula at ``index`` is a common noun phrase that
    points back ("the mechanism", "this file", "these options"): it names no entity of
    its own, and what it is said to be is no kind of anything."""
    subject = reader.ending_at.get(reader.skip_back(index) + 1)
    if subject is None or subject.determiner not in _DEFINITE:
        return False
    mention = reader.mention(subject)
    return mention is not None and mention.kind is EntityKind.PHRASE


def _possessed(reader: SentenceReader, index: int) -> bool:
    """Whether the subject before the copula at ``index`` is a common noun owned by
    another phrase ("a topic's title", "a step's outcome")."""
    subject = reader.ending_at.get(reader.skip_back(index) + 1)
    if subject is None or subject.start < 1 or reader.tokens[subject.start - 1].tag is not Tag.POSS:
        return False
    mention = reader.mention(subject)
    return mention is not None and mention.kind is EntityKind.PHRASE


def _appositive(reader: SentenceReader, types: list[tuple[str, str]]) -> list[Found]:
    """X, a Y, ... / X (a Y) → X is_a Y."""
    tokens = reader.tokens
    found: list[Found] = []
    for phrase in reader.phrases:
        comma = phrase.end
        if comma < len(tokens) and tokens[comma].lower == "(":
            closing = reader.closing(comma)  # "MurmurHash (MurmurHash3), a set of ..."
            if (
                closing is not None
                and closing + 1 < len(tokens)
                and tokens[closing + 1].lower == ","
            ):
                comma = closing + 1
        det = comma + 1
        if det >= len(tokens) or tokens[comma].lower not in (",", "("):
            continue
        if tokens[det].tag is not Tag.DET or tokens[det].lower not in ("a", "an", "our"):
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
        if phrase.determiner in ("a", "an") or _listed_after(reader, phrase):
            continue  # "(a GC pause, a slow database)": a list, not an apposition
        found.append(Found(subject, Predicate.IS_A, obj, "appositive", 0.75))
        head = obj.key.rsplit(" ", 1)[-1]
        if head in lexicon().type_nouns:
            types.append((subject.key, head))
    return found


def _listed_after(reader: SentenceReader, phrase: Phrase) -> bool:
    """Whether ``phrase`` follows "a Y," or "an Y,": an item of a list of indefinite
    phrases ("an error status, malformed JSON, a failed check")."""
    comma = phrase.start - 1
    if comma < 0 or reader.tokens[comma].lower != ",":
        return False
    before = reader.ending_at.get(comma)
    return before is not None and before.determiner in ("a", "an")


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
    """Ys such as X and Z / Ys like X / Ys including X / X, Y and other Ys → X is_a Y.
    Examples must be names, except after "such as" (features such as type inference)."""
    tokens = reader.tokens
    found: list[Found] = []
    lex = lexicon()
    for phrase in reader.phrases:
        start = _introducer(tokens, phrase.end)
        loose = start != phrase.end and tokens[start - 1].lower == "as"
        general = _general(reader, phrase, singular_too=loose)
        if general is None:
            continue
        if start != phrase.end and _attached_below(tokens, phrase):
            continue
        quoted = start < len(tokens) and tokens[start].lower in ('"', "“")
        if quoted and singular(phrase.head.lower) in _WORD_CLASSES:
            continue
        if start != phrase.end:
            examples = objects(reader, start, clauses=False)
            named = any(e.kind is not EntityKind.PHRASE for e in examples.mentions)
            if not examples.negated and (named or tokens[start - 1].lower in ("as", "like")):
                found.extend(
                    Found(example, Predicate.IS_A, general, "such_as", 0.7)
                    for example in examples.mentions
                )
        if phrase.start >= 2 and tokens[phrase.start].lower == "other":
            found.extend(
                Found(example, Predicate.IS_A, general, "such_as", 0.7)
                for example in _others(reader, phrase.start - 1)
            )
    for item in found:
        head = item.object.key.rsplit(" ", 1)[-1]
        if head in lex.type_nouns:
            types.append((item.subject.key, head))
    return found


# Prepositions whose object rarely takes the examples: after "with", "to" or "in" they
# are mostly the object's own ("clash with target labels, such as region").
_ATTACHING = frozenset({"of", "on", "over"})
# What "of" joins to the class it names: "types of applications, like a REST API".
_KINDS_OF = frozenset({"type", "kind", "sort", "form", "variety", "category"})


def _attached_below(tokens: tuple[Token, ...], phrase: Phrase) -> bool:
    """Whether ", such as" after ``phrase`` may be said of a noun before it instead:
    ``phrase`` is the object of a preposition after a noun, and a comma sets the
    examples off ("arithmetic operations on histograms, such as addition")."""
    if phrase.end >= len(tokens) or tokens[phrase.end].lower != ",":
        return False
    before = phrase.start - 1
    if before < 1 or tokens[before].lower not in _ATTACHING:
        return False
    noun = tokens[before - 1]
    return noun.tag in NOMINAL and singular(noun.lower) not in _KINDS_OF


def _others(reader: SentenceReader, conj: int) -> list[Mention]:
    """The names listed before "and other" / "or other" at ``conj``."""
    tokens = reader.tokens
    if tokens[conj].lower not in ("and", "or"):
        return []
    found: list[Mention] = []
    j = conj
    while j > 0:
        item = reader.ending_at.get(j)
        mention = reader.mention(item) if item is not None else None
        if item is None or mention is None:
            break
        found.append(mention)
        j = item.start - 1
        if j < 0 or tokens[j].lower != ",":
            break
    return found


# Heads of a Hearst pattern that say nothing of what the examples are: "things like
# request durations".
_NO_CLASS = frozenset({"thing", "stuff", "something"})
# Heads that speak of words: before quoted examples ('substrings like "metric"') it is
# the words that are meant, not the things they name.
_WORD_CLASSES = frozenset({"word", "substring", "string", "term", "character", "spelling"})


def _general(reader: SentenceReader, phrase: Phrase, *, singular_too: bool) -> Mention | None:
    """The class a Hearst pattern names: a plural common noun phrase (vague ones too:
    "features such as type inference" says what type inference is), or a singular one
    before "such as" ("an exception such as TypeError")."""
    head = phrase.head
    if head.tag is not Tag.NOUN or (singular(head.lower) == head.lower and not singular_too):
        return None
    if singular(head.lower) in _NO_CLASS:
        return None
    mention = reader.mention(phrase, vague=True)
    if mention is None or mention.kind is not EntityKind.PHRASE:
        return None
    words = mention.key.split()
    return replace(mention, key=" ".join([*words[:-1], singular(words[-1])]))
