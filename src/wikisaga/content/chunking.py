"""Chunking: a document's prose cut into passages of about 350 words, for search and
citation (DESIGN §11).

The prose is a sequence of blocks (headings and paragraphs, separated by blank lines).
Blocks are packed into chunks in order:

* a chunk holds at most :attr:`ChunkingPolicy.target_words` words; a block longer than that
  is cut at sentence ends, and a sentence longer than that into runs of words;
* a heading starts a new chunk once the current one has
  :attr:`~ChunkingPolicy.min_words`, so chunks follow the sections; a chunk never ends
  with a heading (the heading moves on to the chunk it titles);
* a chunk cut for length starts with the last blocks (or sentences) of the previous one,
  up to :attr:`~ChunkingPolicy.overlap_words`, so a passage across the cut is found whole
  in one of them; a chunk started by a heading does not overlap.

Every chunk is a span ``text[start:end]`` of the document's text: it starts at a block,
sentence or word and ends after one, so a citation can point at the passage itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from wikisaga.content.records import Chunk, Heading

__all__ = ["DEFAULT_POLICY", "ChunkingPolicy", "chunk_text"]


@dataclass(frozen=True)
class ChunkingPolicy:
    """How long chunks are, in words (runs of non-space characters)."""

    target_words: int = 350
    overlap_words: int = 50
    min_words: int = 100

    def __post_init__(self) -> None:
        if self.target_words < 1 or self.overlap_words < 0 or self.min_words < 0:
            raise ValueError("target_words must be positive, overlap and minimum not negative")
        if self.overlap_words >= self.target_words:
            raise ValueError("overlap_words must be smaller than target_words")

    @property
    def version(self) -> str:
        """A short name of the policy, part of a stored document's ingest version."""
        return f"{self.target_words}-{self.overlap_words}-{self.min_words}"


DEFAULT_POLICY = ChunkingPolicy()

_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_SENTENCE = re.compile(r"\S.*?(?:[.!?:;][)\"'\]]*(?=\s)|\Z)", re.DOTALL)
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class _Unit:
    """A span that chunks are made of: a block, a sentence of one, or a run of words."""

    start: int
    end: int
    words: int
    heading: bool


def _words(text: str, start: int, end: int) -> int:
    return len(_WORD.findall(text, start, end))


def _split_long(text: str, start: int, end: int, policy: ChunkingPolicy) -> Iterator[_Unit]:
    """Sentences of a block too long for one chunk; runs of words of too long sentences."""
    for sentence in _SENTENCE.finditer(text, start, end):
        count = _words(text, sentence.start(), sentence.end())
        if count <= policy.target_words:
            yield _Unit(sentence.start(), sentence.end(), count, heading=False)
            continue
        # A run as long as the overlap lets a cut inside the sentence overlap too.
        run = max(policy.overlap_words, 1)
        words = list(_WORD.finditer(text, sentence.start(), sentence.end()))
        for first in range(0, len(words), run):
            piece = words[first : first + run]
            yield _Unit(piece[0].start(), piece[-1].end(), len(piece), heading=False)


def _blocks(text: str) -> Iterator[tuple[int, int]]:
    """The spans of the blocks of ``text``: between blank lines, without outer spaces."""
    start = 0
    for separator in [*_BLANK_LINE.finditer(text), None]:
        end = len(text) if separator is None else separator.start()
        block = text[start:end]
        stripped = block.strip()
        if stripped:
            first = start + (len(block) - len(block.lstrip()))
            yield first, first + len(stripped)
        if separator is not None:
            start = separator.end()


def _units(text: str, headings: set[int], policy: ChunkingPolicy) -> Iterator[_Unit]:
    for start, end in _blocks(text):
        count = _words(text, start, end)
        if count <= policy.target_words or start in headings:
            yield _Unit(start, end, count, heading=start in headings)
        else:
            yield from _split_long(text, start, end, policy)


def _overlap(units: list[_Unit], policy: ChunkingPolicy) -> list[_Unit]:
    """The last units of a chunk, up to the overlap in words (none if the last is longer)."""
    tail: list[_Unit] = []
    words = 0
    for unit in reversed(units):
        if unit.heading or words + unit.words > policy.overlap_words:
            break
        tail.insert(0, unit)
        words += unit.words
    return tail


def chunk_text(
    text: str, outline: tuple[Heading, ...], doc_id: str, policy: ChunkingPolicy = DEFAULT_POLICY
) -> tuple[Chunk, ...]:
    """The chunks of a document's ``text`` whose headings are ``outline`` (see the module
    docstring); none for a text without words."""
    headings = {heading.offset for heading in outline}
    spans: list[tuple[int, int]] = []
    current: list[_Unit] = []
    fresh = 0  # words in the current chunk that the previous one does not have

    def emit() -> None:
        spans.append((current[0].start, current[-1].end))

    for unit in _units(text, headings, policy):
        words = sum(u.words for u in current)
        if current and unit.heading and fresh and words >= policy.min_words:
            emit()
            current, fresh = [], 0
        elif current and fresh and words + unit.words > policy.target_words:
            carried: list[_Unit] = []
            while current and current[-1].heading:  # a heading goes with what it titles
                carried.insert(0, current.pop())
            if current:
                emit()
                current = [*([] if carried else _overlap(current, policy)), *carried]
            else:
                current = carried
            fresh = sum(u.words for u in carried)
        current.append(unit)
        fresh += unit.words
    if current and fresh:
        emit()
    return tuple(
        Chunk(doc_id=doc_id, index=index, start=start, end=end, text=text[start:end])
        for index, (start, end) in enumerate(spans)
    )
