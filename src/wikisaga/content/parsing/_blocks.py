"""The one way every parser writes a document: blocks of prose, headings, code apart.

A parser calls :meth:`TextBuilder.heading`, :meth:`~TextBuilder.paragraph` and
:meth:`~TextBuilder.code` in reading order; :meth:`~TextBuilder.build` gives the
:class:`~wikisaga.content.records.ParsedDocument`. Prose blocks are separated by one blank
line, so offsets of headings and code are computed here, once, for every format.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

from wikisaga.content.records import CodeBlock, Heading, ParsedDocument

__all__ = ["BLOCK_SEPARATOR", "TABLE_CELLS", "Fences", "TextBuilder", "choose_title", "reflow"]

BLOCK_SEPARATOR = "\n\n"
TABLE_CELLS = " | "
"""What joins the cells of a table's row into one block of the text, in every format."""

_SPACES = re.compile(r"\s+")
_BLANK_LINES = re.compile(r"\n\s*\n")


class Fences:
    """Which lines of a Markdown source are fenced code, the lines fed in order: what a
    rewriter of the source leaves alone. ``indented`` counts a fence opened at any indent
    (inside a list item or a block's body), not only at CommonMark's three spaces."""

    def __init__(self, *, indented: bool = False) -> None:
        self._opening = re.compile(r"^[ ]*(`{3,}|~{3,})" if indented else r"^[ ]{0,3}(`{3,}|~{3,})")
        self.open: str | None = None
        """The marker of the fence open before the next line, if one is."""

    def code(self, line: str) -> bool:
        """Whether ``line`` opens, is inside or closes a fence."""
        if self.open is not None:
            if line.lstrip().startswith(self.open) and not line.strip().strip(self.open[0]):
                self.open = None
            return True
        opened = self._opening.match(line)
        if opened is not None:
            self.open = opened.group(1)
            return True
        return False


def reflow(text: str) -> str:
    """``text`` on one line: every run of white space one space, none at either end."""
    return _SPACES.sub(" ", text).strip()


def choose_title(declared: str, outline: tuple[Heading, ...], fallback: str, text: str) -> str:
    """A document's title: the one it declares (front matter, ``<title>``, the document
    title of reStructuredText), else its first level-1 heading, else the one heading at
    the top of its outline when the document opens with it (a title written
    ``## Timeouts`` over ``###`` sections), else ``fallback`` (made from the file name),
    spelt as ``text`` spells its words, else its first heading.

    A document whose top level holds several headings (MkDocs pages, titled by the site's
    navigation, start at ``##``) is not titled by the first of them: "Why use a Client?"
    is a section of ``clients.md``, and its file name says what it is about. Nor is one
    whose only top-level heading comes after text or after other headings: a page that
    opens with a paragraph and then documents ``### Request.send_push_promise`` is about
    server push, and ``## Third party responses`` at the end of ``responses.md`` is its
    last section. Emoji around a title are left out."""
    return _undecorated(_chosen_title(declared, outline, fallback, text))


def _chosen_title(declared: str, outline: tuple[Heading, ...], fallback: str, text: str) -> str:
    if reflow(declared):
        return reflow(declared)
    for heading in outline:
        if heading.level == 1:
            return heading.text
    if outline:
        first = outline[0]
        top = min(heading.level for heading in outline)
        tops = [heading for heading in outline if heading.level == top]
        if tops == [first] and not text[: first.offset].strip():
            return first.text
    named = _spelt_as_in(reflow(fallback), text)
    if named:
        return named
    return outline[0].text if outline else ""


_EMOJI_JOINERS = frozenset("\ufe0e\ufe0f\u200d\u20e3")  # variation selectors, ZWJ, keycap


def _is_ornament(char: str) -> bool:
    """Emoji and pictographs ("✨"), what joins them, and spaces; not the accents of a
    word ("Café" written with a combining accent keeps it)."""
    return char.isspace() or char in _EMOJI_JOINERS or unicodedata.category(char) == "So"


def _undecorated(title: str) -> str:
    """``title`` without the ornaments around it: "✨ Sponsor Starlette ✨" is "Sponsor
    Starlette"; a title of ornaments only is kept as it is."""
    start, end = 0, len(title)
    while start < end and _is_ornament(title[start]):
        start += 1
    while end > start and _is_ornament(title[end - 1]):
        end -= 1
    return title[start:end] or title


_WORD = re.compile(r"\w+")
_OPENS_SENTENCE = frozenset(".!?:;\n")


def _spelt_as_in(name: str, text: str) -> str:
    """``name`` (words of a file name), each word written in lower case spelt as ``text``
    spells it most often ("ssl" as "SSL", "django" as "Django"; a tie keeps it as it is,
    and a capital that opens a sentence counts for nothing), its first letter made a
    capital."""
    if not name:
        return ""
    lower = {word for word in _WORD.findall(name) if word.islower()}
    spellings: dict[str, Counter[str]] = {word: Counter() for word in lower}
    if lower and text:
        for found in _WORD.finditer(text):
            spelt = found.group()
            if spelt.lower() not in spellings:
                continue
            start = found.start()
            before = text[max(0, start - 16) : start].rstrip(" \t")
            if spelt[1:].islower() and (not before or before[-1] in _OPENS_SENTENCE):
                continue  # "Hooks are called": a capital that opens a sentence
            spellings[spelt.lower()][spelt] += 1

    def respell(match: re.Match[str]) -> str:
        word = match.group()
        counted = spellings.get(word)
        if not counted:
            return word
        best, times = counted.most_common(1)[0]
        return best if times > counted[word] else word

    spelt_name = _WORD.sub(respell, name)
    return spelt_name[0].upper() + spelt_name[1:]


class TextBuilder:
    """Collects the blocks of one document; offsets are into the text it builds."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self._outline: list[Heading] = []
        self._code: list[CodeBlock] = []

    def _block(self, text: str) -> int:
        if self._parts:
            self._parts.append(BLOCK_SEPARATOR)
            self._length += len(BLOCK_SEPARATOR)
        offset = self._length
        self._parts.append(text)
        self._length += len(text)
        return offset

    def heading(self, text: str, level: int) -> None:
        """A heading (reflowed; levels outside 1-6 are clamped); an empty one is dropped."""
        text = reflow(text)
        if text:
            offset = self._block(text)
            self._outline.append(Heading(text=text, level=min(max(level, 1), 6), offset=offset))

    def paragraph(self, text: str, *, keep_lines: bool = False) -> None:
        """A block of prose, reflowed onto one line unless ``keep_lines`` (plain text, where
        line breaks may matter); then each line loses its trailing spaces, and a blank line
        inside splits it into two blocks. An empty paragraph is dropped."""
        if not keep_lines:
            text = reflow(text)
            if text:
                self._block(text)
            return
        for part in _BLANK_LINES.split(text):
            lines = [line.rstrip() for line in part.strip("\n").split("\n")]
            block = "\n".join(lines).strip()
            if block:
                self._block(block)

    def row(self, cells: list[str]) -> None:
        """A table's row: its non-empty cells, joined by :data:`TABLE_CELLS`."""
        kept = [cell for cell in cells if cell]
        if kept:
            self.paragraph(TABLE_CELLS.join(kept))

    def code(self, text: str, language: str = "") -> None:
        """A code block, kept apart from the prose, at the current end of the prose; its text
        loses only trailing newlines; an empty one is dropped."""
        text = text.rstrip("\n")
        if text.strip():
            self._code.append(CodeBlock(text=text, language=language.strip(), offset=self._length))

    @property
    def outline(self) -> tuple[Heading, ...]:
        return tuple(self._outline)

    def titled(self, declared: str, fallback: str) -> ParsedDocument:
        """The document, titled as :func:`choose_title` chooses from ``declared``, the
        outline, ``fallback`` and the text."""
        text = "".join(self._parts)
        return self._build(choose_title(declared, self.outline, fallback, text), text)

    def build(self, title: str) -> ParsedDocument:
        """The document, titled ``title`` (reflowed)."""
        return self._build(title, "".join(self._parts))

    def _build(self, title: str, text: str) -> ParsedDocument:
        return ParsedDocument(
            title=reflow(title),
            text=text,
            outline=tuple(self._outline),
            code_blocks=tuple(self._code),
        )
