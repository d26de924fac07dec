"""Tokens of a sentence, each tagged with a coarse word class from the shipped lexicon.

There is no statistical part-of-speech tagger here: closed classes (determiners,
prepositions, auxiliaries, ...) come from word lists, code identifiers and names from
their shape, and every other word is taken for a noun or a modifier. Ambiguous words
("supports", "uses") are settled later, by the patterns, from where they stand.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from wikisaga.content.relations._lexicon import Lexicon, lexicon, singular

__all__ = [
    "NOMINAL",
    "TITLE_JOINS",
    "Tag",
    "Token",
    "as_common",
    "as_names",
    "common_plurals",
    "is_code_shape",
    "is_fragment",
    "lower_case_names",
    "tokenize",
]


class Tag(enum.Enum):
    """A token's word class."""

    PUNCT = "punct"
    DET = "det"
    PRON = "pron"
    REL = "rel"
    PREP = "prep"
    CONJ = "conj"
    AUX = "aux"
    MODAL = "modal"
    NEG = "neg"
    ADV = "adv"
    ADJ = "adj"
    VERB = "verb"
    NOUN = "noun"
    """A lower-case word that is none of the above: a common noun or a modifier."""
    NAME = "name"
    """A capitalised word or an acronym that is not a common word opening a sentence."""
    CODE = "code"
    NUM = "num"
    POSS = "poss"
    """The possessive ``'s``."""


NOMINAL = frozenset({Tag.NOUN, Tag.NAME, Tag.CODE})
"""Tags that can head a noun phrase."""


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its text, offsets in the document, lower-case form (backticks, curly
    apostrophes and a trailing ``()`` removed) and tag."""

    text: str
    start: int
    end: int
    lower: str
    tag: Tag

    @property
    def capitalised(self) -> bool:
        return self.text[:1].isupper()


_TOKEN = re.compile(
    r"""
      `[^`\n]{1,80}`                                      # a backticked name
    | [A-Za-z][A-Za-z0-9+.-]*://[^\s<>"'`()\[\]]+          # a URL
    | [\w.+-]+@[\w-]+(?:\.[\w-]+)+                          # an e-mail address
    | (?:[A-Za-z]:|%\w+%)(?:\\+\.?[\w$%~+-]+(?:\.[\w$%~+-]+)*)+  # C:\ProgramData\pip.ini
    | (?:\$\w+|~)?(?:/\.?[\w$%~+-]+(?:\.[\w$%~+-]+)*){2,}/?   # /etc/pip.conf, ~/.cache/pip
    | (?<![^\s(\["'])--?[A-Za-z][\w-]*                    # a command-line flag
    | (?:[^\W\d_]\.){2,}(?![^\W\d_])                      # e.g. i.e. U.S.
    | \[\^?[^\]\s]{0,40}?\w-\w[^\]\s]{0,40}\]             # a pattern's class: [a-zA-Z_:]
    | \d+(?:[.,:/]\d+)*(?:\.[xyzXYZ*](?![\w*]))*[^\W\d_%+]*[%+]?  # 3, 1.2.3, 3.x, 3.11+, 2x
    | [^\W\d]\w*(?:[-.+/#'’&]\w+)*(?:\+\+|\#)?(?:\(\))?  # words, dotted, hyphenated, C++
    | [^\w\s]
    """,
    re.X,
)
_ADDRESS = re.compile(r"://|@|^[A-Za-z]:\\|^%\w+%\\|^(?:\$\w+|~)?/.")
_POSSESSIVE = re.compile(r"(?i)(.+?)(['’]s)$")
_CAMEL = re.compile(r"[a-z][A-Z]|[A-Z]{2,}[a-z]{2,}")
_SNAKE = re.compile(r"[A-Za-z0-9]_[A-Za-z0-9]|^_")
_DOTTED = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$")
_VERSION = re.compile(r"v\d+(?:[.-]v?\d+)*[+x]?")


def is_code_shape(word: str) -> bool:
    """Whether ``word`` looks like an identifier: ``snake_case``, ``CamelCase`` (an
    inner capital after a lower-case letter), dotted ``a.b.c`` or ending in ``()``."""
    return bool(
        _SNAKE.search(word)
        or _CAMEL.search(word)
        or word.endswith("()")
        or (_DOTTED.match(word) and word.lower().rstrip(".") not in lexicon().abbreviations)
    )


def _lower(text: str) -> str:
    word = text.strip("`").replace("’", "'")
    word = word.removesuffix("()")
    return word.lower()


def _raw_tokens(sentence: str, offset: int) -> list[tuple[str, int, int]]:
    raw: list[tuple[str, int, int]] = []
    for match in _TOKEN.finditer(sentence):
        text, start = match.group(), offset + match.start()
        possessive = _POSSESSIVE.match(text) if not text.startswith("`") else None
        if possessive:
            head = possessive.group(1)
            raw.append((head, start, start + len(head)))
            raw.append((possessive.group(2), start + len(head), start + len(text)))
        else:
            raw.append((text, start, start + len(text)))
    return raw


def _function_tag(word: str, lex: Lexicon) -> Tag | None:
    """The closed class of ``word``, in order of precedence ("that" is settled later)."""
    classes = (
        (lex.negations, Tag.NEG),
        (lex.modals, Tag.MODAL),
        (lex.auxiliaries, Tag.AUX),
        (lex.relative_pronouns - {"that"}, Tag.REL),
        (lex.determiners, Tag.DET),
        (lex.pronouns, Tag.PRON),
        (lex.prepositions, Tag.PREP),
        (lex.conjunctions, Tag.CONJ),
    )
    return next((tag for words, tag in classes if word in words), None)


def _is_adverb(word: str, lex: Lexicon) -> bool:
    if word in lex.adverbs or word in lex.hedges or word in lex.weak_hedges:
        return True
    return (
        word.endswith("ly")
        and len(word) > 4
        and word.isalpha()
        and word not in lex.nouns
        and word not in lex.adjectives
    )


def _hyphenated_adjective(word: str, lex: Lexicon) -> bool:
    """ "easy-to-read", "what-you-see-is-what-you-get", "up-to-date": a phrase made one
    word is a modifier; "command-line" and "pydantic-core" are not. So is a word
    hyphenated to an ending that makes modifiers: "Trio-like", "Blueprint-specific"."""
    parts = word.split("-")
    if len(parts) > 1 and parts[0] and parts[-1] in _ADJECTIVE_ENDINGS:
        return True
    return len(parts) > 2 and any(lex.is_function_word(part) for part in parts[1:-1])


def _open_class_tag(word: str, lex: Lexicon) -> Tag:
    if _is_adverb(word, lex):
        return Tag.ADV
    if word in lex.adjectives or _hyphenated_adjective(word, lex):
        return Tag.ADJ
    return Tag.VERB if word in lex.verb_forms else Tag.NOUN


# The literal values of programming languages, written as their languages write them:
# "set trust_env to False", "raise_app_exceptions=False", "or None for no limits". A
# value, like a number, not a name (but "None of them" opens a sentence as a word).
_LITERALS = frozenset({"True", "False", "None", "NULL", "Null", "NaN", "nil"})


# Numbers written as words, which count what follows them as digits do ("two hooks").
# Not "one": "one of", "the one", "no one" read as a pronoun.
_CARDINALS = frozenset({"two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"})


# What a name hyphenated to one of these makes: a modifier, not a name of its own.
_ADJECTIVE_ENDINGS = frozenset(
    {"like", "based", "style", "specific", "compatible", "friendly", "aware", "powered"}
)


def _retag(tokens: list[Token], i: int, tag: Tag) -> None:
    """Give the token at ``i`` the word class ``tag``."""
    old = tokens[i]
    tokens[i] = Token(old.text, old.start, old.end, old.lower, tag)


def _word_tag(text: str, word: str, initial: bool, lex: Lexicon) -> Tag:
    if text.startswith(("`", "-")):
        return Tag.CODE
    # A number, a version, a literal value, or a count in words ("provides two hooks").
    literal = text in _LITERALS and not initial
    if text[0].isdigit() or _VERSION.fullmatch(word) or literal or word in _CARDINALS:
        return Tag.NUM
    function = _function_tag(word, lex)
    if function is not None and (not text[0].isupper() or initial or len(word) <= 4):
        return function
    if is_code_shape(text.removesuffix("()")):
        return Tag.CODE
    capital = text[0].isupper() and not (initial and lex.is_common_word(word))
    if capital and not _hyphenated_adjective(word, lex):
        return Tag.NAME
    return function or _open_class_tag(word, lex)


def _settle_relative_verbs(tokens: list[Token], lex: Lexicon) -> None:
    """A verb form in -s right after a relative pronoun, before what it governs, is the
    relative clause's verb: "a decorator that prefixes URLs", "a hook that starts the
    server" (but "the files that tests use": a noun may follow a subject there)."""
    for i in range(1, len(tokens) - 1):
        token = tokens[i]
        if tokens[i - 1].tag is not Tag.REL or token.tag is not Tag.NOUN:
            continue
        if not token.lower.endswith("s") or token.lower not in lex.all_verb_forms:
            continue
        if tokens[i + 1].tag in _VERB_OBJECTS:
            _retag(tokens, i, Tag.VERB)


def _settle_that(tokens: list[Token]) -> None:
    """``that`` is a determiner before a noun ("that library") unless a noun precedes it
    ("a library that uses"); otherwise a relative pronoun or conjunction."""
    for i, token in enumerate(tokens):
        if token.lower != "that":
            continue
        before = tokens[i - 1].tag if i > 0 else None
        after = tokens[i + 1].tag if i + 1 < len(tokens) else None
        determiner = after in (Tag.NOUN, Tag.ADJ) and before not in NOMINAL
        tag = Tag.DET if determiner else Tag.REL
        _retag(tokens, i, tag)


def tokenize(sentence: str, offset: int = 0, *, initial: bool = True) -> tuple[Token, ...]:
    """The tagged tokens of ``sentence``, whose first character is at ``offset`` in the
    document. ``initial=False`` reads it as the middle of a sentence (no word opens it)."""
    lex = lexicon()
    tokens: list[Token] = []
    first_word = initial
    for text, start, end in _raw_tokens(sentence, offset):
        word = _lower(text)
        if _ADDRESS.search(text) and not text.startswith("`"):
            # An address or a file's path names no entity, and no part of it does
            # ("outlook.com", the "C" of "C:\ProgramData\pip\pip.ini").
            tokens.append(Token(text, start, end, word, Tag.PUNCT))
            first_word = False
            continue
        if not (text[0].isalnum() or text[0] in "`_" or (len(text) > 1 and text[0] == "-")):
            tag = Tag.POSS if word in ("'s",) else Tag.PUNCT
            if tag is Tag.POSS and tokens and tokens[-1].tag is Tag.PRON:
                tag = Tag.AUX  # "it's"
            tokens.append(Token(text, start, end, word, tag))
            first_word = first_word or (initial and word == ":")  # "Fast: Very high ..."
            continue
        tokens.append(Token(text, start, end, word, _word_tag(text, word, first_word, lex)))
        first_word = False
    _settle_nominal_verbs(tokens)
    _settle_that(tokens)
    _settle_relative_verbs(tokens, lex)
    for i in range(1, len(tokens)):
        if tokens[i].tag is Tag.DET and tokens[i - 1].tag is Tag.DET:
            _retag(tokens, i, Tag.ADJ)  # "a few tricks", "all the libraries"
    _settle_imperatives(tokens, lex)
    _settle_participles(tokens)
    _settle_verbs_after_names(tokens, lex)
    if initial:
        _settle_opening_adverb(tokens, lex)
        _settle_initial(tokens, lex)
    _settle_titles(tokens, lex, initial=initial)
    return tuple(tokens)


_BEFORE_A_BARE_NAME = frozenset({Tag.PUNCT, Tag.CONJ, Tag.PREP, Tag.REL, Tag.ADV})
_PLURAL_AUX = frozenset({"are", "were", "have", "do", "aren't", "weren't", "haven't", "don't"})


def lower_case_names(sentences: Iterable[Sequence[Token]]) -> frozenset[str]:
    """The words written in lower case that a document uses as names: pip, npm, systemd.

    Such a word is unknown to the word lists, and somewhere in the document it has a
    possessive with no article or modifier before it ("pip's cache"), or it opens a
    sentence, in lower case, with a verb that agrees with it as a singular subject ("pip
    will reuse", "systemd defines", "setuptools is"). A common noun takes an article
    ("the resolver backtracks"); a mass noun goes bare but not in lower case at the start
    of a sentence ("because memory is cheap"); a word the lists miss ("boot", "range") is
    not made a name by being used bare."""
    lex = lexicon()
    found: set[str] = set()
    for tokens in sentences:
        for i, token in enumerate(tokens[:-1]):
            word = token.lower
            if (
                token.tag is not Tag.NOUN
                or word in found
                or token.text != word
                or not word.isalnum()
                or not word[0].isalpha()
                or len(word) < 2
                or word.endswith(("ing", "ed"))
                or lex.is_common_word(word)
            ):
                continue
            if i > 0 and tokens[i - 1].tag not in _BEFORE_A_BARE_NAME:
                continue
            after = tokens[i + 1]
            agrees = (after.tag in (Tag.AUX, Tag.MODAL) and after.lower not in _PLURAL_AUX) or (
                after.tag is Tag.VERB and after.lower.endswith("s")
            )
            if after.tag is Tag.POSS or (agrees and i == 0):
                found.add(word)
    return frozenset(found)


def common_plurals(sentences: Iterable[Sequence[Token]]) -> frozenset[str]:
    """The plurals a document capitalises only where a sentence opens, or in a heading,
    and writes in lower case inside sentences: common nouns ("Blueprints can greatly
    simplify ..." and "register your blueprints"), though the lists do not know them. A
    name is capitalised inside a sentence too ("use Requests to ...")."""
    lex = lexicon()
    lower: set[str] = set()
    capitalised: set[str] = set()
    for tokens in sentences:
        heading = _title_case(tokens, lex)
        first = next((i for i, t in enumerate(tokens) if t.tag is not Tag.PUNCT), None)
        for i, token in enumerate(tokens):
            word = token.lower
            if not token.text.isalpha() or singular(word) == word:
                continue
            if token.tag is Tag.NOUN and token.text == word:
                lower.add(word)
            elif token.capitalised and i != first and not heading:
                capitalised.add(word)
    return frozenset(lower - capitalised)


def as_common(tokens: Sequence[Token], plurals: Collection[str]) -> tuple[Token, ...]:
    """``tokens`` with each of ``plurals`` (:func:`common_plurals`) made a common noun
    where it opens the sentence, or anywhere in a heading."""
    heading = _title_case(tokens, lexicon())
    first = next((i for i, t in enumerate(tokens) if t.tag is not Tag.PUNCT), None)
    return tuple(
        Token(t.text, t.start, t.end, t.lower, Tag.NOUN)
        if t.tag is Tag.NAME and t.lower in plurals and (heading or i == first)
        else t
        for i, t in enumerate(tokens)
    )


def as_names(tokens: Sequence[Token], names: Collection[str]) -> tuple[Token, ...]:
    """``tokens`` with each lower-case word of ``names`` tagged a name."""
    named = [
        Token(t.text, t.start, t.end, t.lower, Tag.NAME)
        if t.tag is Tag.NOUN and t.lower in names and t.text == t.lower
        else t
        for t in tokens
    ]
    _settle_verbs_after_names(named, lexicon())
    return tuple(named)


_VERB_OBJECTS = frozenset({Tag.DET, Tag.PRON, Tag.NAME, Tag.CODE, Tag.NUM})
_NOUN_VERB_OBJECTS = frozenset({Tag.DET, Tag.PRON})


def _after_a_name(tokens: Sequence[Token], i: int) -> bool:
    """Whether a name ends right before ``i``, or before an aside in brackets that ends
    there: "PyPI hosts", "the Python Software Foundation (PSF) runs"."""
    j = i - 1
    if tokens[j].lower == ")":
        while j > 0 and tokens[j].lower != "(":
            j -= 1
        j -= 1
    return j >= 0 and tokens[j].tag in (Tag.NAME, Tag.CODE)


# Conjunctions that open a clause of their own before the sentence's main one.
_SUBORDINATORS = frozenset({"when", "whenever", "if", "once", "unless", "while", "until"})


def _ends_a_subordinate_clause(tokens: Sequence[Token], i: int, lex: Lexicon) -> bool:
    """Whether ``i``, a verb form in -s, ends a clause that a conjunction opens, with a
    subject of its own before it: "When the server starts,", "If a counter resets,"."""
    token = tokens[i]
    if tokens[i + 1].lower != "," or not token.lower.endswith("s"):
        return False
    if token.lower not in lex.all_verb_forms or tokens[i - 1].tag not in NOMINAL:
        return False
    first = next((j for j, t in enumerate(tokens) if t.tag is not Tag.PUNCT), i)
    if tokens[first].lower not in _SUBORDINATORS or first >= i - 1:
        return False
    return all(t.tag not in _CLAUSE_STARTERS for t in tokens[first + 1 : i])


# What a clause's verb or punctuation puts between a conjunction and a later verb form.
_CLAUSE_STARTERS = frozenset({Tag.VERB, Tag.AUX, Tag.MODAL, Tag.PUNCT, Tag.REL})


WH_ADVERBS = frozenset({"how", "why"})
"""What opens a clause that asks: "How Django works", "similar to how Django works"."""
# Words that open what a verb governs besides a noun phrase: "needs to", "controls how".
_CLAUSE_OBJECTS = WH_ADVERBS | {"to", "what", "whether"}


def _settle_verbs_after_names(tokens: list[Token], lex: Lexicon) -> None:
    """A verb form right after a name is the name's verb, not the end of a compound: in
    -s before what it governs ("pip needs to work", "Django needs a backend", "PyPI hosts
    wheels"), in -ing before a preposition ("an instance of systemd running in an
    image"). After a common noun, a verb form in -s is the noun's verb only before an
    article or a pronoun ("the Router class maps a URL"). Either way it is the verb when
    it ends a clause that a conjunction opens: "When the server starts, ..."; and when it
    ends a clause that "how" or "why" opens ("How Django works", "similar to how Django
    works."; but "Swarm hosts." ends a statement with a noun)."""
    asks = False
    for i in range(1, len(tokens)):
        token = tokens[i]
        asks = asks or tokens[i - 1].lower in WH_ADVERBS
        if token.tag is not Tag.NOUN:
            continue
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        if asks and (after is None or after.lower in (".", ",", ";")):
            finite = token.lower.endswith("s") and token.lower in lex.all_verb_forms
            if finite and tokens[i - 1].tag in NOMINAL:
                _retag(tokens, i, Tag.VERB)
                continue
        if after is None:
            continue
        if _ends_a_subordinate_clause(tokens, i, lex):
            _retag(tokens, i, Tag.VERB)
            continue
        if not _after_a_name(tokens, i):
            # After a common noun, only before an article or a pronoun: "the Router class
            # maps a URL", "the client sends them" (but "the asyncio streams API" and
            # "the data types `int` and `str`" keep their nouns).
            after_noun = tokens[i - 1].tag is Tag.NOUN and after.tag in _NOUN_VERB_OBJECTS
            if not (after_noun and token.lower.endswith("s") and token.lower in lex.all_verb_forms):
                continue
        # "PyPI hosts wheels" too: a plural rarely modifies the noun after it
        governs = (
            after.tag in _VERB_OBJECTS
            or after.tag is Tag.NOUN
            or after.lower in _CLAUSE_OBJECTS  # "to", "controls how many"
        )
        finite = token.lower.endswith("s") and token.lower in lex.all_verb_forms and governs
        if finite or (token.lower.endswith("ing") and after.tag is Tag.PREP):
            _retag(tokens, i, Tag.VERB)


def _settle_imperatives(tokens: list[Token], lex: Lexicon) -> None:
    """A verb that is a noun too is a verb after "to" ("to support features") and when it
    opens a clause before a name: "instead, use pydantic" (but "use cases" stays a noun)."""
    for i, token in enumerate(tokens):
        if token.tag is not Tag.NOUN or token.lower not in lex.noun_verbs:
            continue
        before = tokens[i - 1].lower if i > 0 else ";"
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        named = after is not None and (
            after.tag in (Tag.DET, Tag.NAME, Tag.CODE)
            or (after.tag is Tag.NOUN and not lex.is_common_word(after.lower))
        )
        infinitive = before == "to" and after is not None and after.tag is not Tag.PUNCT
        if infinitive or (before in (";", ":", ",", "(") and named):
            _retag(tokens, i, Tag.VERB)


_VERBAL_ING = frozenset(
    {
        "using", "including", "being", "having", "doing", "getting", "making", "allowing",
        "enabling", "letting", "requiring", "providing", "supporting", "giving", "helping",
        "keeping", "taking", "adding", "following", "according", "depending", "regarding",
        "concerning", "considering", "leveraging", "exposing", "offering",
    }
)  # fmt: skip
_OBJECT_TAGS = frozenset({Tag.DET, Tag.NAME, Tag.CODE, Tag.PRON, Tag.NUM})


def _settle_participles(tokens: list[Token]) -> None:
    """-ing and -ed forms that modify or name rather than act are nouns: "a testing
    library", "structured logging", "typed APIs" (but "using Click", "parsing Python
    files", "built with Rust" stay verbs)."""
    for i, token in enumerate(tokens):
        if token.tag is not Tag.VERB or token.lower in _VERBAL_ING:
            continue
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        if token.lower.endswith("ing"):
            if after is None or after.tag not in _OBJECT_TAGS:
                _retag(tokens, i, Tag.NOUN)
        elif token.lower.endswith("ed") and after is not None and after.tag is Tag.NOUN:
            before = tokens[i - 1].tag if i > 0 else None
            if before not in (Tag.AUX, Tag.NOUN, Tag.NAME, Tag.CODE, Tag.PRON):
                # a modifier that classifies, kept in the key: "embedded database"
                _retag(tokens, i, Tag.NOUN)


_ARTICLES = frozenset({"a", "an", "the"})


def _settle_nominal_verbs(tokens: list[Token]) -> None:
    """A verb's base form right after an article and its adjectives is a noun: "a
    ground-up rewrite", "the initial build" (a verb never follows an article). So is one
    between a name and a noun after "a" or "an": "a special Flask run configuration" (a
    singular subject takes no base form)."""
    for i, token in enumerate(tokens):
        if token.tag is not Tag.VERB or token.lower.endswith(("s", "ed", "ing")):
            continue
        j = i - 1
        while j >= 0 and (tokens[j].tag is Tag.ADJ or "-" in tokens[j].lower[1:]):
            j -= 1  # "a new build", "a ground-up rewrite"
        after_article = j >= 0 and tokens[j].tag is Tag.DET and tokens[j].lower in _ARTICLES
        if after_article or _inside_a_name(tokens, i):
            _retag(tokens, i, Tag.NOUN)


def _inside_a_name(tokens: Sequence[Token], i: int) -> bool:
    """Whether the verb at ``i`` stands between a name opened by "a"/"an" (and its
    adjectives) and a noun: "a special Flask run configuration"."""
    if i + 1 >= len(tokens) or tokens[i + 1].tag is not Tag.NOUN:
        return False
    j = i - 1
    if j < 0 or tokens[j].tag is not Tag.NAME:
        return False
    while j >= 0 and tokens[j].tag in (Tag.NAME, Tag.ADJ):
        j -= 1
    return j >= 0 and tokens[j].lower in ("a", "an")


def _settle_opening_adverb(tokens: list[Token], lex: Lexicon) -> None:
    """A capitalised "-ly" word that opens a sentence before a verb or an adjective is an
    adverb, not a name: "Officially support Python 3.12", "Properly handle errors" (a
    change log's items), "Notably absent is the context", "Exactly how ...", and before a
    word the lists do not know and an article, which is then a verb that bids
    ("Temporarily bypass an alias"). Before a noun it stays a name ("Early boot"), and
    one followed by a verb that agrees with it is made a name again by
    :func:`_settle_initial` ("Plotly supports Dash")."""
    first = next((i for i, t in enumerate(tokens) if t.tag is not Tag.PUNCT), None)
    if first is None or first + 1 >= len(tokens):
        return
    token, nxt = tokens[first], tokens[first + 1]
    if token.tag is not Tag.NAME or not token.capitalised or not _is_adverb(token.lower, lex):
        return
    if nxt.tag in (Tag.VERB, Tag.ADJ, Tag.ADV) or nxt.lower in lex.all_verb_forms:
        _retag(tokens, first, Tag.ADV)
    elif nxt.tag is Tag.NOUN and first + 2 < len(tokens) and tokens[first + 2].tag is Tag.DET:
        # "Temporarily bypass an existing alias": a verb the lists do not know, bidding.
        _retag(tokens, first, Tag.ADV)
        _retag(tokens, first + 1, Tag.VERB)


_REQUESTING = frozenset({"please", "kindly"})
_SINGULAR_VERBS = frozenset({"is", "was", "has", "does", "isn't", "wasn't", "hasn't", "doesn't"})


def _plural_subject(tokens: Sequence[Token], first: int, lex: Lexicon) -> bool:
    """Whether a capitalised word the lists do not know, opening a sentence, is a plural
    common noun: it reads as a regular plural and its verb agrees with a plural
    ("Blueprints support the errorhandler decorator", "Blueprints instead provide
    separation"), so it is the blueprints of "the app and its blueprints", not a name
    Blueprints. "Requests is an HTTP library" keeps its name."""
    token = tokens[first]
    word = token.lower
    if token.tag is not Tag.NAME or token.text != word.capitalize() or singular(word) == word:
        return False
    j = first + 1
    while j < len(tokens) and tokens[j].tag is Tag.ADV:
        j += 1
    if j >= len(tokens):
        return False
    verb = tokens[j].lower
    base = verb in lex.all_verb_forms and not verb.endswith(("s", "ed", "ing"))
    return verb in _PLURAL_AUX or base


def _settle_initial(tokens: list[Token], lex: Lexicon) -> None:
    """A common word that opens a sentence and is followed by its verb is a name:
    "Rich is a library", "Requests is an HTTP library" (a plural with a singular verb)."""
    first = next((i for i, t in enumerate(tokens) if t.tag is not Tag.PUNCT), None)
    if first is None or first + 1 >= len(tokens) or not tokens[first].capitalised:
        return
    token, nxt = tokens[first], tokens[first + 1]
    if _plural_subject(tokens, first, lex):
        _retag(tokens, first, Tag.NOUN)
        return
    if token.lower in _REQUESTING:
        return  # "Please never use dup()" asks; nobody is called Please
    verb_follows = nxt.tag in (Tag.AUX, Tag.MODAL, Tag.NEG) or (
        nxt.lower in lex.all_verb_forms and nxt.lower.endswith("s")
    )
    if not verb_follows:
        return
    if token.tag is Tag.VERB and token.lower.endswith("ed") and nxt.tag is Tag.AUX:
        name = False  # "Included are the header and the body": they are included
    elif token.tag in (Tag.ADJ, Tag.ADV, Tag.VERB):
        # A listed adverb is none: "Next are the match arms" (but "Plotly supports").
        name = token.tag is not Tag.ADV or token.lower not in lex.adverbs
    elif token.tag is Tag.NOUN:
        common = singular(token.lower)  # "Users can ...": people, not a name
        name = (
            token.lower not in lex.nouns
            and common not in lex.generic_nouns
            and common not in lex.type_nouns
            and (nxt.lower in _SINGULAR_VERBS or nxt.tag is not Tag.AUX)
        )
    else:
        name = False
    if name:
        _retag(tokens, first, Tag.NAME)


TITLE_JOINS = frozenset({"the", "a", "an", "of"})
"""The words inside a title such as "Read the Docs" or "Code of Conduct"."""


def _title_case(tokens: Sequence[Token], lex: Lexicon) -> bool:
    """Whether every word of a sentence but its function words is capitalised, as in a
    heading ("Registering Blueprints", "Basics of Flask Routing")."""
    content = [t for t in tokens if t.text.isalpha() and not lex.is_function_word(t.lower)]
    return len(content) >= 2 and all(t.text[:1].isupper() for t in content)


def _title_cased(token: Token) -> bool:
    return token.text[:1].isupper() and not token.text.isupper() and token.text.isalpha()


# What a title opening a sentence may start with: "Read the Docs", "Code of Conduct",
# "Django of Today"; never a conjunction, preposition or adverb ("If a Histogram ...").
_TITLE_OPENERS = frozenset({Tag.NAME, Tag.VERB, Tag.NOUN, Tag.ADJ})


def _settle_titles(tokens: list[Token], lex: Lexicon, *, initial: bool) -> None:
    """A name with an article or "of" inside is one name: "Read the Docs", "Keep a
    Changelog", "Code of Conduct". Inside a sentence, two capitalised words either side
    of the article make it one (not in a heading whose every word is capitalised); at
    the start of one, where a verb might be bidding ("Run the Flask app"), only when the
    whole is the subject of a verb that agrees with it ("Read the Docs supports
    MkDocs")."""
    heading = _title_case(tokens, lex)
    first = next((i for i, t in enumerate(tokens) if t.tag is not Tag.PUNCT), None)
    for i in range(1, len(tokens) - 1):
        join, before, after = tokens[i], tokens[i - 1], tokens[i + 1]
        if join.lower not in TITLE_JOINS or join.text != join.lower:
            continue
        if not (_title_cased(before) and _title_cased(after) and after.tag is Tag.NAME):
            continue
        if initial and i - 1 == first:
            if before.tag not in _TITLE_OPENERS:
                continue  # "If a Histogram has ...", "When the Server starts ..."
            end = i + 1
            while end < len(tokens) and tokens[end].tag is Tag.NAME:
                end += 1
            verb = tokens[end] if end < len(tokens) else None
            agrees = verb is not None and (
                verb.lower in _SINGULAR_VERBS
                or verb.tag is Tag.MODAL
                or (verb.lower.endswith("s") and verb.lower in lex.all_verb_forms)
            )
            if not agrees:
                continue
        elif before.tag is not Tag.NAME or heading:
            continue
        for k in (i - 1, i):
            _retag(tokens, k, Tag.NAME)


_CLAUSE_TAGS = frozenset({Tag.VERB, Tag.AUX, Tag.MODAL, Tag.NEG})
_HEAD_TAGS = frozenset({Tag.ADJ, Tag.NOUN, Tag.NAME, Tag.CODE})
_GLOSS_LINKS = frozenset({"of", "for", "used", "representing", "containing"})


def is_fragment(text: str) -> bool:
    """Whether a sentence is a noun phrase with no verb of its own, the gloss of the
    heading above it: "A mapping of Django model fields to REST framework serializer
    fields." An article, up to four words of a head, then "of", "for", "used",
    "representing" or "containing", and no verb before the end or a relative pronoun (nor
    a word that may be one: "support", "uses"). A relative clause right after the head
    ("The class that should be used ...") is not read: a main verb may follow it."""
    if not text[:4].lower().startswith(("a ", "an ", "the ")):
        return False  # most sentences: no need to read them
    lex = lexicon()
    tokens = tokenize(text)
    if len(tokens) < 3:
        return False
    link = next((i for i, t in enumerate(tokens[1:6], 1) if t.tag not in _HEAD_TAGS), None)
    if link is None or link == 1 or tokens[link].lower not in _GLOSS_LINKS:
        return False
    for token in tokens[link + 1 :]:
        if token.tag is Tag.REL or token.lower in (";", ":"):
            break
        ambiguous = singular(token.lower) in lex.noun_verbs or token.lower in lex.noun_verbs
        if token.tag in _CLAUSE_TAGS or ambiguous:
            return False
    return not any(singular(t.lower) in lex.noun_verbs for t in tokens[1:link])


def words(tokens: Sequence[Token]) -> str:
    """The lower-case words of ``tokens``, space-separated."""
    return " ".join(token.lower for token in tokens)
