"""Noun phrases over tagged tokens, and the keys that name their entities.

A noun phrase is a run of an optional determiner, modifiers (adjectives, nouns, names,
numbers, ``-ed``/``-ing`` forms between them) and a head (a noun, name or identifier).
Adjectives joined by commas or ``and``/``yet`` before the head stay in one phrase ("a
simple, yet elegant, HTTP library").

A phrase's **key** is its entity's stable name (:func:`phrase_key`): lower case, without
determiners, leading adjectives and adverbs, trailing version numbers (not the number
of a series: "PEP 440", "RFC 7230"), backticks or quotes; a common-noun head in the
singular ("HTTP requests" → ``http request``, but a single word only if it names a
kind, "libraries" → ``library``: "requests" may be a name, and ``normalise_key`` is
idempotent); and a name followed by a word such as ``library`` or ``framework`` stands
for the name alone ("the Requests library" → ``requests``, of type ``library``) — but
not after ``a``/``an`` or after a language ("a Python library" stays ``python
library``).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from wikisaga.content.relations._lexicon import lexicon, singular
from wikisaga.content.relations._records import EntityKind
from wikisaga.content.relations._tokens import NOMINAL, Tag, Token, tokenize

__all__ = [
    "Phrase",
    "chunk",
    "identity_key",
    "normalise_key",
    "phrase_key",
    "phrase_kind",
    "plural_keys",
    "surface",
]

_MODIFIERS = frozenset({Tag.ADJ, Tag.NOUN, Tag.NAME, Tag.CODE, Tag.NUM, Tag.ADV})
_ADJECTIVE_JOINS = frozenset({",", "and", "or", "yet", "but"})
_INDEFINITE = frozenset({"a", "an", "another"})
_ACRONYM_PLURAL = re.compile(r"[A-Z]{2,}s")
_ACRONYM = re.compile(r"[A-Z]{2,}")
_QUOTES = frozenset({'"', "“", "”", "'", "‘", "’"})
_NUMBERED_SERIES = frozenset(
    {"bep", "bip", "cve", "ecma", "fips", "iso", "jep", "jsr", "nep", "pep", "rfc", "spec"}
)
"""Names whose number is the identity, not a version: "PEP 440" and "PEP 517" are two
documents, "Python 3.11" one language."""
_CODE_SUFFIXES = frozenset(
    {"attribute", "class", "decorator", "function", "method", "module", "object", "type"}
)


@dataclass(frozen=True, slots=True)
class Phrase:
    """Tokens ``tokens[start:end]`` of a sentence, forming one noun phrase."""

    tokens: tuple[Token, ...]
    start: int
    end: int

    @property
    def words(self) -> tuple[Token, ...]:
        return self.tokens[self.start : self.end]

    @property
    def head(self) -> Token:
        return self.tokens[self.end - 1]

    @property
    def determiner(self) -> str | None:
        first = self.tokens[self.start]
        return first.lower if first.tag is Tag.DET else None

    @property
    def char_start(self) -> int:
        return self.tokens[self.start].start

    @property
    def char_end(self) -> int:
        return self.tokens[self.end - 1].end


def _shared_head(tokens: tuple[Token, ...], start: int, join: int, blocked: frozenset[int]) -> bool:
    """Whether "a N1 and N2 N3" at ``join`` coordinates modifiers of one head: the phrase
    opened with a determiner, holds one word so far after adjectives (after common nouns
    too when that word is a gerund: "an open-source systems monitoring and alerting
    toolkit", but "a database abstraction layer and object relational mapper" is two),
    and two nominals without a determiner follow the conjunction ("both sync and async
    APIs")."""
    if tokens[start].tag is not Tag.DET or join - start < 2:
        return False
    last = tokens[join - 1]
    modifiers = {Tag.ADJ, Tag.ADV, Tag.NOUN} if last.lower.endswith("ing") else {Tag.ADJ, Tag.ADV}
    if last.tag not in (Tag.NOUN, Tag.ADJ, Tag.NAME) or any(
        t.tag not in modifiers for t in tokens[start + 1 : join - 1]
    ):
        return False
    after = [join + 1, join + 2]
    return (
        all(
            k < len(tokens) and k not in blocked and tokens[k].tag in (NOMINAL | {Tag.ADJ})
            for k in after
        )
        and tokens[join + 2].tag in NOMINAL
    )


def _is_version(token: Token) -> bool:
    return token.tag is Tag.NUM and "." in token.text


def _participle(token: Token) -> bool:
    return token.tag is Tag.VERB and token.lower.endswith(("ed", "ing", "en", "lt"))


def chunk(tokens: Sequence[Token], blocked: frozenset[int] = frozenset()) -> list[Phrase]:
    """The noun phrases of a sentence, left to right; ``blocked`` token indices (the
    words of a relation's trigger) are never part of one."""
    found: list[Phrase] = []
    frozen = tuple(tokens)
    i, n = 0, len(frozen)
    while i < n:
        end = _phrase_end(frozen, i, blocked)
        if end > i:
            found.append(Phrase(frozen, i, end))
            i = end
        else:
            i += 1
    return found


def _phrase_end(tokens: tuple[Token, ...], start: int, blocked: frozenset[int]) -> int:
    """The end of the phrase starting at ``start`` (``start`` itself if there is none)."""
    i, n = start, len(tokens)
    if i in blocked or _is_version(tokens[i]):
        return start  # "As of 3.0.0 bcrypt offers ...": the version opens no phrase
    if tokens[i].tag is Tag.DET:
        i += 1
    head_end = start
    nominal_seen = False
    while i < n and i not in blocked:
        token = tokens[i]
        if token.tag in NOMINAL:
            nominal_seen = True
            head_end = i + 1
        elif token.tag is Tag.NUM:
            if nominal_seen:
                head_end = i + 1
        elif not _inside(tokens, start, i, blocked, nominal_seen=nominal_seen):
            break
        i += 1
    return head_end


def _inside(
    tokens: tuple[Token, ...], start: int, i: int, blocked: frozenset[int], *, nominal_seen: bool
) -> bool:
    """Whether token ``i``, not itself a noun, can stand inside the phrase begun at
    ``start`` (before its head, or between two of its nouns)."""
    token = tokens[i]
    nxt = tokens[i + 1] if i + 1 < len(tokens) and (i + 1) not in blocked else None
    if token.tag in (Tag.ADJ, Tag.ADV):
        return True
    if token.lower in ("and", "or") and _shared_head(tokens, start, i, blocked):
        return True  # "an asynchronous networking and concurrency library" is one library
    if token.lower in _QUOTES:
        return i > start and nxt is not None  # 'The "greenlet" package'
    if token.lower == "-":
        return nominal_seen and nxt is not None and nxt.tag in NOMINAL  # "zic -compiled"
    if _participle(token):
        # "a distributed queue", "Trio-like structured concurrency"; but a listed verb's
        # past after a noun is that noun's verb: "Flask used Werkzeug"; not after an
        # adverb in a phrase an article opens: "the existing widely adopted format"
        described = tokens[i - 1].tag is Tag.ADV and tokens[start].tag is Tag.DET
        verb = nominal_seen and token.lower in lexicon().all_verb_forms and not described
        return i > start and not verb and nxt is not None and nxt.tag in NOMINAL
    return (  # "a simple, yet elegant, HTTP library"
        token.lower in _ADJECTIVE_JOINS
        and not nominal_seen
        and i > start
        and tokens[i - 1].tag in (Tag.ADJ, Tag.PUNCT, Tag.CONJ)
        and nxt is not None
        and nxt.tag in (_MODIFIERS | {Tag.CONJ})
    )


def _content(words: Sequence[Token]) -> list[Token]:
    """``words`` without determiners, leading modifiers that describe, quotes and
    trailing version numbers."""
    lex = lexicon()
    kept = [w for w in words if w.tag is not Tag.PUNCT]
    while len(kept) > 1 and (
        kept[0].tag in (Tag.DET, Tag.ADV, Tag.ADJ, Tag.NUM, Tag.CONJ, Tag.NEG)
        or (kept[0].tag is Tag.VERB and _participle(kept[0]))
        or kept[0].lower in lex.adjectives
    ):
        kept.pop(0)
    while len(kept) > 1 and kept[-1].tag is Tag.NUM and not _numbered(kept):
        kept.pop()
    if kept and kept[0].tag is Tag.DET:
        kept.pop(0)
    return kept


def _numbered(words: list[Token]) -> bool:
    """Whether the number ending ``words`` names one of a series ("PEP 440", "RFC 7230")."""
    return len(words) == 2 and words[-1].text.isdigit() and words[0].lower in _NUMBERED_SERIES


def _class_word(token: Token) -> bool:
    """Whether ``token`` is a plural of a word that names a kind of thing ("libraries",
    "tools", "features"), so that alone it is a common noun, never a name."""
    lex = lexicon()
    word = singular(token.lower)
    return word in lex.type_nouns or word in lex.generic_nouns or word in lex.collective_nouns


def _unknown(token: Token) -> bool:
    """A lower-case word no word list knows: most likely a name ("the pygments library")."""
    return token.tag is Tag.NOUN and not lexicon().is_common_word(token.lower)


def _alias(words: list[Token], determiner: str | None) -> tuple[list[Token], str | None]:
    """A name and its kind: "Requests library" → (Requests, "library"), "the package
    psycopg_binary" → (psycopg_binary, "package"); an identifier and what it is:
    "loop.sock_recv() methods" → loop.sock_recv. Not after "a" / "an", and not after a
    language ("a Python library" is a kind of library)."""
    lex = lexicon()
    if len(words) < 2 or determiner in _INDEFINITE:
        return words, None
    last, name = words[-1], words[:-1]
    kind_word = name[-1].lower
    if (
        last.tag in (Tag.NAME, Tag.CODE)
        and name[-1].tag is Tag.NOUN
        and kind_word in lex.type_nouns
    ):
        return [last], kind_word
    named = all(w.tag in (Tag.NAME, Tag.CODE) for w in name) or (
        determiner == "the" and len(name) == 1 and _unknown(name[0])
    )
    found: tuple[list[Token], str | None] | None
    if last.tag is not Tag.NOUN:
        found = None
    elif name[-1].tag is Tag.CODE and singular(last.lower) in _CODE_SUFFIXES:
        found = (name, None)
    elif last.lower in lex.alias_suffixes and named and not _ACRONYM.fullmatch(name[-1].text):
        # but "the Werkzeug WSGI toolkit", "Django REST framework": the acronym says what
        # kind of toolkit, and "Werkzeug WSGI" or "Django REST" is no name of anything
        found = (name, last.lower)
    else:
        found = None
    if found is None or any(w.lower in lex.languages for w in name):
        return words, None
    return found


def _key_and_type(words: Sequence[Token], determiner: str | None) -> tuple[str, str | None]:
    content, kind = _alias(_content(words), determiner)
    if not content:
        return "", None
    parts = [w.lower for w in content]
    head = content[-1]
    if head.tag is Tag.NOUN and kind is None and (len(content) > 1 or _class_word(head)):
        parts[-1] = singular(parts[-1])  # but "requests", "attrs": a single word may be a name
    elif _ACRONYM_PLURAL.fullmatch(head.text):
        parts[-1] = parts[-1][:-1]  # "APIs" → "api"
    key = " ".join(parts).strip("\"'“”‘’.,;:")
    return key, kind


def phrase_key(phrase: Phrase) -> tuple[str, str | None]:
    """The entity key of ``phrase``, and the type its wording gives (or ``None``)."""
    return _key_and_type(phrase.words, phrase.determiner)


def surface(phrase: Phrase) -> str:
    """How the phrase reads, without determiner, quotes or backticks."""
    words = _alias(_content(phrase.words), phrase.determiner)[0]
    if not words:
        return ""
    text = " ".join(w.text.strip("`").removesuffix("()") for w in words)
    return text.strip("\"'“”‘’")


def phrase_kind(phrase: Phrase) -> EntityKind:
    """``code`` if an identifier heads the phrase, ``name`` if a name is in it (or the
    phrase is "the <name> library")."""
    content, kind_word = _alias(_content(phrase.words), phrase.determiner)
    if content and content[-1].tag is Tag.CODE:
        return EntityKind.CODE
    if kind_word is not None or any(w.tag in (Tag.NAME, Tag.CODE) for w in content):
        return EntityKind.NAME
    return EntityKind.PHRASE


def normalise_key(text: str) -> str:
    """The entity key of a name as written anywhere ("the Requests library" →
    ``requests``, "HTTP clients" → ``http client``): the function that makes keys for
    extracted entities, for callers (and labels) that have only a string."""
    tokens = tokenize(text.strip(), initial=False)
    phrases = chunk(tokens)
    rest = [t for t in tokens[phrases[0].end :] if t.tag is not Tag.PUNCT] if phrases else []
    if phrases and phrases[0].start <= 1 and not rest:
        return phrase_key(phrases[0])[0]
    kept = [t for t in tokens if t.tag not in (Tag.PUNCT, Tag.DET)]
    return " ".join(
        singular(t.lower) if i == len(kept) - 1 and t.tag is Tag.NOUN else t.lower
        for i, t in enumerate(kept)
    )


_SEPARATORS = re.compile(r"[\s._-]+")
_SEPARATOR_CHARS = " \t\n\r._-"


SELF_SUFFIXES = frozenset(
    {"library", "package", "module", "project", "tool", "toolkit", "framework", "format"}
)
"""After a name, words that say what the named thing itself is ("the requests library" is
requests), unlike "the pytest plugin" or "the GitHub API"."""


def named_topic(identity: str, topics: Collection[str], classes: Collection[str]) -> str | None:
    """The topic that the identity key ``identity`` names together with what it is:
    ``requests library`` → ``requests`` when ``topics`` (identity keys of what documents
    are about) has ``requests``; ``None`` otherwise, and when ``identity`` is one of
    ``classes``, the kinds things are said to be ("Poetry is a build tool": a build tool is
    not the build project). The phrase layer already does this for names it recognises
    ("the Requests library"); a topic may be a common word ("requests") it cannot."""
    name, _, kind = identity.rpartition(" ")
    if kind in SELF_SUFFIXES and name in topics and identity not in classes:
        return name
    return None


def identity_key(key: str) -> str:
    """What two entity keys share when they name one entity: the key with every run of
    separators (space, ``.``, ``_``, ``-``) between two words made one space.
    ``pydantic-core``, ``pydantic_core`` and ``pydantic core`` are one entity;
    ``jsonschema`` and ``json schema`` are two. Separators opening a key are kept: the
    flag ``--hash`` is not the word ``hash``, nor ``_private`` ``private``. Closing ones
    are not (``Trio_``, a reStructuredText reference, is Trio)."""
    core = key.lstrip(_SEPARATOR_CHARS)
    if not core:
        return key
    opening = key[: len(key) - len(core)].strip()
    return opening + _SEPARATORS.sub(" ", core).strip()


def plural_keys(
    kinds: Mapping[str, Mapping[EntityKind, int]], names: Mapping[str, Mapping[str, int]]
) -> dict[str, str]:
    """The one-word keys that are the plural of another key, and that other key: a word
    such as ``blueprints`` keeps its ``s`` in its key, as it may be a name (``requests``,
    ``attrs``), but where its mentions are mostly a common noun's ("the app and its
    blueprints") and ``blueprint`` is a key too, the two are one entity. ``kinds`` counts
    each key's mentions by kind, ``names`` by how they are written; a key most often
    written in capitals is no common noun's singular (blog posts are not the method
    ``POST``). Where a key is mostly written capitalised, a term of the corpus's own
    ("a Histogram"), its plural mentioned less often is its plural too, however written
    ("Summaries, Histograms and Counters")."""
    found: dict[str, str] = {}
    for key, counts in kinds.items():
        one = singular(key)
        if one == key or " " in key or one not in kinds or _in_capitals(names.get(one, {})):
            continue
        common = counts.get(EntityKind.PHRASE, 0)
        mentions = sum(counts.values())
        term = _capitalised(names.get(one, {})) and mentions < sum(kinds[one].values())
        if common > mentions - common or term:
            found[key] = one
    return found


def _capitalised(names: Mapping[str, int]) -> bool:
    """Whether the most frequent of ``names`` is capitalised, not in capitals."""
    top = _most_written(names) if names else ""
    return top[:1].isupper() and not top.isupper()


def _in_capitals(names: Mapping[str, int]) -> bool:
    """Whether the most frequent of ``names`` is written in capitals (``POST``)."""
    return bool(names) and _most_written(names).isupper()


def _most_written(names: Mapping[str, int]) -> str:
    return min(names, key=lambda n: (-names[n], n))
