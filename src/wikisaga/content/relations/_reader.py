"""One sentence, read: its tokens, the trigger phrases that stand where their frame puts
them, its noun phrases (never across a trigger), and the entities they name.

:mod:`._arguments` finds a trigger's subjects and objects in a :class:`SentenceReader`.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import KeysView, Sequence
from dataclasses import dataclass

from wikisaga.content.relations._lexicon import Lexicon, Trigger, lexicon
from wikisaga.content.relations._phrases import (
    Phrase,
    chunk,
    normalise_key,
    phrase_key,
    phrase_kind,
    surface,
)
from wikisaga.content.relations._records import EntityKind
from wikisaga.content.relations._tokens import NOMINAL, Tag, Token

__all__ = ["CLAUSE_JOINS", "SKIPPED_BEFORE", "Hit", "Mention", "SentenceReader"]

SKIPPED_BEFORE = frozenset({Tag.ADV, Tag.NEG, Tag.MODAL, Tag.AUX})
"""Tags between a subject and its predicate: "X does not also use Y"."""
CLAUSE_JOINS = frozenset({"and", "or", "but"})
"""Words that join a second predicate to the first one's subject."""
_CLOSERS = frozenset({")", ",", "`", '"'})
_ADVERBIAL_PHRASES = (("in", "turn"), ("in", "fact"), ("by", "default"), ("of", "course"))


_AND_OR = ("and", "or")
_QUANTIFIERS = frozenset(
    {"every", "each", "any", "many", "several", "numerous", "various", "countless", "other"}
)
"""Words that make a phrase stand for an unnamed number of things: "used by every
library", "integrates with many frameworks", "works with other tools" name no entity."""
_UNITS = frozenset(
    {
        *("b", "kb", "mb", "gb", "tb", "pb", "kib", "mib", "gib", "tib"),
        *("ns", "µs", "us", "ms", "s", "sec", "min", "h"),
        *("hz", "khz", "mhz", "ghz", "px", "dpi"),
    }
)
"""Units of measure: after a number they make a quantity ("3 MB", "5 ms"), or a thing
measured by one ("a 3 MB request"), and name no entity."""


@dataclass(frozen=True, slots=True)
class Mention:
    """An entity as one sentence names it."""

    key: str
    name: str
    kind: EntityKind
    type: str | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    """A trigger phrase found at tokens ``[start, end)``."""

    trigger: Trigger
    start: int
    end: int


@functools.cache
def _triggers_by_first_word() -> dict[str, list[Trigger]]:
    by_first: dict[str, list[Trigger]] = {}
    for trigger in lexicon().triggers:
        by_first.setdefault(trigger.words[0], []).append(trigger)
    return by_first


def _common_modifier(word: str, lex: Lexicon) -> bool:
    """A common word, or common words hyphenated into a participle ("user-reported",
    "well-known"; not a flag, "--host", nor a name, "Set-Cookie")."""
    if lex.is_common_word(word):
        return True
    parts = word.split("-")
    return (
        len(parts) > 1
        and all(parts)
        and parts[-1].endswith(("ed", "wn", "en"))
        and all(lex.is_common_word(part) for part in parts)
    )


def _vague(key: str, phrase: Phrase) -> bool:
    """Whether a phrase names no entity of its own: a generic noun ("features"), alone or
    with common modifiers ("performance improvements", "breaking changes"), a
    quantified one ("used by every library", "many frameworks"), or a measure ("1–3 KB",
    "a 3 MB request")."""
    lex = lexicon()
    *modifiers, head = key.split()
    if head in lex.generic_nouns and all(_common_modifier(word, lex) for word in modifiers):
        return True
    words = phrase.words
    if any(
        word.tag is Tag.NUM and after.lower in _UNITS for word, after in itertools.pairwise(words)
    ):
        return True
    return words[0].lower in _QUANTIFIERS


class SentenceReader:
    """Tokens, trigger hits and noun phrases of one sentence, and argument finding."""

    def __init__(
        self,
        tokens: Sequence[Token],
        topic: str | None,
        previous: tuple[Mention, ...] | None = None,
    ) -> None:
        self.tokens = tuple(tokens)
        self.topic = topic
        self.previous = previous
        self.hit_at: dict[int, Hit] = {}
        self._first_words: KeysView[str] = _triggers_by_first_word().keys()
        self.hits = self._find_hits()
        blocked = frozenset(i for hit in self.hits for i in range(hit.start, hit.end))
        self.blocked = blocked
        self.phrases = chunk(self.tokens, blocked)
        self.ending_at = {p.end: p for p in self.phrases}
        self.starting_at = {p.start: p for p in self.phrases}

    # -- triggers --------------------------------------------------------------------

    def _find_hits(self) -> list[Hit]:
        by_first = _triggers_by_first_word()
        self._first_words = by_first.keys()
        hits: list[Hit] = []
        self.hits = hits  # _fits reads the hits found so far
        i, n = 0, len(self.tokens)
        while i < n:
            best: Hit | None = None
            for trigger in by_first.get(self.tokens[i].lower, ()):
                k = len(trigger.words)
                words = tuple(t.lower for t in self.tokens[i : i + k])
                if words != trigger.words or (best is not None and k <= best.end - best.start):
                    continue
                if self._fits(trigger, i, i + k):
                    best = Hit(trigger, i, i + k)
            if best is not None:
                hits.append(best)
                self.hit_at[best.start] = best
                i = best.end
            else:
                i += 1
        return hits

    def _fits(self, trigger: Trigger, start: int, end: int) -> bool:
        """Whether the words at ``[start, end)`` stand where ``trigger``'s frame puts it:
        something that can open a noun phrase follows, and the frame's left side holds."""
        after = self.tokens[end] if end < len(self.tokens) else None
        if (
            after is not None
            and after.lower in CLAUSE_JOINS
            and trigger.frame in ("verb", "agent")
            and end + 1 < len(self.tokens)
            and self.tokens[end + 1].lower in self._first_words
        ):
            return self._fits_verb(start)  # "develops and supports Click"
        if after is None or (
            after.tag in (Tag.PUNCT, Tag.VERB, Tag.AUX, Tag.MODAL)
            and after.lower not in ("`", '"', "“")
        ):
            return False
        if after.lower == "to" and end - start == 1:
            return False  # "needs to", "requires to": an infinitive follows, not an object
        if trigger.frame in ("verb", "agent"):
            return self._fits_verb(start)
        if trigger.frame in ("passive", "inverse"):
            return self._fits_participle(start)
        return self._fits_noun(start)

    def _fits_verb(self, start: int) -> bool:
        """A verb follows its subject (or a relative pronoun, or "and" after a verb)."""
        j = self.skip_back(start)
        if j < 0:
            return False
        left = self.tokens[j]
        if left.lower in CLAUSE_JOINS:
            return self.predicate_before(j) is not None  # "X uses Y and supports Z"
        return left.tag in (NOMINAL | {Tag.NUM, Tag.PRON, Tag.REL}) or left.lower in _CLOSERS

    def _fits_participle(self, start: int) -> bool:
        """A participle follows a copula ("is used by") or a noun ("a tool written in")."""
        j = self.before(start, frozenset({Tag.ADV, Tag.NEG}))
        if j < 0:
            return False
        left = self.tokens[j]
        return left.lower in lexicon().copulas or left.tag in NOMINAL or left.lower in (",", "(")

    def _fits_noun(self, start: int) -> bool:
        """A relational noun follows "is a", ", a" (apposition) or "(a"; or a bare
        copula ("is part of")."""
        tokens, copulas = self.tokens, lexicon().copulas
        j = start - 1
        while j >= 0 and (
            tokens[j].tag in (Tag.ADJ, Tag.ADV, Tag.NOUN, Tag.NAME, Tag.NUM)
            or (tokens[j].lower == "," and j > 0 and tokens[j - 1].tag is Tag.ADJ)
        ):
            j -= 1  # "a fast, drop-in replacement of"
        if j < 0:
            return False
        if tokens[j].tag is not Tag.DET:
            return tokens[j].lower in copulas and j == start - 1
        k = self.before(j, frozenset({Tag.ADV, Tag.NEG}))
        return k >= 0 and (tokens[k].lower in copulas or tokens[k].lower in (",", "("))

    # -- mentions --------------------------------------------------------------------

    def mention(self, phrase: Phrase, *, vague: bool = False) -> Mention | None:
        """The entity a phrase names, or ``None`` for a vague one ("many features"),
        unless ``vague`` is true."""
        key, kind_word = phrase_key(phrase)
        if not key or not any(char.isalpha() for char in key):
            return None
        lex = lexicon()
        if (" " not in key and key in lex.pronouns) or lex.is_function_word(key):
            return None
        if not vague and _vague(key, phrase):
            return None
        if self._cut_by_aside(phrase):
            return None
        return Mention(key, surface(phrase) or key, phrase_kind(phrase), kind_word)

    def _cut_by_aside(self, phrase: Phrase) -> bool:
        """Whether a lone common noun is the head of a name an aside in brackets cuts in
        two: the "file" of "the Portable Object Template (pot) file", which is no file
        of its own."""
        words, tokens = phrase.words, self.tokens
        if len(words) != 1 or words[0].tag is not Tag.NOUN or phrase.start < 1:
            return False
        if tokens[phrase.start - 1].lower != ")":
            return False
        opening = self.opening(phrase.start - 1)
        return opening is not None and opening > 0 and tokens[opening - 1].tag is Tag.NAME

    def topic_mention(self) -> Mention | None:
        if not self.topic:
            return None
        key = normalise_key(self.topic)
        return Mention(key, self.topic, EntityKind.NAME) if key else None

    def it_mention(self) -> Mention | None:
        """What a clause-initial "it" stands for, given the subjects of the sentence
        before (``previous``): their one entity when they name exactly one, nothing when
        they name several, and the topic when there is no sentence before or it named no
        subject."""
        keys = {m.key for m in self.previous or ()}
        if len(keys) > 1:
            return None
        topic = self.topic_mention()
        if not keys or self.previous is None:
            return topic
        (mention,) = {m.key: m for m in self.previous}.values()
        return topic if topic is not None and topic.key == mention.key else mention

    def leading_subjects(self) -> list[Mention]:
        """The names a sentence opens with when a verb follows them ("Open Collective
        helps ...", "Django and Flask are ..."): its grammatical subjects, even where no
        pattern reads the verb."""
        found: list[Mention] = []
        at = 0
        while (phrase := self.starting_at.get(at)) is not None and phrase.end < len(self.tokens):
            mention = self.mention(phrase)
            if mention is None or mention.kind is EntityKind.PHRASE:
                return []
            found.append(mention)
            after = self.tokens[phrase.end]
            if after.tag in (Tag.VERB, Tag.AUX):
                return found
            at = phrase.end + 1
            if after.lower == "," and at < len(self.tokens) and self.tokens[at].lower in _AND_OR:
                at += 1
            elif after.lower not in (",", *_AND_OR):
                return []
        return []

    def named_mentions(self) -> list[Mention]:
        """Every name and identifier in the sentence (what co-occurrence counts)."""
        found: list[Mention] = []
        for phrase in self.phrases:
            mention = self.mention(phrase)
            if mention is not None and mention.kind is not EntityKind.PHRASE:
                found.append(mention)
        return found

    # -- positions -------------------------------------------------------------------

    def skip_back(self, index: int) -> int:
        """The first token left of ``index`` that is not an adverb, negation, modal,
        auxiliary or adverbial phrase ("which in turn uses")."""
        j = index - 1
        while j >= 0:
            if self.tokens[j].tag in SKIPPED_BEFORE:
                j -= 1
            elif j > 0 and any(self.words_at(j - 1, words) for words in _ADVERBIAL_PHRASES):
                j -= 2
            else:
                break
        return j

    def before(self, index: int, skip: frozenset[Tag]) -> int:
        """The index of the first token left of ``index`` whose tag is not in ``skip``."""
        j = index - 1
        while j >= 0 and self.tokens[j].tag in skip:
            j -= 1
        return j

    def words_at(self, index: int, words: tuple[str, ...]) -> bool:
        """Whether the tokens from ``index`` on are ``words`` (lower case)."""
        found = tuple(t.lower for t in self.tokens[index : index + len(words)])
        return found == words

    def opening(self, closing: int) -> int | None:
        """The ``(`` that the ``)`` at ``closing`` closes."""
        depth = 0
        for i in range(closing, -1, -1):
            if self.tokens[i].lower == ")":
                depth += 1
            elif self.tokens[i].lower == "(":
                depth -= 1
                if depth == 0:
                    return i
        return None

    def closing(self, opening: int) -> int | None:
        """The ``)`` that closes the ``(`` at ``opening``."""
        depth = 0
        for i in range(opening, len(self.tokens)):
            if self.tokens[i].lower == "(":
                depth += 1
            elif self.tokens[i].lower == ")":
                depth -= 1
                if depth == 0:
                    return i
        return None

    def copula_at(self, index: int) -> bool:
        token = self.tokens[index]
        return token.lower in lexicon().copulas and token.tag is Tag.AUX

    def predicate_before(self, index: int) -> int | None:
        """The start of the nearest verb, participle or copula left of ``index``, when a
        clause join stands at ``index`` ("X provides Y and supports Z")."""
        for i in range(index - 1, -1, -1):
            token = self.tokens[i]
            if token.lower in (";", ":") or token.tag is Tag.REL:
                return None
            hit = self.hit_at.get(i)
            if hit is not None and hit.trigger.frame in ("verb", "passive"):
                return i
            if self.copula_at(i):
                return i
        return None

    def clause_start(self, index: int) -> int:
        """Where the clause holding ``index`` starts: after ";", ":", ", but", ", and",
        "whereas", "while", or "and" before a pronoun ("... and it runs on ...")."""
        for i in range(index - 1, -1, -1):
            token = self.tokens[i]
            if token.lower in (";", ":", "whereas", "while", "—"):
                return i + 1
            if token.lower in CLAUSE_JOINS and (
                (i > 0 and self.tokens[i - 1].lower == ",")
                or (i + 1 < len(self.tokens) and self.tokens[i + 1].tag is Tag.PRON)
            ):
                return i + 1
        return 0
