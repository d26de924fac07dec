"""HTML: the standard library's tokenizer (:class:`html.parser.HTMLParser`), not patterns.

Kept: the ``<title>``, headings ``h1``-``h6`` (the outline), the text of block elements as
paragraphs (a table row as its cells joined by ``|``), and ``<pre>`` as code, its language
taken from a ``language-*`` or ``lang-*`` class on the ``pre`` or its ``code``. Dropped, with
everything inside them: ``script``, ``style``, ``template``, ``noscript``, ``svg``, ``math``,
``iframe``, ``object``, ``canvas``, ``select``, ``button``, and navigation (``nav``,
``role="navigation"``, navigation classes, and a block of nothing but links with ``rel``
next/prev/up/index and their labels: "Next: …, Previous: …, Up: … [Index]"), whatever is
hidden from readers (``hidden``, ``aria-hidden="true"``); comments,
processing instructions and every attribute (so an event handler such as ``onclick`` can
never reach the text); and, outside code, template tags and expressions (``{% if %}``,
``{{ config.site_name }}``: a site's theme template is markup to fill in, not prose).
Character references are decoded. Malformed markup is read as a browser would, as far as the
tokenizer goes: unclosed elements end where their parent does, or at the end.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from wikisaga.content.parsing._blocks import TextBuilder
from wikisaga.content.parsing._templates import without_template_tags
from wikisaga.content.records import ParsedDocument

__all__ = ["HtmlText", "html_text", "parse_html"]

_DROPPED = frozenset(
    {
        "script", "style", "template", "noscript", "svg", "math", "iframe", "object",
        "canvas", "select", "button", "head",
    }
)  # fmt: skip
# ``head`` is dropped except for its ``title``, which is read on its own (below).
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "dd", "details",
        "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
        "header", "hgroup", "hr", "html", "legend", "li", "main", "nav", "ol", "p",
        "section", "summary", "table", "tbody", "tfoot", "thead", "ul", "br",
    }
)  # fmt: skip
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_CELLS = frozenset({"td", "th"})
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
     "track", "wbr"}
)  # fmt: skip


_NAVIGATION_CLASSES = frozenset(
    {"nav-panel", "navheader", "navfooter", "navigation", "breadcrumb", "breadcrumbs"}
)
_NAVIGATION_RELS = frozenset({"next", "prev", "previous", "up", "index", "contents", "start"})


def _navigation(tag: str, attrs: list[tuple[str, str | None]]) -> bool:
    """Whether the element is a site's or a manual's navigation, not its text: ``nav``,
    ``role="navigation"``, or a navigation class (DocBook's ``navheader``, Texinfo's
    ``nav-panel``, breadcrumbs)."""
    if tag == "nav":
        return True
    for name, value in attrs:
        if not value:
            continue
        if name == "role" and value.strip().lower() == "navigation":
            return True
        if name == "class" and _NAVIGATION_CLASSES.intersection(value.lower().split()):
            return True
    return False


def _hidden(attrs: list[tuple[str, str | None]]) -> bool:
    """Whether the element is hidden from its readers: ``hidden``, or ``aria-hidden="true"``
    (a dialog shown only on demand, with its placeholder text; a decorative "×")."""
    return any(
        name == "hidden" or (name == "aria-hidden" and (value or "").strip().lower() == "true")
        for name, value in attrs
    )


def _navigation_link(tag: str, attrs: list[tuple[str, str | None]]) -> bool:
    """Whether the element is a link to the next, previous, up or index page."""
    return tag == "a" and any(
        name == "rel" and value and _NAVIGATION_RELS.intersection(value.lower().split())
        for name, value in attrs
    )


_NAVIGATION_LABELS = frozenset({"next", "previous", "prev", "up", "index", "contents", "top"})


def _navigation_labels(text: str, linked: list[str]) -> bool:
    """Whether a block is a navigation bar: without the text of its links to the next,
    previous, up or index page (``linked``), only labels and marks are left ("Next:
    Closure Example, Previous: Multiple ABIs, Up: Using libffi [Index]")."""
    for part in linked:
        text = text.replace(part, " ", 1)
    return all(word in _NAVIGATION_LABELS for word in re.findall(r"\w+", text.lower()))


def _language(attrs: list[tuple[str, str | None]]) -> str:
    for name, value in attrs:
        if name == "class" and value:
            for cls in value.split():
                for prefix in ("language-", "lang-"):
                    if cls.startswith(prefix) and len(cls) > len(prefix):
                        return cls[len(prefix) :]
    return ""


class HtmlText(HTMLParser):
    """Feeds the text of an HTML document (or a fragment) into a :class:`TextBuilder`."""

    def __init__(self, builder: TextBuilder) -> None:
        super().__init__(convert_charrefs=True)
        self.builder = builder
        self.title = ""
        self._open: list[str] = []  # elements open now, innermost last
        self._dropping = 0  # how many of the open elements are dropped ones
        self._in_title = False
        self._inline: list[str] = []
        self._nav_links = 0  # links to the next, previous, up or index page open now
        self._linked: list[str] = []  # the text of such links in the block so far
        self._heading: int | None = None
        self._pre: list[str] | None = None
        self._pre_language = ""
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    # -- the tokenizer's callbacks ------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body" and "head" in self._open:
            self.handle_endtag("head")  # a body ends an unclosed head, as in a browser
        if (
            tag == "title"
            and not self._in_title
            and (not self._dropping or self._open[-1:] == ["head"])
        ):
            self._in_title = True
            self._open.append(tag)
            return
        if tag in _VOID:
            if tag in ("br", "hr") and not self._dropping:
                self._text(" " if tag == "br" else "")
                if tag == "hr":
                    self._flush()
            return
        self._open.append(tag)
        if tag in _DROPPED or self._dropping or _navigation(tag, attrs) or _hidden(attrs):
            self._dropping += 1  # counts every element open inside the outermost dropped one
            return
        if tag == "pre":
            self._flush()
            self._pre = []
            self._pre_language = _language(attrs)
        elif tag == "code" and self._pre is not None and not self._pre_language:
            self._pre_language = _language(attrs)
        elif tag in _HEADINGS:
            self._flush()
            self._heading = _HEADINGS[tag]
        elif tag == "tr":
            self._flush()
            self._row = []
        elif tag in _CELLS and self._row is not None:
            self._cell = []
        elif tag in _BLOCKS:
            self._flush()
        self._nav_links += _navigation_link(tag, attrs)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            self.handle_starttag(tag, attrs)
        # A self-closed non-void element (<div/>) opens and closes nothing of note.

    def handle_endtag(self, tag: str) -> None:
        if tag not in self._open:
            return  # a stray end tag: browsers ignore it
        # Close every element opened after this one, then this one.
        while self._open:
            name = self._open.pop()
            self._close(name)
            if name == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._dropping:
            self._text(data)

    def close(self) -> None:
        super().close()
        while self._open:
            self._close(self._open.pop())
        self._flush()

    # -- what the callbacks share -------------------------------------------------------

    def _close(self, name: str) -> None:
        if name == "title" and self._in_title:
            self._in_title = False
            return
        if self._dropping:
            self._dropping -= 1
            return
        if name == "a" and self._nav_links:
            self._nav_links -= 1  # links do not nest: this is the one that opened
        if name == "pre" and self._pre is not None:
            self.builder.code("".join(self._pre).strip("\n"), self._pre_language)
            self._pre = None
            self._pre_language = ""
        elif name in _HEADINGS and self._heading is not None:
            self.builder.heading("".join(self._inline), self._heading)
            self._inline, self._linked = [], []
            self._heading = None
        elif name in _CELLS and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif name == "tr" and self._row is not None:
            self.builder.row(self._row)
            self._row = None
        elif name in _BLOCKS:
            self._flush()

    def _text(self, data: str) -> None:
        if self._pre is not None:
            self._pre.append(data)
            return
        if "code" not in self._open:
            data = without_template_tags(data)
        if self._cell is not None:
            self._cell.append(data)
        elif self._row is None:
            self._inline.append(data)
            if self._nav_links:
                self._linked.append(data)

    def _flush(self) -> None:
        if self._heading is not None:
            return  # a block inside a heading: the heading ends it
        if self._inline:
            text = "".join(self._inline)
            if not (self._linked and _navigation_labels(text, self._linked)):
                self.builder.paragraph(text)
            self._inline = []
        self._linked = []


def parse_html(source: str, *, fallback_title: str) -> ParsedDocument:
    """The document in ``source``, titled by its ``<title>``, else its first heading, else
    ``fallback_title``."""
    builder = TextBuilder()
    reader = HtmlText(builder)
    reader.feed(source)
    reader.close()
    return builder.titled(reader.title, fallback_title)


def html_text(fragment: str) -> str:
    """The text of an inline HTML fragment on one line (what :class:`HtmlText` keeps)."""
    builder = TextBuilder()
    reader = HtmlText(builder)
    reader.feed(fragment)
    reader.close()
    return " ".join(block for block in builder.build("").text.split("\n\n") if block)
