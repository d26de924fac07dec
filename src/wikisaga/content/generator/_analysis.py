"""What the generator reads of one document, computed once per document version.

:func:`analyse` depends on nothing but the document, so its result is kept by the
document's :func:`fingerprint` and reused while the document is unchanged. It finds:

* the document's sentences (:func:`~wikisaga.content.relations.split_sentences`, cut at
  headings too), and among them the *prose*: complete statements that a page may quote,
  each with the passage (chunk) it is in;
* the passages, each with the section (the last heading before it) it belongs to;
* the document's terms, for the term vectors that group documents into topics;
* the order in which its prose sentences would summarise it, best first, by a score of
  centrality (overlap with the document's own terms), position (the opening sentence and
  section leads first) and coverage (names, code identifiers, the title's words), ties
  broken by position.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from wikisaga.content.chunking import chunk_text
from wikisaga.content.generator._text import terms, words
from wikisaga.content.parsing import TABLE_CELLS
from wikisaga.content.records import Chunk, Document, Heading
from wikisaga.content.relations import (
    Sentence,
    identity_key,
    is_fragment,
    is_shouted,
    normalise_key,
    split_sentences,
    titled_name,
)

__all__ = [
    "DocumentAnalysis",
    "Passage",
    "ProseSentence",
    "analyse",
    "fingerprint",
    "is_table_row",
    "needs_context",
]

SUMMARY_CANDIDATES = 12
MAX_SENTENCE_CHARS = 600
MAX_SENTENCE_WORDS = 80
SECTION_LEAD = 0.6
"""The place score of the first sentence of a section (the document's first is 1.0)."""
SUBSECTION_LEAD = 0.45
"""... and of a subsection (a heading below the level of the document's sections)."""
_TERMINALS = (".", "!", "。", "！", "…")
_CLOSERS = "\"'”’)]"
_CONTEXT_OPENERS = frozenset(
    (
        *("it", "its", "this", "these", "those", "they", "them", "that", "such", "he", "she"),
        *("here", "there", "also", "then", "however", "but", "and", "or", "so"),
        *("thus", "therefore", "hence", "moreover", "furthermore", "consequently"),
        *("otherwise", "instead", "likewise", "similarly", "nevertheless", "nonetheless"),
        *("conversely", "meanwhile", "accordingly", "alternatively", "additionally"),
        *("below", "above"),  # "Below are common questions ...": the page around it
    )
)


@dataclass(frozen=True, slots=True)
class Passage:
    """One chunk of a document: what a citation points at (anchor ``p-<number>``)."""

    number: int
    """The chunk's index plus one: passages are numbered from 1 for readers."""
    start: int
    end: int
    section: str
    """The last heading at or before the passage's start (``""`` before the first)."""


@dataclass(frozen=True, slots=True)
class ProseSentence:
    """A sentence a page may quote: ``document.text[start:end] == text``."""

    start: int
    end: int
    text: str
    passage: int
    """The number of the passage that holds it."""
    terms: tuple[str, ...]
    """Its distinct terms, sorted."""
    score: float


@dataclass(frozen=True, slots=True)
class DocumentAnalysis:
    """The generator's reading of one document (see the module docstring)."""

    doc_id: str
    source_path: str
    title: str
    format: str
    project_id: str
    content_hash: str
    fingerprint: str
    sentences: tuple[Sentence, ...]
    """Every sentence span, prose or not, as relation extraction reads them."""
    prose: tuple[ProseSentence, ...]
    passages: tuple[Passage, ...]
    outline: tuple[tuple[str, int, int], ...]
    """``(heading, level, passage number)`` for each heading with a passage."""
    term_counts: tuple[tuple[str, int], ...]
    """The document's terms (title and prose) with their counts, sorted by term."""
    summary: tuple[int, ...]
    """Indices into :attr:`prose`, the best summary sentence first."""
    code_languages: tuple[str, ...]
    """The language of each code block (``""`` when not given), in order."""
    words: int
    title_key: str = ""
    """What the document is named after, as an entity's identity key (``""`` without a
    title): ``setuptools`` for "setuptools", ``pep 440`` for "PEP 440"."""


def _chunks(document: Document) -> tuple[Chunk, ...]:
    if document.chunks:
        return tuple(sorted(document.chunks, key=lambda c: (c.start, c.end, c.index)))
    # A document sent without chunks is cut as the store would have cut it.
    return chunk_text(document.text, document.outline, document.doc_id)


def fingerprint(document: Document) -> str:
    """A SHA-256 over everything of ``document`` the generator reads: identity, title,
    text, outline, chunk spans and code block languages. Equal fingerprints, equal pages."""
    digest = hashlib.sha256()
    parts = [
        document.project_id,
        document.doc_id,
        document.source_path,
        document.title,
        document.format,
        document.content_hash,
        repr([(h.text, h.level, h.offset) for h in document.outline]),
        repr([(c.index, c.start, c.end) for c in document.chunks]),
        repr([c.language for c in document.code_blocks]),
    ]
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    digest.update(document.text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


# "... the latter encodes ...", and "above" or "below" with nothing after them, pointing
# at the page around them ("Note that I used single quotes above, so ...", "as shown
# below."), not comparing ("values above 100").
_BACK_REFERENCE = re.compile(
    r"\bthe (?:latter|former)\b|\b(?:above|below)(?=\s*(?:[,.;:!?)]|$))", re.IGNORECASE
)
# "The other place is ...", "The same applies ...", "The following subclass adds ...",
# "Despite this, ...": what they point at is in the sentences around them.
_POINTING_OPENER = re.compile(
    r"^the (?:other|same|following|previous|above)\b"
    # "Despite this, test coverage is ...", "For this reason, ...", "In that case, ..."
    r"|^(?:despite|because of|for|in|after|unlike|like|with|without|besides|given)"
    r" (?:this|that|these|those)(?:\s*,| reasons?\b| cases?\b| way\b)",
    re.IGNORECASE,
)
# Fragments whose subject is the heading above them, or that never reach a main clause:
# "Used to add a single background task to a response." (under "### BackgroundTask"),
# "If you want to use different routes for the same path based on the Host header."
_SUBJECTLESS = re.compile(r"^[A-Z][a-z]+ed (?:to|by|for|when|if|as|with|in|on)\b[^,;]*$")
_NO_MAIN_CLAUSE = re.compile(
    r"^(?:If|When|Whenever) you(?: want| need| wish| would like|'d like| prefer)\b[^,;:]*$"
)
# An admonition's label, or "Note that": an aside to what is around it ("NOTE: The main
# entry point to the API is through Events ...", "Warning: this deletes ...").
_ASIDE = re.compile(
    r"^(?:(?:note|notes|warning|tip|hint|important|caution|attention|danger)\s*[:!\u2014-]"
    r"|note that\b)",
    re.IGNORECASE,
)


def needs_context(text: str) -> bool:
    """Whether a sentence leans on the one before it ("It was created by ...", "This
    makes ...", "However, ...", "Despite this, ...", "... the latter encodes ..."), is
    an aside to it ("NOTE: ...", "Note that ..."), or leans on the heading above it
    ("Used to add a task to a response.", a noun phrase with no verb such as "A mapping
    of Django model fields to serializer fields.", an "If ..." that never reaches its
    main clause): quoted anywhere but after what it leans on, it dangles."""
    first = words(text[:40].lower())[:1]
    if bool(first) and first[0] in _CONTEXT_OPENERS:
        return True
    if _SUBJECTLESS.match(text) or _NO_MAIN_CLAUSE.match(text) or _POINTING_OPENER.match(text):
        return True
    if _ASIDE.match(text) or is_fragment(text):
        return True
    return _BACK_REFERENCE.search(text) is not None


_POINTERS = frozenset({"see", "refer", "visit", "consult"})
_POINTER_PHRASES = (("for", "more"), ("for", "details"), ("check", "out"), ("more", "information"))


def points_elsewhere(text: str) -> bool:
    """Whether a sentence only sends the reader elsewhere ("See the Collaborator Guide:
    Landing pull requests.", "For more details, read ..."): a poor summary of anything."""
    first = words(text[:60].lower())[:2]
    return bool(first) and (first[0] in _POINTERS or tuple(first) in _POINTER_PHRASES)


# A name, of at most three words, then a spaced dash or colon: the item of a list of
# parameters or options, "directory - A string or os.PathLike denoting a directory
# path.", or of a definition list ("repo : An advanced example that ..."); or a name in
# lower case (or several, "str / click.STRING") and a colon before a capital: "help: Help
# text for the argument."
_GLOSS = re.compile(r"^\S+(?: \S+){0,2} [-\u2013\u2014:] \S|^[a-z_][\w.-]*(?: / [\w.-]+)*: [A-Z]")


def glosses_a_name(text: str) -> bool:
    """Whether a sentence is an item of a list that glosses names one by one ("directory -
    A string or os.PathLike denoting a directory path.", "repo : An advanced example"):
    it defines one parameter, option or example, and says little of the document it is
    in."""
    return _GLOSS.match(text) is not None


def is_table_row(text: str) -> bool:
    """Whether a block of a document's text is a table's row (its cells, as the parsers
    join them): no sentence, whatever its end, and no statement of relations."""
    return TABLE_CELLS in text


_BRACES = frozenset("{}[]")
_MARKS = frozenset("();")
_MAX_MARKS = 0.05


def _reads_as_code(text: str) -> bool:
    """Whether a "sentence" is mostly notation: a Cypher pattern, a call with its
    arguments, a record written out ("(:GraphProject {project_id, current}) holds the
    pointer; (:Entity {...})-[:RELATES {...}]->(:Entity)"). Braces and brackets count
    twice, being rare in prose; "(DESIGN §1, step 1)" and "PUT /projects/{id}" are
    prose."""
    weight = sum(2 if c in _BRACES else 1 for c in text if c in _BRACES or c in _MARKS)
    return weight > _MAX_MARKS * len(text)


def _is_statement(text: str) -> bool:
    """Whether a sentence is complete and quotable: it ends as a statement (not a
    question, not a colon introducing a list), has enough words, is not too long and
    is prose rather than notation, a table's row or capitals (a licence's disclaimer)."""
    if len(text) > MAX_SENTENCE_CHARS or _reads_as_code(text):
        return False
    if is_table_row(text) or is_shouted(text):
        return False
    bare = text.rstrip(_CLOSERS)
    if not bare.endswith(_TERMINALS):
        return False
    counted = len(words(text))
    if counted > MAX_SENTENCE_WORDS:
        return False
    # Scripts without spaces between words (Chinese, Japanese) count by characters.
    return counted >= 4 or (len(text) >= 12 and " " not in text)


class _Passages:
    """Find the passage of an offset among chunks sorted by start."""

    def __init__(self, chunks: tuple[Chunk, ...]) -> None:
        self.chunks = chunks
        self.starts = [chunk.start for chunk in chunks]

    def of(self, start: int, end: int) -> int | None:
        """The number of the first passage holding ``[start, end)`` whole, else of the
        last one starting at or before ``start`` and reaching past it."""
        last = bisect.bisect_right(self.starts, start) - 1
        holder: int | None = None
        for i in range(max(0, last - 3), last + 1):
            chunk = self.chunks[i]
            if chunk.start <= start < chunk.end:
                if end <= chunk.end:
                    return chunk.index + 1
                if holder is None:
                    holder = chunk.index + 1
        return holder


def _coverage(text: str, title_terms: set[str]) -> float:
    """Names, code identifiers and title words in a sentence, as a share of three."""
    found = 0
    for position, word in enumerate(words(text)):
        shaped = any(c.isupper() for c in word[1:]) or "_" in word or word.isupper()
        named = (position > 0 and word[:1].isupper()) or (shaped and len(word) > 1)
        if named or word.lower() in title_terms:
            found += 1
    return min(1.0, found / 3.0)


def _score(
    sentence_terms: set[str],
    text: str,
    position: int,
    lead: float,
    tf: Counter[str],
    norm: float,
    title_terms: set[str],
) -> float:
    if sentence_terms and norm:
        centrality = sum(tf[t] for t in sentence_terms) / (math.sqrt(len(sentence_terms)) * norm)
    else:
        centrality = 0.0
    if position == 0:
        place = 1.0
    elif lead:
        place = lead
    else:
        place = max(0.0, 0.4 - 0.02 * position)
    score = 0.5 * centrality + 0.3 * place + 0.2 * _coverage(text, title_terms)
    counted = len(words(text))
    if counted < 6:
        score *= 0.6
    elif counted > 45:
        score *= 0.7
    if needs_context(text):
        score *= 0.5  # "It uses ..." needs the sentence before it; a page lacks that
    if points_elsewhere(text):
        score *= 0.3  # "See the guide: ..." says where to read, not what
    if glosses_a_name(text):
        score *= 0.4  # "path - A string denoting ...": one parameter, not the document
    return round(score, 6)


def _section_level(headings: Sequence[Heading]) -> int:
    """The level of a document's sections: its highest heading level, or the next one
    when a single heading of the highest level opens the document (its title)."""
    levels = [h.level for h in headings]
    if not levels:
        return 1
    top = min(levels)
    below = [level for level in levels if level > top]
    if levels.count(top) == 1 and levels[0] == top and below:
        return min(below)
    return top


def analyse(document: Document) -> DocumentAnalysis:
    """The generator's reading of ``document`` (see the module docstring)."""
    text = document.text
    chunks = _chunks(document)
    passages_of = _Passages(chunks)
    headings = sorted(document.outline, key=lambda h: h.offset)
    heading_starts = [h.offset for h in headings]
    breaks = [h.offset for h in headings] + [h.offset + len(h.text) for h in headings]
    sentences = split_sentences(text, breaks=breaks)
    heading_at = set(heading_starts)

    passages = []
    for chunk in chunks:
        before = bisect.bisect_right(heading_starts, chunk.start) - 1
        section = headings[before].text if before >= 0 else ""
        passages.append(Passage(chunk.index + 1, chunk.start, chunk.end, section))

    # A subsection's lead is about the subsection ("### BlackSheep" under "## ASGI
    # frameworks": "BlackSheep is a web framework ..."): it leads less of the document
    # than a section's does.
    sections = _section_level(headings)
    candidates: list[tuple[Sentence, int, float]] = []
    led_sections: set[int] = set()
    for sentence in sentences:
        if sentence.start in heading_at or not _is_statement(sentence.text):
            continue
        passage = passages_of.of(sentence.start, sentence.end)
        if passage is None:
            continue
        under = bisect.bisect_right(heading_starts, sentence.start) - 1
        lead = 0.0
        if under not in led_sections:
            deep = under >= 0 and headings[under].level > sections
            lead = SUBSECTION_LEAD if deep else SECTION_LEAD
        led_sections.add(under)
        candidates.append((sentence, passage, lead))

    tf: Counter[str] = Counter()
    sentence_terms = []
    for sentence, _, _ in candidates:
        counted = terms(sentence.text)
        tf.update(counted)
        sentence_terms.append(set(counted))
    title_terms = set(terms(document.title))
    norm = math.sqrt(sum(v * v for v in tf.values()))
    prose = tuple(
        ProseSentence(
            start=sentence.start,
            end=sentence.end,
            text=sentence.text,
            passage=passage,
            terms=tuple(sorted(found)),
            score=_score(found, sentence.text, i, lead, tf, norm, title_terms),
        )
        for i, ((sentence, passage, lead), found) in enumerate(
            zip(candidates, sentence_terms, strict=True)
        )
    )
    ranked = sorted(range(len(prose)), key=lambda i: (-prose[i].score, i))
    outline = []
    for heading in headings:
        passage = passages_of.of(heading.offset, heading.offset + len(heading.text))
        if passage is not None and heading.text.strip():
            outline.append((heading.text, heading.level, passage))
    document_terms = terms(document.title) + tf
    return DocumentAnalysis(
        doc_id=document.doc_id,
        source_path=document.source_path,
        title=document.title,
        format=document.format,
        project_id=document.project_id,
        content_hash=document.content_hash,
        fingerprint=fingerprint(document),
        sentences=sentences,
        prose=prose,
        passages=tuple(passages),
        outline=tuple(outline),
        term_counts=tuple(sorted(document_terms.items())),
        summary=tuple(ranked[:SUMMARY_CANDIDATES]),
        code_languages=tuple(block.language for block in document.code_blocks),
        words=len(text.split()),
        title_key=identity_key(normalise_key(titled_name(document.title)))
        if document.title.strip()
        else "",
    )
