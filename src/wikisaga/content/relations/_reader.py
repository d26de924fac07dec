"""One sentence, read: its tokens, its trigger phrases, its noun phrases, and the
arguments on either side of a trigger.

The patterns (:mod:`._patterns`) ask a :class:`SentenceReader` for the subjects left of a
position and the objects right of it; the reader knows how lists, relative clauses,
appositions, negation and hedges look, so every pattern treats them the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from wikisaga.content.relations._lexicon import Trigger, lexicon
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

__all__ = ["Arguments", "Hit", "Mention", "SentenceReader"]

_SKIPPED_BEFORE = frozenset({Tag.ADV, Tag.NEG, Tag.MODAL, Tag.AUX})
_LIST_JOINS = frozenset({"and", "or", "&"})
_TOPIC_HEADS = frozenset(
    {
        "library", "package", "project", "module", "tool", "framework", "plugin", "extension",
        "app", "application", "toolkit", "utility", "distribution", "repository", "repo",
        "implementation", "client", "server", "sdk", "api", "software", "program", "service",
        "wrapper", "cli", "engine", "backport", "port", "binding", "bindings",
    }
)  # fmt: skip
_TOPIC_DETERMINERS = frozenset({"this", "the", "our"})
_NOT_NEGATING_AFTER = frozenset({"only", "just", "merely"})
_CLAUSE_JOINS = frozenset({"and", "or", "but"})
_CLOSERS = frozenset({")", ",", "`", '"'})


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


@dataclass(slots=True)
class Arguments:
    """What stands on one side of a trigger: the entities, and how sure we are of them."""

    mentions: list[Mention] = field(default_factory=list)
    factor: float = 1.0
    negated: bool = False
    how: str = ""

    def __bool__(self) -> bool:
        return bool(self.mentions)


class SentenceReader:
    """Tokens, trigger hits and noun phrases of one sentence, and argument finding."""

    def __init__(self, tokens: Sequence[Token], topic: str | None) -> None:
        self.tokens = tuple(tokens)
        self.topic = topic
        self.hits = self._find_hits()
        blocked = frozenset(i for hit in self.hits for i in range(hit.start, hit.end))
        self.blocked = blocked
        self.phrases = chunk(self.tokens, blocked)
        self.ending_at = {p.end: p for p in self.phrases}
        self.starting_at = {p.start: p for p in self.phrases}
        self.hit_at = {hit.start: hit for hit in self.hits}

    # -- triggers --------------------------------------------------------------------

    def _find_hits(self) -> list[Hit]:
        lex = lexicon()
        by_first: dict[str, list[Trigger]] = {}
        for trigger in lex.triggers:
            by_first.setdefault(trigger.words[0], []).append(trigger)
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
                i = best.end
            else:
                i += 1
        return hits

    def _before(self, index: int, skip: frozenset[Tag]) -> int:
        """The index of the first token left of ``index`` whose tag is not in ``skip``."""
        j = index - 1
        while j >= 0 and self.tokens[j].tag in skip:
            j -= 1
        return j

    def _fits(self, trigger: Trigger, start: int, end: int) -> bool:
        """Whether the words at ``[start, end)`` stand where ``trigger``'s frame puts it:
        something that can open a noun phrase follows, and the frame's left side holds."""
        after = self.tokens[end] if end < len(self.tokens) else None
        if after is None or (
            after.tag in (Tag.PUNCT, Tag.VERB, Tag.AUX, Tag.MODAL)
            and after.lower not in ("`", '"', "“")
        ):
            return False
        if trigger.frame == "verb":
            return self._fits_verb(start)
        if trigger.frame in ("passive", "inverse"):
            return self._fits_participle(start)
        return self._fits_noun(start)

    def _fits_verb(self, start: int) -> bool:
        """A verb follows its subject (or a relative pronoun, or "and" after a verb)."""
        j = self._before(start, _SKIPPED_BEFORE)
        if j < 0:
            return False
        left = self.tokens[j]
        if left.lower in _CLAUSE_JOINS:
            return self._predicate_before(j) is not None  # "X uses Y and supports Z"
        return left.tag in (NOMINAL | {Tag.NUM, Tag.PRON, Tag.REL}) or left.lower in _CLOSERS

    def _fits_participle(self, start: int) -> bool:
        """A participle follows a copula ("is used by") or a noun ("a tool written in")."""
        j = self._before(start, frozenset({Tag.ADV, Tag.NEG}))
        if j < 0:
            return False
        left = self.tokens[j]
        return left.lower in lexicon().copulas or left.tag in NOMINAL or left.lower == ","

    def _fits_noun(self, start: int) -> bool:
        """A relational noun follows "is a", ", a" (apposition) or "(a"; or a bare
        copula ("is part of")."""
        tokens, copulas = self.tokens, lexicon().copulas
        j = start - 1
        while j >= 0 and tokens[j].tag in (Tag.ADJ, Tag.ADV, Tag.NOUN, Tag.NAME, Tag.NUM):
            j -= 1
        if j < 0:
            return False
        if tokens[j].tag is not Tag.DET:
            return tokens[j].lower in copulas and j == start - 1
        k = self._before(j, frozenset({Tag.ADV, Tag.NEG}))
        return k >= 0 and (tokens[k].lower in copulas or tokens[k].lower in (",", "("))

    # -- mentions --------------------------------------------------------------------

    def mention(self, phrase: Phrase) -> Mention | None:
        """The entity a phrase names, or ``None`` for a vague one ("many features")."""
        key, kind_word = phrase_key(phrase)
        if not key or not any(char.isalpha() for char in key):
            return None
        lex = lexicon()
        if " " not in key and (key in lex.generic_nouns or key in lex.pronouns):
            return None
        if lex.is_function_word(key):
            return None
        return Mention(key, surface(phrase) or key, phrase_kind(phrase), kind_word)

    def topic_mention(self) -> Mention | None:
        if not self.topic:
            return None
        key = normalise_key(self.topic)
        return Mention(key, self.topic, EntityKind.NAME) if key else None

    def named_mentions(self) -> list[Mention]:
        """Every name and identifier in the sentence (what co-occurrence counts)."""
        found: list[Mention] = []
        for phrase in self.phrases:
            mention = self.mention(phrase)
            if mention is not None and mention.kind is not EntityKind.PHRASE:
                found.append(mention)
        return found

    # -- the left side ---------------------------------------------------------------

    def subjects(self, index: int) -> Arguments:
        """The subjects of a predicate whose first word is at ``index``: adverbs,
        negations, modals and auxiliaries before it are skipped (and noted)."""
        args = Arguments()
        j = index - 1
        while j >= 0 and self.tokens[j].tag in _SKIPPED_BEFORE:
            if self.tokens[j].tag is Tag.NEG and not self._not_only(j):
                args.negated = True
            j -= 1
        args.factor *= self._hedge(index)
        if j >= 0 and self.tokens[j].lower == ")":
            opening = self._opening(j)
            j = -1 if opening is None else opening - 1  # "X (formerly Y) uses Z"
        if j < 0:
            return args
        token = self.tokens[j]
        if token.lower in _CLAUSE_JOINS:
            self._coordinated(j, args)
        elif token.lower == ",":
            self._appositive_before(j, args)
        elif token.tag is Tag.REL:
            self._relative(j, args)
        elif token.tag is Tag.PRON:
            if token.lower == "it" and self._clause_start(j):
                self._add_topic(args, 0.8)
        else:
            self._phrase_subjects(j, args)
        return args

    def _coordinated(self, join: int, args: Arguments) -> None:
        """ "X provides Y and supports Z": Z's subject is X."""
        previous = self._predicate_before(join)
        if previous is not None:
            inner = self.subjects(previous)
            args.mentions.extend(inner.mentions)
            args.factor *= inner.factor
            args.how = "coordinated"

    def _appositive_before(self, comma: int, args: Arguments) -> None:
        """ "X, a Y, uses Z": the subject is X."""
        described = self.ending_at.get(comma)
        if described is None or described.determiner not in ("a", "an", "the"):
            return
        before = described.start - 1
        named = self.ending_at.get(before) if before >= 0 else None
        if named is None or self.tokens[before].lower != ",":
            return
        mention = self.mention(named)
        if mention is not None and mention.kind is not EntityKind.PHRASE:
            args.mentions.append(mention)
            args.factor *= 0.9
            args.how = "apposition"

    def _relative(self, pronoun: int, args: Arguments) -> None:
        """ "X, which uses Y" / "a library that uses Y": the subject is the antecedent."""
        k = pronoun - 1
        if k >= 0 and self.tokens[k].lower == ",":
            k -= 1
        antecedent = self.ending_at.get(k + 1)
        if antecedent is not None:
            args.factor *= 0.9
            args.how = "relative"
            self._resolve(antecedent, args)

    def _add_topic(self, args: Arguments, factor: float) -> None:
        topic = self.topic_mention()
        if topic is not None:
            args.mentions.append(topic)
            args.factor *= factor
            args.how = args.how or "topic"

    def _phrase_subjects(self, last: int, args: Arguments) -> None:
        """The noun phrase (or list of them) ending at token ``last``."""
        phrase = self.ending_at.get(last + 1)
        if phrase is None or self._inside_prepositional(phrase):
            return
        listed = self._left_list(phrase)
        if len(listed) > 1:
            args.factor *= 0.95
            for item in listed:
                self._resolve(item, args, chained=False)
        else:
            self._resolve(phrase, args)

    def _opening(self, closing: int) -> int | None:
        depth = 0
        for i in range(closing, -1, -1):
            if self.tokens[i].lower == ")":
                depth += 1
            elif self.tokens[i].lower == "(":
                depth -= 1
                if depth == 0:
                    return i
        return None

    def _predicate_before(self, index: int) -> int | None:
        """The start of the nearest verb, participle or copula left of ``index``, when a
        clause join stands at ``index`` ("X provides Y and supports Z")."""
        lex = lexicon()
        for i in range(index - 1, -1, -1):
            token = self.tokens[i]
            if token.lower in (";", ":") or token.tag is Tag.REL:
                return None
            hit = next((h for h in self.hits if h.start == i), None)
            if hit is not None and hit.trigger.frame in ("verb", "passive"):
                return i
            if token.lower in lex.copulas and token.tag is Tag.AUX:
                return i
        return None

    def _resolve(self, phrase: Phrase, args: Arguments, *, chained: bool = True) -> None:
        """Put the entity ``phrase`` stands for into ``args``: the topic for "this
        library", the subject of "X is a library (that ...)", "X, a library ...",
        or the phrase itself."""
        words = phrase.words
        lex = lexicon()
        if (
            phrase.determiner in _TOPIC_DETERMINERS
            and words[-1].lower in _TOPIC_HEADS
            and all(w.tag in (Tag.DET, Tag.NOUN, Tag.ADJ) for w in words)
        ):
            if phrase.determiner != "the" or len(words) == 2:
                self._add_topic(args, 0.9)
            return
        if chained and phrase.determiner in ("a", "an"):
            before = self._before(phrase.start, frozenset({Tag.ADV}))
            if before >= 0 and self.tokens[before].lower in lex.copulas:
                inner = self.subjects(before)
                if inner and not inner.negated:
                    args.mentions.extend(inner.mentions)
                    args.factor *= inner.factor * 0.95
                    args.how = args.how or "chained"
                return
            if before >= 0 and self.tokens[before].lower in (",", "("):
                named = self.ending_at.get(before)
                mention = self.mention(named) if named is not None else None
                if mention is not None and mention.kind is not EntityKind.PHRASE:
                    args.mentions.append(mention)
                    args.factor *= 0.9
                    args.how = args.how or "apposition"
                return
        mention = self.mention(phrase)
        if mention is not None:
            args.mentions.append(mention)

    def _left_list(self, nearest: Phrase) -> list[Phrase]:
        """``X, Y and Z`` ending at ``nearest``: all of them when a conjunction joins them
        and nothing but a clause boundary precedes the first; else ``nearest`` alone."""
        items = [nearest]
        joined = False
        j = nearest.start - 1
        while j >= 0:
            token = self.tokens[j]
            if token.lower in _LIST_JOINS:
                joined = True
                j -= 1
                if j >= 0 and self.tokens[j].lower == ",":
                    j -= 1
            elif token.lower == ",":
                j -= 1
            else:
                break
            previous = self.ending_at.get(j + 1)
            if previous is None:
                break
            items.append(previous)
            j = previous.start - 1
        if not joined or len(items) == 1:
            return [nearest]
        first = items[-1]
        before = first.start - 1
        if before >= 0 and (
            self.tokens[before].tag in (Tag.PREP, Tag.VERB) or before in self.blocked
        ):
            return [nearest]
        return list(reversed(items))

    def _inside_prepositional(self, phrase: Phrase) -> bool:
        """Whether ``phrase`` is the object of a preposition ("support for X uses ...")."""
        before = phrase.start - 1
        return before >= 0 and self.tokens[before].tag is Tag.PREP and before > 0

    def _clause_start(self, index: int) -> bool:
        before = self._before(index, frozenset({Tag.ADV}))
        return before < 0 or self.tokens[before].lower in (",", ";", ":", "and", "but", "so")

    def _not_only(self, index: int) -> bool:
        nxt = index + 1
        return nxt < len(self.tokens) and self.tokens[nxt].lower in _NOT_NEGATING_AFTER

    def _hedge(self, index: int) -> float:
        """How much the words before ``index`` weaken the statement (1.0: not at all)."""
        lex = lexicon()
        factor = 1.0
        for token in self.tokens[:index]:
            if token.lower in lex.hedges:
                factor = min(factor, 0.4)
            elif token.lower in lex.weak_hedges:
                factor = min(factor, 0.85)
        return factor

    # -- the right side --------------------------------------------------------------

    def objects(self, index: int, *, clauses: bool = True) -> Arguments:
        """The objects of a predicate whose last word is just before ``index``. With
        ``clauses``, "and Z" followed by a verb starts a new clause instead of adding Z."""
        args = Arguments()
        lex = lexicon()
        j = index
        while j < len(self.tokens) and self.tokens[j].tag is Tag.ADV:
            if self.tokens[j].lower in lex.hedges:
                args.factor *= 0.4
            j += 1
        if j < len(self.tokens) and self.tokens[j].tag is Tag.NEG:
            args.negated = True
            return args
        if j < len(self.tokens) and self.tokens[j].lower in ("both", "either"):
            j += 1
        phrase = self.starting_at.get(j)
        if (
            phrase is not None
            and phrase.head.lower == "support"
            and self._words_at(phrase.end, ("for",))
        ):
            phrase = self.starting_at.get(phrase.end + 1)  # "(full) support for Y"
            args.how = "support"
        if phrase is None:
            return args
        items = self._right_list(phrase, clauses=clauses)
        if len(items) > 1:
            args.factor *= 0.95
        for item in items:
            mention = self.mention(item)
            if mention is not None:
                args.mentions.append(mention)
        return args

    def _right_list(self, first: Phrase, *, clauses: bool) -> list[Phrase]:
        """``Y, Z and W`` starting at ``first``."""
        items = [self._collective(first)]
        k = first.end
        while k < len(self.tokens):
            token = self.tokens[k]
            step = k + 1
            if token.lower == "," and step < len(self.tokens):
                if self.tokens[step].lower in _LIST_JOINS:
                    step += 1
            elif self._words_at(k, ("as", "well", "as")):
                step = k + 3
            elif token.lower not in _LIST_JOINS:
                break
            nxt = self.starting_at.get(step)
            if nxt is None or (clauses and self._starts_clause(nxt.end)):
                break
            items.append(self._collective(nxt))
            k = nxt.end
        return items

    def _collective(self, phrase: Phrase) -> Phrase:
        """ "a collection of tools" names tools."""
        lex = lexicon()
        of = phrase.end
        if (
            phrase.head.lower in lex.collective_nouns
            and of < len(self.tokens)
            and self.tokens[of].lower == "of"
        ):
            inner = self.starting_at.get(of + 1)
            if inner is not None:
                return inner
        return phrase

    def _starts_clause(self, index: int) -> bool:
        """Whether a verb (or a trigger) follows ``index``: the phrase before it is the
        subject of a new clause, not one more object."""
        if index >= len(self.tokens):
            return False
        token = self.tokens[index]
        return token.tag in (Tag.VERB, Tag.AUX, Tag.MODAL, Tag.NEG) or (
            index in self.hit_at and self.hit_at[index].trigger.frame == "verb"
        )

    def _words_at(self, index: int, words: tuple[str, ...]) -> bool:
        found = tuple(t.lower for t in self.tokens[index : index + len(words)])
        return found == words

    def copula_at(self, index: int) -> bool:
        token = self.tokens[index]
        return token.lower in lexicon().copulas and token.tag is Tag.AUX
