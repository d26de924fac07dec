"""The arguments on either side of a trigger: who does it (:func:`subjects`) and to what
(:func:`objects`).

Both sides know how lists, relative clauses, appositions, asides in parentheses,
negation and hedges look, so every pattern treats them the same way:

* ``X, Y and Z use W`` has three subjects, ``X uses Y, Z and W`` three objects (×0.95);
  commas alone do not make a list ("Like Django, Flask uses Jinja");
* ``X, which uses Y`` and ``X is a library that uses Y`` take X; so do the reduced
  ``X is a library written in Rust`` and the apposition ``X, a library, uses Y``;
* ``X provides Y and supports Z`` gives Z the subject of "provides";
* "this library", "this package" and a clause-initial "it" or "this" stand for the
  document's topic (×0.9, ×0.8);
* a negation between subject and predicate, or right after it, voids the statement; a
  hedge in the clause ("may", "could", "if") multiplies its confidence by 0.4, a weak
  one ("can", "optionally", "will") by 0.85.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wikisaga.content.relations._lexicon import lexicon, singular
from wikisaga.content.relations._phrases import Phrase
from wikisaga.content.relations._reader import CLAUSE_JOINS, Mention, SentenceReader
from wikisaga.content.relations._records import EntityKind, Predicate
from wikisaga.content.relations._tokens import TITLE_JOINS, Tag

__all__ = ["Arguments", "objects", "subjects"]

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
_DEMONSTRATIVES = frozenset({"this", "that", "these", "those"})
_APPOSITION_DETERMINERS = frozenset({"a", "an", "our"})
_NOT_NEGATING_AFTER = frozenset({"only", "just", "merely"})
_QUOTES = frozenset({'"', "”", "'", "’"})
_OPENERS = frozenset({"[", '"', "“", "'", "‘"})
_INDIRECT = frozenset({"you", "us", "them", "users", "developers"})
_CONDITIONS = frozenset({"if", "unless", "when", "whenever"})
_ATTACHING = frozenset({"with", "for", "from", "in", "on"})
_APPROXIMATIONS = frozenset({"over", "about", "around", "nearly", "almost", "approximately"})
_COMPARATIVES = frozenset({"fewer", "less", "more"})


@dataclass(slots=True)
class Arguments:
    """What stands on one side of a trigger: the entities, and how sure we are of them.

    ``predicate`` is set when the object side names the relation itself: "provides
    support for Y" (supports), "offers extensions to Y" (extends)."""

    mentions: list[Mention] = field(default_factory=list)
    factor: float = 1.0
    negated: bool = False
    how: str = ""
    predicate: Predicate | None = None

    def __bool__(self) -> bool:
        return bool(self.mentions)


# -- the left side -----------------------------------------------------------------------


def subjects(reader: SentenceReader, index: int, *, reduced: bool = False) -> Arguments:
    """The subjects of a predicate whose first word is at ``index``: adverbs, negations,
    modals and auxiliaries before it are skipped (and noted). With ``reduced`` (a
    participle), "Y, built on X" is said of Y, not of the clause before the comma."""
    args = Arguments()
    tokens = reader.tokens
    j = reader.skip_back(index)
    args.negated = any(
        tokens[i].tag is Tag.NEG and tokens[i + 1].lower not in _NOT_NEGATING_AFTER
        for i in range(j + 1, index)
    )  # but "not only uses"
    args.factor *= _hedge(reader, reader.clause_start(index), index)
    if _conditional_after(reader, index):
        args.factor *= 0.4  # "X uses Y if Z": only sometimes
    j = _skip_asides(reader, j)
    while j >= 0 and tokens[j].lower in _QUOTES:
        j -= 1  # 'the "greenlet" package', a closing quote
    if j < 0:
        return args
    token = tokens[j]
    if token.lower in CLAUSE_JOINS:
        _coordinated(reader, j, args)
    elif token.lower == "," and reduced:
        _phrase_subjects(reader, j - 1, args)  # "streams, created by X"
    elif token.lower == ",":
        if not _appositive_before(reader, j, args):
            _coordinated(reader, j, args)  # "It includes X, has Y, and provides Z"
    elif token.lower == "(":
        _phrase_subjects(reader, j - 1, args)  # "a widget (compatible with X)"
    elif token.tag is Tag.REL:
        _relative(reader, j, args)
    elif token.tag is Tag.PRON:
        if token.lower == "it" and _at_clause_start(reader, j):
            _add_it(reader, args, 0.8)
    else:
        _phrase_subjects(reader, j, args)
    return args


def _skip_asides(reader: SentenceReader, j: int) -> int:
    """Step left over "(formerly Y)" and ", on the other hand," before a predicate."""
    tokens = reader.tokens
    if j >= 0 and tokens[j].lower == ")":
        opening = reader.opening(j)
        return -1 if opening is None else opening - 1  # "X (formerly Y) uses Z"
    if j >= 0 and tokens[j].lower == ",":
        for c in range(j - 1, max(-1, j - 8), -1):
            if tokens[c].tag in (Tag.VERB, Tag.AUX) or c in reader.blocked:
                break
            if tokens[c].lower == "," and tokens[c + 1].tag is Tag.PREP:
                return c - 1  # 'A "greenlet", on the other hand, is ...'
    return j


def _conditional_after(reader: SentenceReader, index: int) -> bool:
    """Whether "if", "unless", "when" or "whenever" follows ``index`` in the same clause."""
    for token in reader.tokens[index:]:
        if token.lower in (";", ":") or (token.lower in CLAUSE_JOINS):
            return False
        if token.lower in _CONDITIONS:
            return True
    return False


def _hedge(reader: SentenceReader, start: int, end: int) -> float:
    """How much the words of ``[start, end)`` weaken the statement (1.0: not at all)."""
    lex = lexicon()
    factor = 1.0
    for token in reader.tokens[start:end]:
        if token.lower in lex.hedges:
            factor = min(factor, 0.4)
        elif token.lower in lex.weak_hedges:
            factor = min(factor, 0.85)
    return factor


def _coordinated(reader: SentenceReader, join: int, args: Arguments) -> None:
    """ "X provides Y and supports Z": Z's subject is X."""
    previous = reader.predicate_before(join)
    if previous is not None:
        inner = subjects(reader, previous)
        args.mentions.extend(inner.mentions)
        args.factor *= inner.factor
        args.how = "coordinated"


def _appositive_before(reader: SentenceReader, comma: int, args: Arguments) -> bool:
    """ "X, a Y, uses Z": the subject is X. Whether the comma closed an apposition."""
    described = reader.ending_at.get(comma)
    if described is None or described.determiner not in ("a", "an", "the", "our"):
        return False
    before = described.start - 1
    named = reader.ending_at.get(before) if before >= 0 else None
    if named is None or reader.tokens[before].lower != ",":
        return False
    mention = reader.mention(named)
    if mention is not None and mention.kind is not EntityKind.PHRASE:
        args.mentions.append(mention)
        args.factor *= 0.9
        args.how = "apposition"
    return True


def _relative(reader: SentenceReader, pronoun: int, args: Arguments) -> None:
    """ "X, which uses Y" / "a library that uses Y": the subject is the antecedent."""
    k = pronoun - 1
    if k >= 0 and reader.tokens[k].lower == ",":
        k -= 1
    antecedent = reader.ending_at.get(k + 1)
    if antecedent is not None and _passive_participle(antecedent):
        return  # "a saga ... is rolled back, which is the only outcome": the clause
    if antecedent is not None and not _governed(reader, antecedent):
        # "a solution in Python's stdlib that relies on": which one relies is unclear
        args.factor *= 0.9
        args.how = "relative"
        _resolve(reader, antecedent, args)


def _passive_participle(phrase: Phrase) -> bool:
    """Whether ``phrase`` is no noun phrase but the participle of a passive right after
    "is"/"was"/"been" ("is rolled back", "was deprecated"): lower case, its first word
    ending in "-ed"."""
    first = phrase.words[0]
    return (
        phrase.start > 0
        and phrase.tokens[phrase.start - 1].tag is Tag.AUX
        and first.tag is Tag.NOUN
        and first.lower.endswith("ed")
    )


def _add_topic(reader: SentenceReader, args: Arguments, factor: float) -> None:
    topic = reader.topic_mention()
    if topic is not None:
        args.mentions.append(topic)
        args.factor *= factor
        args.how = args.how or "topic"


def _add_it(reader: SentenceReader, args: Arguments, factor: float) -> None:
    """A clause-initial "it": the previous sentence's one subject, else the topic."""
    it = reader.it_mention()
    if it is not None:
        args.mentions.append(it)
        args.factor *= factor
        args.how = args.how or "topic"


def _at_clause_start(reader: SentenceReader, index: int) -> bool:
    before = reader.before(index, frozenset({Tag.ADV}))
    return before < 0 or reader.tokens[before].lower in (",", ";", ":", "and", "but", "so")


def _phrase_subjects(reader: SentenceReader, last: int, args: Arguments) -> None:
    """The noun phrase (or list of them) ending at token ``last``."""
    phrase = reader.ending_at.get(last + 1)
    if phrase is None:
        return
    if _governed(reader, phrase):
        head = _governor(reader, phrase)
        if head is not None:  # "CLI output with --flag uses X" is said of the output
            args.factor *= 0.85
            _resolve(reader, head, args, chained=False)
        return
    listed = _left_list(reader, phrase)
    if len(listed) > 1:
        args.factor *= 0.95
        for item in listed:
            _resolve(reader, item, args, chained=False)
    else:
        _resolve(reader, phrase, args)


def _governor(reader: SentenceReader, phrase: Phrase) -> Phrase | None:
    """The phrase that the preposition before ``phrase`` attaches it to, when that one
    opens its clause: "[CLI output] with --flag", but not "[see] the docs for X"."""
    prep = phrase.start - 1
    if prep < 1 or reader.tokens[prep].lower not in _ATTACHING:
        return None
    head = reader.ending_at.get(prep)
    if head is None or _governed(reader, head):
        return None
    before = head.start - 1
    if before >= 0 and reader.tokens[before].lower not in (",", ";", ":"):
        return None
    return head


def _governed(reader: SentenceReader, phrase: Phrase) -> bool:
    """Whether ``phrase`` is the object of a preposition or of a verb form ("support for
    X requires", "installing X requires"): then it is not the subject."""
    before = phrase.start - 1
    if before >= 0 and reader.tokens[before].tag is Tag.POSS:
        owner = reader.ending_at.get(before)  # "in Python's stdlib"
        return owner is not None and _governed(reader, owner)
    return before >= 0 and (
        reader.tokens[before].tag is Tag.PREP
        or (reader.tokens[before].tag is Tag.VERB and reader.tokens[before].lower.endswith("ing"))
    )


def _resolve(
    reader: SentenceReader, phrase: Phrase, args: Arguments, *, chained: bool = True
) -> None:
    """Put the entity ``phrase`` stands for into ``args``: the topic for "this library",
    the subject of "X is a library (that ...)" or "X, a library ...", or the phrase."""
    words = phrase.words
    if (
        phrase.determiner in _TOPIC_DETERMINERS
        and words[-1].lower in _TOPIC_HEADS
        and all(w.tag in (Tag.DET, Tag.NOUN, Tag.ADJ) for w in words)
        and (phrase.determiner != "the" or len(words) == 2)
    ):
        _add_topic(reader, args, 0.9)
        return
    if chained and phrase.determiner in _APPOSITION_DETERMINERS:
        before = reader.before(phrase.start, frozenset({Tag.ADV}))
        if before >= 0 and reader.copula_at(before):
            inner = subjects(reader, before)
            if inner and not inner.negated:
                args.mentions.extend(inner.mentions)
                args.factor *= inner.factor * 0.95
                args.how = args.how or "chained"
            return
        if before >= 0 and reader.tokens[before].lower in (",", "("):
            named = reader.ending_at.get(before)
            mention = reader.mention(named) if named is not None else None
            if mention is not None and mention.kind is not EntityKind.PHRASE:
                args.mentions.append(mention)
                args.factor *= 0.9
                args.how = args.how or "apposition"
            return
    mention = reader.mention(phrase)
    if mention is not None and _pointing(phrase, mention):
        return  # "This release adds support for ...": which release, the text before says
    if mention is not None:
        args.mentions.append(mention)


def _left_list(reader: SentenceReader, nearest: Phrase) -> list[Phrase]:
    """``X, Y and Z`` ending at ``nearest``: all of them when a conjunction joins them and
    nothing but a clause boundary precedes the first; else ``nearest`` alone."""
    tokens = reader.tokens
    items = [nearest]
    joined = False
    j = nearest.start - 1
    while j >= 0:
        if tokens[j].lower in _LIST_JOINS:
            joined = True
            j -= 1
            if j >= 0 and tokens[j].lower == ",":
                j -= 1
        elif tokens[j].lower == ",":
            j -= 1
        else:
            break
        previous = reader.ending_at.get(j + 1)
        if previous is None:
            break
        items.append(previous)
        j = previous.start - 1
    if not joined or len(items) == 1:
        return [nearest]
    before = items[-1].start - 1
    if before >= 0 and (tokens[before].tag in (Tag.PREP, Tag.VERB) or before in reader.blocked):
        return [nearest]
    return list(reversed(items))


# -- the right side ----------------------------------------------------------------------


def objects(
    reader: SentenceReader, index: int, *, clauses: bool = True, relational: bool = True
) -> Arguments:
    """The objects of a predicate whose last word is just before ``index``. With
    ``clauses``, "and Z" followed by a verb starts a new clause instead of adding Z; with
    ``relational``, an object that names a relation ("support for Y", "an implementation
    of Y") gives that relation and Y."""
    args = Arguments()
    tokens, lex = reader.tokens, lexicon()
    j = index
    while (
        j < len(tokens)
        and j not in reader.starting_at
        and (
            tokens[j].tag is Tag.ADV
            or tokens[j].lower in _APPROXIMATIONS
            or tokens[j].lower in _OPENERS  # "support for [Unicode IDNA ...]( )"
            or (tokens[j].lower in _INDIRECT and j == index)  # "offers you an alternative"
        )
    ):
        if tokens[j].lower in lex.hedges:
            args.factor *= 0.4
        j += 1  # "supports over 900 lint rules"
    if j < len(tokens) and (
        tokens[j].tag is Tag.NEG
        or tokens[j].lower in _COMPARATIVES
        or reader.words_at(j, ("the", "same"))
    ):
        args.negated = True  # "requires no Y", "needs fewer lines than", "the same API as"
        return args
    if j > 0 and tokens[j - 1].lower == "for" and _gerund(reader, j):
        return args  # "an extension for parsing files": a purpose, not an entity
    if _quotation(reader, index, j):
        return args  # 'errors such as "file not found"': words quoted, no entity
    if _activity(reader, j):
        return args  # "supports searching files": something it does, not a thing
    phrase = _relational(reader, reader.starting_at.get(j), args, relations=relational)
    if phrase is None or _title_continues(reader, phrase) or _titled(phrase):
        return args
    items = _right_list(reader, phrase, clauses=clauses)
    if len(items) > 1:
        args.factor *= 0.95
    for item in items:
        mention = reader.mention(item)
        if mention is None or _pointing(item, mention):
            continue  # "implements this approach": which one, the text before says
        args.mentions.append(mention)
    return args


def _pointing(phrase: Phrase, mention: Mention) -> bool:
    """Whether a common noun phrase points back with a demonstrative ("this approach")."""
    return mention.kind is EntityKind.PHRASE and phrase.determiner in _DEMONSTRATIVES


_DOUBLE_QUOTES = ('"', "“", "”")


def _quotation(reader: SentenceReader, index: int, j: int) -> bool:
    """Whether the object at ``j`` opens a quotation of more than a name: a double quote
    between ``index`` and ``j``, and the phrase at ``j`` not closed by the next one
    ('such as "file not found"', but 'such as "greenlet"')."""
    tokens = reader.tokens
    if not any(tokens[k].lower in _DOUBLE_QUOTES for k in range(index, j)):
        return False
    phrase = reader.starting_at.get(j)
    return (
        phrase is None
        or phrase.end >= len(tokens)
        or tokens[phrase.end].lower not in _DOUBLE_QUOTES
    )


def _title_continues(reader: SentenceReader, phrase: Phrase) -> bool:
    """Whether a capitalised phrase goes on past an article into another capitalised
    word ("based on Keep a Changelog"): a title with function words inside, which the
    chunker cuts short, so no part of it is the object."""
    tokens, end = reader.tokens, phrase.end
    return (
        phrase.head.capitalised
        and end + 1 < len(tokens)
        and tokens[end].lower in ("a", "an", "the")
        and tokens[end + 1].capitalised
    )


def _titled(phrase: Phrase) -> bool:
    """Whether a phrase is a title with an article or "of" inside ("Keep a Changelog",
    "the Read the Docs theme"). As an object it gives no relation, as before such titles
    were read whole: the statements they end are mostly a project's conventions ("The
    format is based on Keep a Changelog"), which the labelled examples count as none.
    As a subject it does ("Read the Docs supports MkDocs")."""
    return any(w.tag is Tag.NAME and w.lower in TITLE_JOINS for w in phrase.words)


def _activity(reader: SentenceReader, j: int) -> bool:
    """Whether the object at ``j`` is a gerund with an object of its own ("searching
    files", "calling ripgrep", "formatting Jupyter Notebooks"), not a noun's modifier:
    a listed verb's before any noun phrase, any other before a name or an article (not
    "the logging module" nor "JSON logging")."""
    tokens = reader.tokens
    if j + 1 >= len(tokens) or not _gerund(reader, j):
        return False
    after = tokens[j + 1].tag
    if after in (Tag.NAME, Tag.CODE, Tag.DET):
        return True
    return after is Tag.NOUN and tokens[j].lower in lexicon().all_verb_forms


def _gerund(reader: SentenceReader, index: int) -> bool:
    token = reader.tokens[index]
    return token.tag is Tag.NOUN and token.lower.endswith("ing") and len(token.lower) > 5


def _relational(
    reader: SentenceReader, phrase: Phrase | None, args: Arguments, *, relations: bool = True
) -> Phrase | None:
    """The real object when the first one names the relation: "(full) support for Y",
    "extensions to Y", "an implementation of Y"; and Y for "the standard library's Y"."""
    if phrase is None:
        return None
    if phrase.end < len(reader.tokens) and reader.tokens[phrase.end].tag is Tag.POSS:
        return _owned(reader, phrase)
    if not relations:
        return phrase
    head = singular(phrase.head.lower)
    if head == "support" and reader.words_at(phrase.end, ("for",)):
        args.predicate = Predicate.SUPPORTS
        args.how = "support"
        return reader.starting_at.get(phrase.end + 1)
    for trigger in lexicon().triggers:
        words = trigger.words
        if (
            trigger.frame == "noun"
            and words[0] == head
            and len(words) > 1
            and reader.words_at(phrase.end, words[1:])
        ):
            args.predicate = trigger.predicate
            args.how = "relational"
            return reader.starting_at.get(phrase.end + len(words) - 1)
    return phrase


def _owned(reader: SentenceReader, owner: Phrase) -> Phrase | None:
    """Y in "the standard library's Y" when Y is a name; nothing for "Olson's database"
    (neither Olson nor a database)."""
    owned = reader.starting_at.get(owner.end + 1)
    owned_mention = reader.mention(owned) if owned is not None else None
    if owned_mention is None or owned_mention.kind is EntityKind.PHRASE:
        return None
    return owned


def _right_list(reader: SentenceReader, first: Phrase, *, clauses: bool) -> list[Phrase]:
    """``Y, Z and W`` starting at ``first``; a list of commas alone is only ``Y``."""
    tokens = reader.tokens
    items = [_collective(reader, first)]
    joined = False
    k = first.end
    while k < len(tokens):
        if tokens[k].lower == "(":
            closing = reader.closing(k)
            if closing is None:
                break
            k = closing + 1  # "a widget (compatible with X), nested bars and hints"
            continue
        step = k + 1
        if tokens[k].lower == "," and step < len(tokens):
            if tokens[step].lower in _LIST_JOINS:
                joined, step = True, step + 1
        elif reader.words_at(k, ("as", "well", "as")):
            joined, step = True, k + 3
        elif tokens[k].lower in _LIST_JOINS:
            joined = True
        else:
            break
        nxt = reader.starting_at.get(step)
        if nxt is None or (clauses and (_starts_clause(reader, nxt.end) or _acts(reader, nxt))):
            break
        if nxt.determiner in ("a", "an") and tokens[k].lower == ",":
            break  # "Y, a Z": an apposition, not one more object
        items.append(_collective(reader, nxt))
        k = nxt.end
    if not joined:
        return items[:1]
    if len(items) == 2 and _modifier_only(items[0]) and len(items[1].words) > 1:
        return items[1:]  # "a networking and concurrency library" is one library
    return items


_TOWARDS = frozenset({"to", "into", "onto"})


def _acts(reader: SentenceReader, phrase: Phrase) -> bool:
    """Whether a one-word phrase is a verb that a noun could be taken for, with its own
    object or direction after it: "... and fixes several bugs", "... and adds a CLI",
    "... and posts to the delete URL"."""
    if len(phrase.words) != 1 or phrase.end >= len(reader.tokens):
        return False
    word = phrase.words[0].lower
    after = reader.tokens[phrase.end]
    return (
        word.endswith("s")
        and word in lexicon().all_verb_forms
        and (after.tag in (Tag.DET, Tag.NUM, Tag.PRON) or after.lower in _TOWARDS)
    )


def _modifier_only(phrase: Phrase) -> bool:
    words = phrase.words
    return len(words) == 1 and words[0].tag in (Tag.NOUN, Tag.ADJ)


def _collective(reader: SentenceReader, phrase: Phrase) -> Phrase:
    """ "a collection of tools" names tools."""
    of = phrase.end
    if (
        phrase.head.lower in lexicon().collective_nouns
        and of < len(reader.tokens)
        and reader.tokens[of].lower == "of"
    ):
        inner = reader.starting_at.get(of + 1)
        if inner is not None:
            return inner
    return phrase


def _starts_clause(reader: SentenceReader, index: int) -> bool:
    """Whether a verb (or a trigger) follows ``index``: the phrase before it is the
    subject of a new clause, not one more object."""
    if index >= len(reader.tokens):
        return False
    token = reader.tokens[index]
    hit = reader.hit_at.get(index)
    return token.tag in (Tag.VERB, Tag.AUX, Tag.MODAL, Tag.NEG) or (
        hit is not None and hit.trigger.frame in ("verb", "agent")
    )
