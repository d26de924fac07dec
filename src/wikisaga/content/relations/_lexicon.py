"""The word lists the extractor reads, shipped as package data in ``data/*.txt``.

Each file is plain text: words separated by white space, ``#`` starts a comment. They are
read once, on first use, into one :class:`Lexicon`. ``verbs.txt`` and ``triggers.txt``
have formats of their own, described at the top of each file.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources

from wikisaga.content.relations._records import Predicate

__all__ = ["FRAMES", "Lexicon", "Trigger", "is_common_word", "lexicon", "singular", "verb_forms"]

FRAMES = frozenset({"verb", "agent", "passive", "inverse", "noun"})
"""The frames a trigger phrase can appear in (see ``data/triggers.txt``)."""


@dataclass(frozen=True, slots=True)
class Trigger:
    """A phrase that states a relation, in the frame that gives its arguments' places."""

    frame: str
    predicate: Predicate
    words: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Every word list, as frozen sets of lower-case words."""

    determiners: frozenset[str]
    pronouns: frozenset[str]
    relative_pronouns: frozenset[str]
    prepositions: frozenset[str]
    conjunctions: frozenset[str]
    auxiliaries: frozenset[str]
    copulas: frozenset[str]
    modals: frozenset[str]
    negations: frozenset[str]
    hedges: frozenset[str]
    weak_hedges: frozenset[str]
    adverbs: frozenset[str]
    adjectives: frozenset[str]
    nouns: frozenset[str]
    generic_nouns: frozenset[str]
    collective_nouns: frozenset[str]
    type_nouns: frozenset[str]
    alias_suffixes: frozenset[str]
    languages: frozenset[str]
    platforms: frozenset[str]
    """Operating systems, interpreters and runtimes: what a program "runs on" when that
    is support rather than a foundation ("runs on Linux" against "runs on Warehouse")."""
    abbreviations: frozenset[str]
    foreign_words: frozenset[str]
    verb_forms: frozenset[str]
    """Forms that end a noun phrase: every form of an unmarked verb, and the -ed and -ing
    forms (past, participle) of a verb that is a noun too."""
    all_verb_forms: frozenset[str]
    """Every form of every listed verb, the noun-like ones included."""
    noun_verbs: frozenset[str]
    """The base forms of the verbs that are nouns too ("use", "support")."""
    triggers: tuple[Trigger, ...]

    def is_function_word(self, word: str) -> bool:
        """Whether ``word`` (lower case) belongs to a closed class of function words."""
        return (
            word in self.determiners
            or word in self.pronouns
            or word in self.relative_pronouns
            or word in self.prepositions
            or word in self.conjunctions
            or word in self.auxiliaries
            or word in self.modals
            or word in self.negations
        )

    def is_common_word(self, word: str) -> bool:
        """Whether ``word`` is a listed English word, so that a capital letter at the start
        of a sentence does not make it a name."""
        return (
            self.is_function_word(word)
            or word in self.all_verb_forms
            or word in self.adverbs
            or word in self.adjectives
            or word in self.nouns
            or word in self.hedges
            or singular(word) in self.nouns
        )


def _words(name: str) -> Iterator[str]:
    text = resources.files(__package__).joinpath("data").joinpath(f"{name}.txt").read_text("utf-8")
    for line in text.splitlines():
        yield from line.split("#", 1)[0].split()


def _set(name: str) -> frozenset[str]:
    return frozenset(_words(name))


_VOWELS = frozenset("aeiou")
_ENGLISH_TOO = frozenset({"a", "an", "as", "in", "is", "on", "or", "no", "so", "to", "but", "die"})
_NO_SINGULAR = frozenset(
    {
        "alias", "analysis", "as", "aws", "axis", "basis", "bus", "canvas", "chaos",
        "corpus", "data", "gas", "is", "its", "js", "lens", "less", "news", "os", "plus",
        "series", "species", "status", "this", "thus", "was", "yes", "redis", "https",
        "express", "access", "process", "class", "glass", "pass", "boss", "loss", "kubernetes",
    }
)  # fmt: skip


def singular(word: str) -> str:
    """The singular of a regular English plural (``libraries`` → ``library``)."""
    if len(word) <= 3 or not word.isalpha() or word in _NO_SINGULAR:
        return word
    if word.endswith(("ss", "us", "is", "ous")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "ches", "shes", "xes", "zzes")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def _doubles(lemma: str) -> bool:
    """Whether a short lemma doubles its last consonant (wrap → wrapped)."""
    return (
        len(lemma) in (3, 4)
        and lemma[-1] not in _VOWELS
        and lemma[-1] not in "wxy"
        and lemma[-2] in _VOWELS
        and lemma[-3] not in _VOWELS
    )


def verb_forms(lemma: str) -> tuple[str, str, str]:
    """The regular -s, -ed and -ing forms of ``lemma``."""
    if lemma.endswith(("s", "x", "z", "ch", "sh", "o")):
        third = lemma + "es"
    elif lemma.endswith("y") and lemma[-2] not in _VOWELS:
        third = lemma[:-1] + "ies"
    else:
        third = lemma + "s"
    stem = lemma + lemma[-1] if _doubles(lemma) else lemma
    if lemma.endswith("e"):
        past = lemma + "d"
        ing = lemma[:-2] + "ying" if lemma.endswith("ie") else lemma[:-1] + "ing"
    elif lemma.endswith("y") and lemma[-2] not in _VOWELS:
        past, ing = lemma[:-1] + "ied", lemma + "ing"
    else:
        past, ing = stem + "ed", stem + "ing"
    return third, past, ing


def _verbs() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    boundary: set[str] = set()
    every: set[str] = set()
    nouns: set[str] = set()
    for entry in _words("verbs"):
        noun_too = entry.startswith("~")
        lemma, *irregular = entry.lstrip("~").split(":")
        third, past, ing = verb_forms(lemma)
        pasts = irregular or [past]
        verbal = {*pasts, ing}
        nominal = {lemma, third}
        every |= verbal | nominal
        boundary |= verbal if noun_too else verbal | nominal
        if noun_too:
            nouns.add(lemma)
    return frozenset(boundary), frozenset(every), frozenset(nouns)


def _triggers() -> tuple[Trigger, ...]:
    text = resources.files(__package__).joinpath("data").joinpath("triggers.txt").read_text("utf-8")
    found: list[Trigger] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        frame, predicate, phrases = re.split(r"\s+", line, maxsplit=2)
        if frame not in FRAMES:
            raise ValueError(f"triggers.txt:{number}: unknown frame {frame!r}")
        found.extend(
            Trigger(frame, Predicate(predicate), tuple(phrase.split()))
            for phrase in phrases.split("|")
        )
    return tuple(found)


@functools.cache
def lexicon() -> Lexicon:
    """The shipped lexicon, read once."""
    boundary, every, noun_verbs = _verbs()
    return Lexicon(
        determiners=_set("determiners"),
        pronouns=_set("pronouns"),
        relative_pronouns=_set("relative_pronouns"),
        prepositions=_set("prepositions"),
        conjunctions=_set("conjunctions"),
        auxiliaries=_set("auxiliaries"),
        copulas=_set("copulas"),
        modals=_set("modals"),
        negations=_set("negations"),
        hedges=_set("hedges"),
        weak_hedges=_set("weak_hedges"),
        adverbs=_set("adverbs"),
        adjectives=_set("adjectives"),
        nouns=_set("nouns"),
        generic_nouns=_set("generic_nouns"),
        collective_nouns=_set("collective_nouns"),
        type_nouns=_set("type_nouns"),
        alias_suffixes=_set("alias_suffixes"),
        languages=_set("languages"),
        platforms=_set("platforms"),
        abbreviations=_set("abbreviations"),
        foreign_words=_set("foreign_words") - _ENGLISH_TOO,
        verb_forms=boundary,
        all_verb_forms=every,
        noun_verbs=noun_verbs,
        triggers=_triggers(),
    )


def is_common_word(word: str) -> bool:
    """Whether the shipped word lists know ``word`` (any case) as an English word: a
    function word, a listed verb form, adverb, adjective or noun ("build" and "wheel"
    are, "setuptools" and "pip" are not)."""
    return lexicon().is_common_word(word.lower())
