"""Sentences with their offsets.

A sentence ends at ``.``, ``!`` or ``?`` (and the CJK full stops) followed by white space
and something that can start a sentence, at a blank line, at a list marker that opens a
line, at a line of one repeated mark (a plain-text heading's ``=====`` underline, a
``-----`` rule), and at every ``break`` the caller gives (headings, list items, table
rows). A period does not end a sentence after a listed abbreviation (``e.g.``, ``Dr.``,
``vs.``), after a single letter (an initial), or when it is inside a token (``1.2.3``,
``numpy.linalg``, ``Node.js``). A lower-case word after the period starts a new sentence
(package names are written in lower case: "... the event loop. uvloop is ..."), also
after a file name or a number ("reads pyproject.toml. build calls ...", "by PEP 632.
distutils was ..."), but not after an abbreviation, a dotted one (``e.g.``, ``U.S.``) or a
single digit.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator

from wikisaga.content.relations._lexicon import lexicon
from wikisaga.content.relations._records import Sentence

__all__ = ["is_shouted", "split_sentences"]

_BLOCK_BREAK = re.compile(
    r"\n[ \t]*\n|\n(?=[ \t]*(?:[-*+•]|\d{1,3}[.)])[ \t])"
    # A line of one repeated mark: a plain-text heading's underline, or a rule.
    r"|\n[ \t]*([=\-~*#_^+])\1{2,}[ \t]*(?=\n|\Z)"
)
_END = re.compile(r"(?:[.!?]+|…)[\"'”’)\]]*(?=\s|\Z)|[。！？]+")
_WORD_BEFORE = re.compile(r"([\w.]+)\.?$")
_STARTS = re.compile(r"""\s*[\"'“‘(\[`]*([^\s\"'“‘(\[`])""")


def _block_spans(text: str, breaks: Iterable[int]) -> Iterator[tuple[int, int]]:
    cuts = {0, len(text)}
    cuts.update(b for b in breaks if 0 < b < len(text))
    for match in _BLOCK_BREAK.finditer(text):
        cuts.add(match.start())
        cuts.add(match.end())
    ordered = sorted(cuts)
    yield from itertools.pairwise(ordered)


def _is_boundary(text: str, end: int, stop: int, mark: str) -> bool:
    """Whether the terminator ``mark`` ending at ``end`` ends a sentence."""
    following = _STARTS.match(text, end, stop)
    if mark[0] in "。！？" or following is None:
        return True  # a CJK full stop, or the end of the block
    lower_case = following.group(1).islower()
    if mark.rstrip("\"'”’)]") != ".":
        return not lower_case  # "!", "?", "...": a lower-case word goes on
    stem_end = end - len(mark) + 1
    before = _WORD_BEFORE.search(text, max(0, stem_end - 40), stem_end)
    word = before.group(1).rstrip(".") if before else ""
    if len(word) == 1 and word.isalpha():
        return False  # an initial: "J. Smith", or "p. 5"
    lowered = word.lower()
    if lowered in lexicon().abbreviations:
        return lowered == "etc" and not lower_case  # "e.g. foo", but "etc. The"
    # a lower-case word opens a sentence when it is a name: "the loop. uvloop is ...",
    # "uses urllib3. pip vendors ...",
    # also after a file name or a number: "reads pyproject.toml. build calls ...",
    # "deprecated by PEP 632. distutils was ..." (but not after "e.g", "U.S", "1.")
    return not lower_case or (word.isalnum() and len(word) > 1) or _ends_token(word)


def _ends_token(word: str) -> bool:
    """Whether ``word``, before a period, is a whole token that the period ends: a dotted
    name with a part longer than two letters (``pyproject.toml``, ``Node.js``; not
    ``e.g``, ``U.S``, ``Ph.D``) or a number of more than one character (``632``,
    ``3.12``; not an inline list's ``1``)."""
    parts = word.split(".")
    if all(part.isdigit() for part in parts if part):
        return len(word) > 1
    return len(parts) > 1 and any(len(part) > 2 for part in parts)


def split_sentences(text: str, *, breaks: Iterable[int] = ()) -> tuple[Sentence, ...]:
    """The sentences of ``text``, in order; ``text[s.start:s.end] == s.text`` for each,
    without surrounding white space. Spans without a letter or digit are not sentences."""
    sentences: list[Sentence] = []
    for block_start, block_end in _block_spans(text, breaks):
        start = block_start
        for match in _END.finditer(text, block_start, block_end):
            if _is_boundary(text, match.end(), block_end, match.group()):
                _add(sentences, text, start, match.end())
                start = match.end()
        _add(sentences, text, start, block_end)
    return tuple(sentences)


def _add(sentences: list[Sentence], text: str, start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    chunk = text[start:end]
    if any(char.isalnum() for char in chunk):
        sentences.append(Sentence(start, end, chunk))


_LETTERS = re.compile(r"[^\W\d_]{2,}")
_SHOUTED_WORDS = 5
_SHOUTED_SHARE = 0.75


def is_shouted(text: str) -> bool:
    """Whether a sentence is written in capitals: a licence's disclaimer ("THIS SOFTWARE
    IS PROVIDED BY THE COPYRIGHT HOLDERS ..."), a warning banner. Its capitals mark no
    names, and it is no sentence to quote. At least five words, three in four of them in
    capitals; acronyms in a sentence of prose ("JSON, YAML and TOML over HTTP") are not
    so many."""
    found = _LETTERS.findall(text)
    capitals = sum(1 for word in found if word.isupper())
    return capitals >= _SHOUTED_WORDS and capitals >= _SHOUTED_SHARE * len(found)
