"""reStructuredText, parsed by docutils into its document tree, never rendered.

Kept: the document title (docutils promotes a lone top section title to it) and section
titles as the outline, their level the depth of the section; paragraphs, list items,
definitions, field lists and table rows (cells joined by ``|``) as prose; literal blocks,
``code``/``code-block`` directives and doctest blocks as code, the language from the
directive. Sphinx's roles, unknown to docutils, read as the text Sphinx shows
(``:class:`~email.message.Message``` is "Message", ``:doc:`the guide <guide>``` "the
guide"). Dropped: comments, substitution definitions, targets, the messages docutils
writes about errors in the source, and ``raw`` content.

The parser runs with docutils' file access off (``include`` and ``raw :file:`` do nothing,
so a document cannot pull in another file of the machine), no configuration files read,
and no error stopping it: a broken document gives what could be read of it.
"""

from __future__ import annotations

import copy
import io
import re
from functools import cache
from typing import Any

from docutils import nodes
from docutils.core import publish_doctree
from docutils.frontend import Values, get_default_settings
from docutils.parsers.rst import Parser
from docutils.readers.standalone import Reader
from docutils.utils import SystemMessage

from wikisaga.content.parsing._blocks import TextBuilder
from wikisaga.content.parsing._sphinx import role_text
from wikisaga.content.records import ParsedDocument

__all__ = ["parse_rst", "read_rst_into"]

_DROPPED = (
    nodes.comment,
    nodes.raw,
    nodes.substitution_definition,
    nodes.system_message,
    nodes.target,
    nodes.image,
)
_CODE = (nodes.literal_block, nodes.doctest_block)


_OVERRIDES: dict[str, Any] = {
    "file_insertion_enabled": False,
    "raw_enabled": False,
    "report_level": 5,
    "halt_level": 5,
    "input_encoding": "unicode",
    "syntax_highlight": "none",
    "doctitle_xform": True,
    "sectsubtitle_xform": False,
    "language_code": "en",
}


@cache
def _defaults() -> Values:
    """docutils' settings with ours, built once: building them is a third of a parse.
    Made from the components' defaults alone, so no configuration file is read."""
    settings = get_default_settings(Reader, Parser)
    for name, value in _OVERRIDES.items():
        setattr(settings, name, value)
    return settings


def _settings() -> Values:
    settings = copy.copy(_defaults())
    settings.warning_stream = io.StringIO()
    return settings


def _language(node: nodes.Element) -> str:
    found: list[Any] = list(node.get("classes", []))
    classes = [str(name) for name in found]
    if "code" in classes:
        rest = [cls for cls in classes if cls != "code"]
        return rest[0] if rest else ""
    return str(node.get("language", ""))


class _Walker:
    def __init__(self, builder: TextBuilder, title_level: int) -> None:
        self.builder = builder
        self.title_level = title_level

    def visit(self, node: nodes.Node, depth: int) -> None:
        if isinstance(node, _DROPPED):
            return
        if isinstance(node, nodes.title):
            parent = node.parent
            if isinstance(parent, nodes.document):
                self.builder.heading(node.astext(), 1)
            elif isinstance(parent, nodes.section):
                self.builder.heading(node.astext(), depth + self.title_level)
            else:  # the title of a topic, sidebar, table or admonition: prose
                self.builder.paragraph(node.astext())
            return
        if isinstance(node, nodes.subtitle):
            self.builder.heading(node.astext(), 2)
            return
        if isinstance(node, _CODE):
            self.builder.code(node.astext(), _language(node))
            return
        if isinstance(node, nodes.row):
            self.builder.row([" ".join(entry.astext().split()) for entry in node.children])
            return
        if isinstance(node, nodes.TextElement):
            self.builder.paragraph(node.astext())
            return
        inner = depth + 1 if isinstance(node, nodes.section) else depth
        for child in node.children:
            self.visit(child, inner)


_ROLE = re.compile(r":(?P<role>[A-Za-z][\w.+:-]*):`(?P<content>[^`]+)`_?$")


def _show_unknown_roles(tree: nodes.document) -> None:
    """Sphinx's roles (``:class:`~email.message.Message```, ``:func:`parse <p.parse>```),
    unknown to docutils, come out as the text Sphinx would show ("Message", "parse"),
    not as their markup."""
    for node in list(tree.findall(nodes.problematic)):
        role = _ROLE.match(node.rawsource.strip())
        if role is not None:
            shown = role_text(role.group("role"), role.group("content"))
            node.replace_self(nodes.literal(node.rawsource, shown))


def read_rst_into(source: str, builder: TextBuilder) -> None:
    """Read the reStructuredText fragment ``source`` into ``builder``, after what it holds:
    the body of a MyST ``{eval-rst}`` block, part of a Markdown document. Its sections
    are headings below the document's title (a section at its top is level 2); nothing
    of it is promoted to a title."""
    settings = _settings()
    settings.doctitle_xform = False
    try:
        tree = publish_doctree(source, settings=settings)
    except SystemMessage:  # as in parse_rst: read it as text
        builder.paragraph(source, keep_lines=True)
        return
    _show_unknown_roles(tree)
    walker = _Walker(builder, title_level=1)
    for child in tree.children:
        walker.visit(child, 0)


def parse_rst(source: str, *, fallback_title: str) -> ParsedDocument:
    """The document in reStructuredText ``source``, titled by its document title, else its
    first section title, else ``fallback_title``."""
    try:
        tree = publish_doctree(source, settings=_settings())
    except SystemMessage:  # only past halt_level, which nothing reaches; read it as text
        builder = TextBuilder()
        builder.paragraph(source, keep_lines=True)
        return builder.build(fallback_title)
    _show_unknown_roles(tree)
    declared = str(tree.get("title", ""))
    builder = TextBuilder()
    # With a document title, top-level sections are level 2; without, level 1.
    walker = _Walker(builder, title_level=1 if declared else 0)
    for child in tree.children:
        walker.visit(child, 0)
    return builder.titled(declared, fallback_title)
