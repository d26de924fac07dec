"""Parsing: bytes of one file in, a :class:`~wikisaga.content.records.ParsedDocument` out.

==================================  ===========  =======================================
file name ends in                   format       parser
==================================  ===========  =======================================
``.md``, ``.markdown``, ``.mdown``  ``markdown`` markdown-it-py (:mod:`.markdown`)
``.rst``, ``.rest``                 ``rst``      docutils (:mod:`.rst`)
``.html``, ``.htm``, ``.xhtml``     ``html``     the standard library's HTMLParser (:mod:`.html`)
``.txt``, ``.text``, no suffix      ``text``     blank-line paragraphs (:mod:`.text`)
==================================  ===========  =======================================

Every parser keeps prose and headings in :attr:`~ParsedDocument.text`, code apart in
:attr:`~ParsedDocument.code_blocks`, and drops scripts, styles and markup. What cannot be
parsed is refused by :func:`decode` and :func:`parse` with :class:`Unparseable`, whose
message is the reason a file is skipped (binary, not UTF-8, empty, no text).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import PurePosixPath

from wikisaga.content.parsing._blocks import TABLE_CELLS
from wikisaga.content.parsing.html import parse_html
from wikisaga.content.parsing.markdown import parse_markdown
from wikisaga.content.parsing.rst import parse_rst
from wikisaga.content.parsing.text import parse_text
from wikisaga.content.records import ParsedDocument

__all__ = [
    "FORMATS",
    "PARSER_VERSION",
    "PROSE_NAMES",
    "TABLE_CELLS",
    "Unparseable",
    "decode",
    "format_of",
    "parse",
]

PARSER_VERSION = "7"
"""Changes whenever a parser's output for the same input changes, so stored documents made
by an older parser are parsed again."""

FORMATS: dict[str, str] = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".mdown": "markdown",
    ".rst": "rst",
    ".rest": "rst",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".txt": "text",
    ".text": "text",
}
"""The format of each file name suffix (lowercase)."""

PROSE_NAMES = frozenset(
    {
        *("readme", "license", "licence", "copying", "copyright", "notice", "authors"),
        *("contributors", "maintainers", "credits", "thanks", "changes", "changelog"),
        *("history", "news", "releasenotes", "install", "upgrading", "contributing"),
        *("hacking", "code_of_conduct", "governance", "security", "support", "faq"),
        *("todo", "bugs", "usage"),
    }
)
"""The names (lowercase) of the files without a suffix that are read, as text: the
conventional names of a project's prose. Any other file without one (``CNAME``,
``Makefile``, ``Dockerfile``, ``VERSION``) is not a document."""

_PARSERS: dict[str, Callable[..., ParsedDocument]] = {
    "markdown": parse_markdown,
    "rst": parse_rst,
    "html": parse_html,
    "text": parse_text,
}
_SNIFF_BYTES = 8192

# A theme's template: it extends another or defines blocks for others to fill ("{%
# extends "base.html" %}", "{%- block announce %}"), outside any code shown on the page.
_THEME_TAG = re.compile(r"\{%-?\s*(?:extends|block)\b")
_SHOWN_CODE = re.compile(r"<(pre|code|textarea)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


class Unparseable(ValueError):
    """A file's bytes cannot be made into a document; the message is the reason."""


def format_of(name: str) -> str | None:
    """The format of a file called ``name``, or ``None`` if no parser reads it."""
    path = PurePosixPath(name)
    if not path.suffix:
        return "text" if path.name.lower() in PROSE_NAMES else None
    return FORMATS.get(path.suffix.lower())


def decode(data: bytes) -> str:
    """The text of a file: UTF-8 (a byte order mark is dropped), line ends made ``\\n``.

    Raises :class:`Unparseable` for binary data (a NUL byte near the start), bytes that
    are not UTF-8, and an empty or blank file.
    """
    if b"\0" in data[:_SNIFF_BYTES]:
        raise Unparseable("binary file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Unparseable(f"not UTF-8 text (byte {exc.start})") from None
    if "\0" in text:
        raise Unparseable("binary file")
    if not text.strip():
        raise Unparseable("empty file")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse(text: str, format: str, *, fallback_title: str) -> ParsedDocument:
    """Parse decoded ``text`` as ``format`` (a value of :data:`FORMATS`).

    Raises :class:`Unparseable` when nothing is left, neither prose nor code (a page of
    only scripts, say), or nothing but headings (a page that only includes another), and
    for an HTML template of a site's theme.
    """
    parser = _PARSERS.get(format)
    if parser is None:
        raise Unparseable(f"unsupported format {format!r}")
    if format == "html" and _THEME_TAG.search(_SHOWN_CODE.sub("", text)):
        # A site's theme kept with its documents (MkDocs' overrides/main.html, Sphinx's
        # _templates/layout.html): what prose it holds is a banner or a footer, on every
        # page of the site and the subject of none.
        raise Unparseable("a site theme's template ({% extends %}, {% block %}), not a page")
    document = parser(text, fallback_title=fallback_title)
    if document.code_blocks:
        return document
    if not document.text.strip():
        raise Unparseable("no text")
    if not _beyond_headings(document):
        # A page that only pulls in others ("# Changes" over an include, a table of
        # contents): nothing of its own to say.
        raise Unparseable("no text beyond its headings")
    return document


def _beyond_headings(document: ParsedDocument) -> bool:
    """Whether ``document``'s text holds anything besides its headings."""
    text = document.text
    for heading in reversed(document.outline):
        text = text[: heading.offset] + text[heading.offset + len(heading.text) :]
    return bool(text.strip())
