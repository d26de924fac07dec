"""The one way every parser writes a document: blocks of prose, headings, code apart.

A parser calls :meth:`TextBuilder.heading`, :meth:`~TextBuilder.paragraph` and
:meth:`~TextBuilder.code` in reading order; :meth:`~TextBuilder.build` gives the
:class:`~wikisaga.content.records.ParsedDocument`. Prose blocks are separated by one blank
line, so offsets of headings and code are computed here, once, for every format.
"""

from __future__ import annotations

import re

from wikisaga.content.records import CodeBlock, Heading, ParsedDocument

__all__ = ["BLOCK_SEPARATOR", "TABLE_CELLS", "TextBuilder", "choose_title", "reflow"]

BLOCK_SEPARATOR = "\n\n"
TABLE_CELLS = " | "
"""What joins the cells of a table's row into one block of the text, in every format."""

_SPACES = re.compile(r"\s+")
_BLANK_LINES = re.compile(r"\n\s*\n")


def reflow(text: str) -> str:
    """``text`` on one line: every run of white space one space, none at either end."""
    return _SPACES.sub(" ", text).strip()


def choose_title(declared: str, outline: tuple[Heading, ...], fallback: str) -> str:
    """A document's title: the one it declares (front matter, ``<title>``, the document
    title of reStructuredText), else its first level-1 heading, else its first heading,
    else ``fallback`` (made from the file name)."""
    if reflow(declared):
        return reflow(declared)
    for heading in outline:
        if heading.level == 1:
            return heading.text
    if outline:
        return outline[0].text
    return reflow(fallback)


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

    def build(self, title: str) -> ParsedDocument:
        """The document, titled ``title`` (reflowed)."""
        return ParsedDocument(
            title=reflow(title),
            text="".join(self._parts),
            outline=tuple(self._outline),
            code_blocks=tuple(self._code),
        )
