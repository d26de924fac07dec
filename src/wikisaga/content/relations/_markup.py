"""Prose out of Markdown, reStructuredText or HTML, at the same offsets.

:func:`strip_markup` blanks out everything that is not prose — code blocks, inline code
that is not a name, URLs, images, tables, tags, directives, emphasis and list markers —
by overwriting it with spaces (new lines are kept). The result has the length of the
input, so an offset into the prose is an offset into the document's own text, and a
triple's provenance points at the original. Inline code that is a single name
(```pydantic.BaseModel```) is kept with its backticks: the extractor reads it as a code
identifier. Headings, list items, table rows and HTML block elements end a sentence
whether or not they end in punctuation; their starts are returned as ``breaks``.

This is a small, forgiving stripper for relation extraction, not a parser: the content
parsers of ``wikisaga.content`` are the authority on a document's structure.
"""

from __future__ import annotations

import bisect
import html
import re
from dataclasses import dataclass

__all__ = ["SYNTAXES", "Prose", "strip_markup"]

SYNTAXES = ("markdown", "rst", "html", "text")
"""The markups :func:`strip_markup` knows; ``text`` is taken as prose already."""


@dataclass(frozen=True, slots=True)
class Prose:
    """A document's prose at the document's offsets, and where blocks start."""

    text: str
    breaks: tuple[int, ...] = ()


class _Blanker:
    """The document's characters, blanked span by span."""

    def __init__(self, text: str) -> None:
        self.source = text
        self.chars = list(text)
        self.breaks: set[int] = set()
        self.code: list[tuple[int, int]] = []
        """The spans of the inline code kept (backticks included), sorted."""

    def in_code(self, at: int) -> bool:
        """Whether offset ``at`` is inside inline code that was kept."""
        index = bisect.bisect_right(self.code, (at, len(self.chars))) - 1
        return index >= 0 and self.code[index][0] <= at < self.code[index][1]

    def blank(self, start: int, end: int) -> None:
        for i in range(start, end):
            if self.chars[i] != "\n":
                self.chars[i] = " "

    def blank_match(self, match: re.Match[str], group: int | str = 0) -> None:
        self.blank(match.start(group), match.end(group))

    def current(self) -> str:
        """The text with what was blanked so far."""
        return "".join(self.chars)


_URL = re.compile(r"""(?:https?|ftp|file)://[^\s<>"'`)\]]+|www\.[^\s<>"'`)\]]+""")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|\w+);")
_NAME_LIKE = re.compile(r"[\w.:/@-]{1,60}(?:\(\))?")
_HTML_DROP = re.compile(
    r"<!--.*?-->|<(script|style|pre|code|svg|math)\b[^>]*>.*?</\1\s*>", re.S | re.I
)
_HTML_TAG = re.compile(r"</?[A-Za-z][\w:-]*(?:\s[^<>]*)?/?>")
_HTML_BLOCK = re.compile(
    r"</?(?:p|div|li|ul|ol|h[1-6]|br|tr|td|th|table|section|article|blockquote|dd|dt)\b",
    re.I,
)


def _blank_urls(doc: _Blanker) -> None:
    text = doc.current()
    for pattern in (_URL, _EMAIL):
        for match in pattern.finditer(text):
            end = match.end()
            while end > match.start() and text[end - 1] in ".,;:!?":
                end -= 1  # the sentence's own punctuation, not the URL's
            doc.blank(match.start(), end)


def _entities(doc: _Blanker) -> None:
    for match in _ENTITY.finditer(doc.current()):
        char = html.unescape(match.group())
        doc.blank_match(match)
        if len(char) == 1 and not char.isspace():
            doc.chars[match.start()] = char


def _html(doc: _Blanker) -> None:
    text = doc.current()
    for match in _HTML_DROP.finditer(text):
        doc.blank_match(match)
        doc.breaks.add(match.end())
    for match in _HTML_TAG.finditer(doc.current()):
        if _HTML_BLOCK.match(match.group()):
            doc.breaks.add(match.end())
        doc.blank_match(match)
    _entities(doc)


def _inline_code(doc: _Blanker, pattern: re.Pattern[str]) -> None:
    """Keep a name in backticks (one pair, padded); blank any other code span."""
    for match in pattern.finditer(doc.current()):
        inner = match.group("code")
        start, end = match.start(), match.end()
        if _NAME_LIKE.fullmatch(inner.strip()):
            doc.blank(start, end)
            at = match.start("code")
            doc.chars[at - 1] = "`"
            doc.chars[match.end("code")] = "`"
            for i, char in enumerate(inner):
                doc.chars[at + i] = char
            bisect.insort(doc.code, (at - 1, match.end("code") + 1))
        else:
            doc.blank(start, end)


_MD_FENCE = re.compile(
    r"^[ ]{0,3}(`{3,}|~{3,}).*?$(?:.*?^[ ]{0,3}\1[`~]*[ \t]*$|.*\Z)", re.M | re.S
)
_MD_CODE = re.compile(r"(?<!`)(`+)(?!`)(?P<code>.+?)(?<!`)\1(?!`)", re.S)
_MD_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)|!\[[^\]\n]*\]\[[^\]\n]*\]")
_MD_LINK = re.compile(r"\[(?P<text>[^\]\n]*)\](?:\((?P<url>[^)\n]*)\)|\[(?P<ref>[^\]\n]*)\])")
_MD_REFDEF = re.compile(r"^[ ]{0,3}\[[^\]\n]+\]:[^\n]*$", re.M)
_MD_HEADING = re.compile(r"^[ ]{0,3}(#{1,6})(?:[ \t]|$)|^[ ]{0,3}[=-]{3,}[ \t]*$", re.M)
_MD_LIST = re.compile(r"^[ \t]*(?:[-*+•]|\d{1,3}[.)])[ \t]+", re.M)
_MD_QUOTE = re.compile(r"^[ \t]*(?:>[ \t]?)+", re.M)
_MD_RULE = re.compile(r"^[ \t]*(?:[-*_][ \t]*){3,}$", re.M)
_MD_TABLE = re.compile(r"^[^\n]*\|[^\n]*\|[^\n]*$", re.M)
_MD_EMPHASIS = re.compile(
    r"(?<![\w*_~])(?:\*{1,3}|_{1,3}|~~)(?=\S)|(?<=\S)(?:\*{1,3}|_{1,3}|~~)(?![\w*_~])"
)
_INDENTED = re.compile(r"(?:^\n|\A)((?:(?:[ ]{4}|\t)[^\n]*\n?|[ \t]*\n)+)", re.M)


def _markdown(doc: _Blanker) -> None:
    for match in _MD_FENCE.finditer(doc.current()):
        doc.blank_match(match)
        doc.breaks.add(match.end())
    for match in _INDENTED.finditer(doc.current()):
        doc.blank_match(match, 1)
    _html(doc)
    for pattern in (_MD_IMAGE, _MD_REFDEF, _MD_TABLE, _MD_RULE):
        for match in pattern.finditer(doc.current()):
            doc.blank_match(match)
            doc.breaks.add(match.start())
            doc.breaks.add(match.end())
    _inline_code(doc, _MD_CODE)
    for match in _MD_LINK.finditer(doc.current()):
        doc.blank(match.start(), match.start("text"))
        doc.blank(match.end("text"), match.end())
    _blank_urls(doc)
    for pattern in (_MD_HEADING, _MD_LIST, _MD_QUOTE):
        for match in pattern.finditer(doc.current()):
            doc.blank_match(match)
            doc.breaks.add(match.start())
            if pattern is _MD_HEADING:  # a heading ends with its line
                doc.breaks.add(_line_end(doc.source, match.start()))
    for match in _MD_EMPHASIS.finditer(doc.current()):
        if not doc.in_code(match.start()):  # `__init__`, `UVICORN_` keep theirs
            doc.blank_match(match)


def _line_end(text: str, at: int) -> int:
    end = text.find("\n", at)
    return len(text) if end < 0 else end


_RST_DIRECTIVE = re.compile(
    r"^([ \t]*)\.\.(?:[ \t][^\n]*)?\n?(?:(?:\1[ \t]+[^\n]*|[ \t]*)\n?)*", re.M
)
_RST_LITERAL = re.compile(r"::[ \t]*\n((?:[ \t]*\n)+((?:[ \t]+[^\n]*\n?|[ \t]*\n)+))")
_RST_ADORNMENT = re.compile(r"""^([=\-~^"'`#*+:._])\1{2,}[ \t]*$""", re.M)
_RST_CODE = re.compile(r"``(?P<code>[^`\n]+?)``")
_RST_ROLE = re.compile(r":[\w:+-]+:`(?P<code>[^`\n]+)`")
_RST_LINK = re.compile(r"`(?P<text>[^`<\n]+?)\s*(?:<[^>\n]*>)?`__?")
_RST_FIELD = re.compile(r"^[ \t]*:[\w .-]+:(?=\s)", re.M)
_RST_SUBSTITUTION = re.compile(r"\|[\w -]+\|_{0,2}")
_RST_LIST = re.compile(r"^[ \t]*(?:[-*+•]|#\.|\d{1,3}[.)]|\(\d{1,3}\))[ \t]+", re.M)
_RST_DOCTEST = re.compile(r"^[ \t]*>>>[^\n]*(?:\n[ \t]*(?:\.\.\.|\S)[^\n]*)*", re.M)
_RST_TABLE = re.compile(r"^[ \t]*[+|][^\n]*[+|][ \t]*$", re.M)
_RST_EMPHASIS = re.compile(r"(?<![\w*])\*{1,2}(?=\S)|(?<=\S)\*{1,2}(?![\w*])")
_RST_REFERENCE = re.compile(r"(?<=[\w>`])__?(?=[\s.,;:)!?]|$)", re.M)


def _rst(doc: _Blanker) -> None:
    for match in _RST_LITERAL.finditer(doc.current()):
        doc.blank_match(match, 1)
        doc.chars[match.start() + 1] = " "  # "Example::" reads "Example:"
        doc.breaks.add(match.end())
    for pattern in (_RST_DIRECTIVE, _RST_DOCTEST, _RST_ADORNMENT, _RST_TABLE):
        for match in pattern.finditer(doc.current()):
            doc.blank_match(match)
            doc.breaks.add(match.start())
            doc.breaks.add(match.end())
    for pattern in (_RST_ROLE, _RST_CODE):
        _inline_code(doc, pattern)
    for match in _RST_LINK.finditer(doc.current()):
        doc.blank(match.start(), match.start("text"))
        doc.blank(match.end("text"), match.end())
    _blank_urls(doc)
    _html(doc)
    for pattern in (_RST_FIELD, _RST_SUBSTITUTION):
        for match in pattern.finditer(doc.current()):
            doc.blank_match(match)
    for match in _RST_LIST.finditer(doc.current()):
        doc.blank_match(match)
        doc.breaks.add(match.start())
    for match in _RST_EMPHASIS.finditer(doc.current()):
        doc.blank_match(match)
    for match in _RST_REFERENCE.finditer(doc.current()):
        doc.blank_match(match)  # "works on asyncio_ or Trio_": references, not names


def strip_markup(text: str, syntax: str = "markdown") -> Prose:
    """The prose of ``text`` (``syntax``: one of :data:`SYNTAXES`), at ``text``'s offsets.

    ``len(result.text) == len(text)`` always; every character kept is where it was.
    """
    if syntax not in SYNTAXES:
        raise ValueError(f"unknown markup {syntax!r}; expected one of {', '.join(SYNTAXES)}")
    doc = _Blanker(text)
    if syntax == "markdown":
        _markdown(doc)
    elif syntax == "rst":
        _rst(doc)
    elif syntax == "html":
        _html(doc)
        _blank_urls(doc)
    else:
        _blank_urls(doc)
    stripped = doc.current()
    breaks = tuple(sorted(b for b in doc.breaks if 0 < b < len(stripped)))
    return Prose(stripped, breaks)
