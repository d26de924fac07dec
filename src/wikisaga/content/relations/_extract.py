"""The extractor: documents of prose in, entities and triples out.

For every sentence of every document (the document's own sentence spans, or
:func:`split_sentences` of its text), the patterns give typed triples and the names it
mentions. Entities are then merged over the corpus: one key per entity (see
:func:`normalise_key`), keys that differ only in their separators (``pydantic-core``,
``pydantic core``, ``pydantic_core``; but not ``jsonschema`` and ``json schema``) taken
for one, the most frequent surface form as
the entity's name and the most often stated type as its type. Last, co-occurrence adds
``related_to`` triples (:mod:`._cooccurrence`).

The output depends on nothing but the input: documents are read in ``doc_id`` order,
every collection is sorted on explicit keys, and ties are broken by key.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from wikisaga.content.relations._cooccurrence import SentenceKeys, related
from wikisaga.content.relations._markup import strip_markup
from wikisaga.content.relations._patterns import Found, read_sentence
from wikisaga.content.relations._phrases import (
    identity_key,
    named_topic,
    normalise_key,
    plural_keys,
)
from wikisaga.content.relations._reader import Mention
from wikisaga.content.relations._records import (
    Entity,
    EntityKind,
    Extraction,
    ExtractionOptions,
    Predicate,
    ProseDocument,
    Sentence,
    Triple,
)
from wikisaga.content.relations._sentences import is_shouted, split_sentences
from wikisaga.content.relations._tokens import (
    as_common,
    as_names,
    common_plurals,
    lower_case_names,
    tokenize,
)

__all__ = ["extract_relations", "prose_document"]

_KIND_RANK = {EntityKind.CODE: 0, EntityKind.NAME: 1, EntityKind.PHRASE: 2}


@dataclass(slots=True)
class _Tally:
    """What the corpus says about one key."""

    surfaces: Counter[str] = field(default_factory=Counter)
    kinds: Counter[EntityKind] = field(default_factory=Counter)
    types: Counter[str] = field(default_factory=Counter)
    doc_ids: set[str] = field(default_factory=set)

    def add(self, mention: Mention, doc_id: str) -> None:
        self.surfaces[mention.name] += 1
        self.kinds[mention.kind] += 1
        self.doc_ids.add(doc_id)


def _prefix(surface: str) -> bool:
    """Whether a surface is the prefix of other identifiers rather than a way to write a
    name: "`UVICORN_*` prefixed settings" do not spell Uvicorn, though the key of
    "UVICORN_" is Uvicorn's (``__init__`` is a name)."""
    return surface.endswith(("_", "-")) and not surface.startswith("__")


def _display(sentence: Sentence) -> str:
    return " ".join(sentence.text.replace("`", "").split())


@dataclass(slots=True)
class _Corpus:
    options: ExtractionOptions
    tallies: dict[str, _Tally] = field(default_factory=dict)
    triples: list[Triple] = field(default_factory=list)
    sentences: list[SentenceKeys] = field(default_factory=list)
    topics: set[str] = field(default_factory=set)
    """The identity keys of what the documents are about (their topics)."""
    abbreviations: set[tuple[str, str]] = field(default_factory=set)
    """``(short, spelt out)`` keys the documents say name one entity."""

    def tally(self, key: str) -> _Tally:
        return self.tallies.setdefault(key, _Tally())

    def read(self, document: ProseDocument) -> None:
        if document.topic:
            self.topics.add(identity_key(normalise_key(document.topic)))
        spans = document.sentences or split_sentences(document.text)
        limit = self.options.max_sentence_chars
        tokenized = [
            tokenize(sentence.text, sentence.start)
            if len(sentence.text) <= limit and not is_shouted(sentence.text)
            else None
            for sentence in spans
        ]
        names = lower_case_names(tokens for tokens in tokenized if tokens is not None)
        plurals = common_plurals(tokens for tokens in tokenized if tokens is not None) - names
        previous: tuple[Mention, ...] | None = None  # the subjects an "it" may stand for
        for sentence, read in zip(spans, tokenized, strict=True):
            if read is None:
                previous = ()
                continue
            tokens = as_names(read, names) if names else read
            tokens = as_common(tokens, plurals) if plurals else tokens
            findings = read_sentence(tokens, document.topic, previous)
            previous = findings.subjects
            keys: set[str] = set()
            for mention in findings.mentions:
                self.tally(mention.key).add(mention, document.doc_id)
                keys.add(mention.key)
            for key, type_word in findings.types:
                self.tally(key).types[type_word] += 1
            self.abbreviations.update(findings.abbreviations)
            for item in findings.found:
                if item.confidence < self.options.min_confidence:
                    continue
                self.triples.append(self._triple(item, document, sentence))
                for mention in (item.subject, item.object):
                    if mention.key not in keys:
                        self.tally(mention.key).add(mention, document.doc_id)
                    keys.add(mention.key)
            self.sentences.append(
                SentenceKeys(
                    frozenset(keys),
                    document.doc_id,
                    document.source_path,
                    _display(sentence),
                    sentence.start,
                    sentence.end,
                )
            )

    @staticmethod
    def _triple(item: Found, document: ProseDocument, sentence: Sentence) -> Triple:
        return Triple(
            subject=item.subject.key,
            predicate=item.predicate,
            object=item.object.key,
            doc_id=document.doc_id,
            source_path=document.source_path,
            sentence=_display(sentence),
            start=sentence.start,
            end=sentence.end,
            method=item.method,
            confidence=item.confidence,
        )

    def canonical_keys(self) -> dict[str, str]:
        """Each key's canonical form: of the keys equal up to separators, the most
        mentioned (ties: the first in order); a topic named with what it is ("the
        requests library") is the topic (:func:`named_topic`); a plural used as a common
        noun is its singular (:func:`plural_keys`)."""
        groups: dict[str, list[str]] = {}
        for key in self.tallies:
            groups.setdefault(identity_key(key), []).append(key)
        best = {
            identity: min(members, key=lambda k: (-sum(self.tallies[k].surfaces.values()), k))
            for identity, members in groups.items()
        }
        classes = {identity_key(t.object) for t in self.triples if t.predicate is Predicate.IS_A}
        canonical: dict[str, str] = {}
        for identity, members in groups.items():
            topic = named_topic(identity, self.topics, classes)
            target = best[topic] if topic in best else best[identity]
            for key in members:
                canonical[key] = target
        return self._abbreviated(_singular_where_common(canonical, self.tallies))

    def _abbreviated(self, canonical: dict[str, str]) -> dict[str, str]:
        """``canonical`` with each short form and its spelt-out name made one entity, under
        the key of the one mentioned more (the short form on a tie): "PyPI" and "the
        Python Package Index", "npm" and "Node Package Manager"."""
        mentions: Counter[str] = Counter()
        for key, tally in self.tallies.items():
            mentions[canonical[key]] += sum(tally.surfaces.values())
        for short, spelt in sorted(self.abbreviations):
            one, other = canonical.get(short), canonical.get(spelt)
            if one is None or other is None or one == other:
                continue
            keep, merged = (one, other) if mentions[one] >= mentions[other] else (other, one)
            for key, target in canonical.items():
                if target == merged:
                    canonical[key] = keep
            mentions[keep] += mentions.pop(merged)
        return canonical

    def entities(self, canonical: dict[str, str]) -> tuple[Entity, ...]:
        merged: dict[str, _Tally] = {}
        for key, tally in self.tallies.items():
            into = merged.setdefault(canonical[key], _Tally())
            into.surfaces.update(tally.surfaces)
            into.kinds.update(tally.kinds)
            into.types.update(tally.types)
            into.doc_ids |= tally.doc_ids
        entities: list[Entity] = []
        for key in sorted(merged):
            tally = merged[key]
            if not tally.surfaces:
                continue
            spellings = [s for s in tally.surfaces if not _prefix(s)] or list(tally.surfaces)
            name = min(spellings, key=lambda s: (-tally.surfaces[s], s))
            kind = min(tally.kinds, key=lambda k: (-tally.kinds[k], _KIND_RANK[k]))
            kind_word = (
                min(tally.types, key=lambda t: (-tally.types[t], t)) if tally.types else None
            )
            entities.append(
                Entity(
                    key=key,
                    name=name,
                    kind=kind,
                    type=kind_word,
                    mentions=sum(tally.surfaces.values()),
                    aliases=tuple(sorted(spellings)),
                    doc_ids=tuple(sorted(tally.doc_ids)),
                )
            )
        return tuple(entities)


def _singular_where_common(
    canonical: dict[str, str], tallies: Mapping[str, _Tally]
) -> dict[str, str]:
    """``canonical`` with each plural key used as a common noun made its singular's."""
    kinds: dict[str, Counter[EntityKind]] = {}
    surfaces: dict[str, Counter[str]] = {}
    for key, target in canonical.items():
        kinds.setdefault(target, Counter()).update(tallies[key].kinds)
        surfaces.setdefault(target, Counter()).update(tallies[key].surfaces)
    plurals = plural_keys(kinds, surfaces)
    return {key: plurals.get(target, target) for key, target in canonical.items()}


def _unique(triples: Iterable[Triple]) -> list[Triple]:
    """One triple per (subject, predicate, object, document, sentence): the most
    confident, then the first method in order."""
    best: dict[tuple[str, str, str, str, int], Triple] = {}
    for triple in sorted(triples, key=Triple.sort_key):
        key = (triple.subject, triple.predicate.value, triple.object, triple.doc_id, triple.start)
        if key not in best or triple.confidence > best[key].confidence:
            best[key] = triple
    return sorted(best.values(), key=Triple.sort_key)


def extract_relations(
    documents: Iterable[ProseDocument], options: ExtractionOptions | None = None
) -> Extraction:
    """The entities and triples of ``documents`` (see the module docstring)."""
    options = options or ExtractionOptions()
    corpus = _Corpus(options)
    for document in sorted(documents, key=lambda d: (d.doc_id, d.source_path)):
        corpus.read(document)
    canonical = corpus.canonical_keys()
    typed = _unique(
        replace(t, subject=canonical[t.subject], object=canonical[t.object]) for t in corpus.triples
    )
    typed = [t for t in typed if t.subject != t.object]
    sentences = [replace(s, keys=frozenset(canonical[k] for k in s.keys)) for s in corpus.sentences]
    cooccurring = related(sentences, typed, options) if options.cooccurrence else []
    return Extraction(
        entities=corpus.entities(canonical),
        triples=tuple(sorted([*typed, *cooccurring], key=Triple.sort_key)),
    )


_TITLE_SUBTITLE = re.compile(r"^(\S+)(?::| [-\u2013\u2014]) \S")
# "ripgrep (rg)": a name with its short form, or its command, in brackets after it.
_TITLE_ALIAS = re.compile(r"^(\S.*?\S)\s+\(([^()\s]{1,20})\)$")
_WELCOME = re.compile(
    r"^welcome to (?:the )?(.+?)(?:['’]s?)?(?: documentation| docs)?[!.]*$", re.IGNORECASE
)


def titled_name(title: str) -> str:
    """What a title names: the name before a subtitle ("attrs: Classes Without
    Boilerplate", "Click — Command Line Interface Creation Kit" → ``attrs``, ``Click``),
    what a landing page welcomes to ("Welcome to Flask", "Welcome to MkDocs'
    documentation!" → ``Flask``, ``MkDocs``), the name before its short form in brackets
    ("ripgrep (rg)" → ``ripgrep``), else the whole title."""
    name = title.strip()
    welcome = _WELCOME.match(name)
    if welcome is not None:
        name = welcome.group(1).strip()
    alias = _TITLE_ALIAS.match(name)
    if alias is not None and any(c.isalpha() for c in alias.group(2)):
        name = alias.group(1)
    match = _TITLE_SUBTITLE.match(name)
    if match is not None and any(c.isalpha() for c in match.group(1)):
        return match.group(1)
    return name


def title_topic(title: str) -> str | None:
    """The name "this library" or a leading "it" stands for in a document titled
    ``title``: the title, when it is one name (``FastAPI``, ``httpx``, ``attrs`` of
    "attrs: Classes Without Boilerplate") rather than a phrase (``Getting started``);
    ``None`` otherwise. What to give as :func:`prose_document`'s ``topic``."""
    name = titled_name(title)
    if not name or " " in name or len(name) > 40 or not any(c.isalpha() for c in name):
        return None
    return name


def prose_document(
    text: str,
    *,
    doc_id: str,
    source_path: str,
    syntax: str = "markdown",
    topic: str | None = None,
) -> ProseDocument:
    """A :class:`ProseDocument` from a document's raw text: its markup stripped at the
    same offsets (:func:`strip_markup`), split into sentences at its block breaks."""
    prose = strip_markup(text, syntax)
    return ProseDocument(
        doc_id=doc_id,
        source_path=source_path,
        text=prose.text,
        sentences=split_sentences(prose.text, breaks=prose.breaks),
        topic=topic,
    )
