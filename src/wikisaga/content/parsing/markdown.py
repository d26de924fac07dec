"""Markdown: CommonMark and tables, parsed by markdown-it-py into tokens, never rendered.

Kept: headings (ATX and setext) as the outline; paragraphs, list items, block quotes and
table rows (cells joined by ``|``) as prose; fenced and indented code as code blocks, the
language from the fence's info string. Inline markup is reduced to its text (a link to its
label, an image to its alt text, inline code to its content). Raw HTML, inline or as a
block, goes through the HTML reader (:mod:`~wikisaga.content.parsing.html`), so scripts,
styles and attributes are dropped from Markdown as from HTML.

A YAML front matter block (``---`` lines at the very top) is not prose: its ``title:`` is
the document's title, the rest is dropped.

MyST, the Markdown of Sphinx, reads as its built pages do (:mod:`._sphinx`): a role
before inline code (``{ref}`text <target>```) is the text it shows, a target line
(``(caching)=``) is no text, and a fence named in braces is a directive: a note's, a
tab's or a version note's body is prose ("Changed in version 20.0: ..."), an
``{eval-rst}`` block is read as reStructuredText, a ``{code-block} python`` is Python
code, a table of contents or an included file (``{toctree}``, ``{include}``) is nothing,
any other directive code of no language.
Hugo's shortcodes and Liquid's tags (static sites' templating) are rewritten first
(:mod:`._templates`): an example or a highlighted listing is code, a callout's body
prose, any other tag nothing. So are MkDocs' blocks (:mod:`._mkdocs`): an admonition's
or a tab's body is read as Markdown, its marker line is not text, an API stub
(``::: package.name``) is nothing.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.token import Token

from wikisaga.content.parsing._blocks import TextBuilder
from wikisaga.content.parsing._mkdocs import without_mkdocs
from wikisaga.content.parsing._sphinx import (
    CODE_DIRECTIVES,
    HIDDEN_DIRECTIVES,
    PROSE_DIRECTIVES,
    TARGET,
    directive_body,
    role_text,
    version_note,
)
from wikisaga.content.parsing._templates import without_templates
from wikisaga.content.parsing.html import HtmlText, html_text
from wikisaga.content.parsing.rst import read_rst_into
from wikisaga.content.records import ParsedDocument

__all__ = ["parse_markdown"]

_MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_TITLE_LINE = re.compile(r"^title:[ \t]*(.*?)[ \t]*$", re.MULTILINE)
# MyST: a role right before its inline code ("{ref}`text <target>`"), a directive's fence.
_ROLE = re.compile(r"\{(?P<role>[A-Za-z][\w.+:-]*)\}$")
_DIRECTIVE = re.compile(r"\{(?P<name>[A-Za-z][\w.+:-]*)\}[ \t]*(?P<argument>.*)$")


def _front_matter(source: str) -> tuple[str, str]:
    """The title declared in front matter (or ``""``) and the source without the block."""
    found = _FRONT_MATTER.match(source)
    if found is None:
        return "", source
    title = _TITLE_LINE.search(found.group(1))
    declared = title.group(1).strip("'\"") if title else ""
    # Blank lines where the block was keep the rest of the source where it was.
    return declared, "\n" * found.group(0).count("\n") + source[found.end() :]


def _inline_text(token: Token) -> str:
    """The text of an ``inline`` token; with raw HTML in it, the HTML reader's text."""
    parts: list[str] = []
    has_html = False
    children = token.children or []
    role: re.Match[str] | None = None
    for i, child in enumerate(children):
        content = child.content
        if child.type == "code_inline" and role is not None:
            # "{ref}`pip freeze`": the role goes, its code shows as Sphinx shows it
            content = role_text(role.group("role"), content)
        role = None
        before_code = i + 1 < len(children) and children[i + 1].type == "code_inline"
        if child.type == "text" and before_code:
            role = _ROLE.search(content)
            content = content[: role.start()] if role else content
        if child.type in ("text", "code_inline"):
            parts.append(html.escape(content, quote=False))
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type == "image":
            parts.append(html.escape(child.content, quote=False))
        elif child.type == "html_inline":
            has_html = True
            parts.append(child.content)
    joined = "".join(parts)
    if has_html:
        return html_text(joined)
    return html.unescape(joined)


def _walk(tokens: Sequence[Token], builder: TextBuilder) -> None:
    heading: int | None = None
    row: list[str] | None = None
    for token in tokens:
        kind = token.type
        if kind == "heading_open":
            heading = int(token.tag[1:])
        elif kind == "heading_close":
            heading = None
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close" and row is not None:
            builder.row(row)
            row = None
        elif kind == "inline":
            text = _inline_text(token)
            if heading is not None:
                builder.heading(text, heading)
            elif row is not None:
                row.append(" ".join(text.split()))
            elif not TARGET.fullmatch(text.strip()):  # "(caching)=" labels, shows nothing
                builder.paragraph(text)
        elif kind in ("fence", "code_block"):
            _fence(token, builder)
        elif kind == "html_block":
            reader = HtmlText(builder)
            reader.feed(token.content)
            reader.close()


def _fence(token: Token, builder: TextBuilder) -> None:
    """Code, in the language its info string names; or a MyST directive (a fence named in
    braces): a note's or a tab's body is prose, read as Markdown, an ``eval-rst``'s is
    read as reStructuredText, a ``code-block``'s is code in the language it names, a
    table of contents or an included file is nothing, anything else code of no
    language."""
    directive = _DIRECTIVE.match(token.info.strip())
    if directive is None:
        language = token.info.split(maxsplit=1)
        builder.code(token.content, language[0] if language else "")
        return
    name, argument = directive.group("name").lower(), directive.group("argument")
    body = directive_body(token.content)
    if name in HIDDEN_DIRECTIVES:
        return
    if name == "eval-rst":  # reStructuredText inside the page: its prose and code
        read_rst_into(body, builder)
        return
    if name in PROSE_DIRECTIVES:
        note = version_note(name, argument)
        if note is not None:  # "Changed in version 20.0: pip now caches ..."
            body = f"{note}: {body.lstrip()}" if body.strip() else f"{note}."
        _walk(_MARKDOWN.parse(body), builder)
    elif name in CODE_DIRECTIVES:
        language = argument.split(maxsplit=1)
        builder.code(body, language[0] if language else "")
    else:
        builder.code(body, "")


def parse_markdown(source: str, *, fallback_title: str) -> ParsedDocument:
    """The document in Markdown ``source``, titled by its front matter, else its first
    heading, else ``fallback_title``."""
    declared, body = _front_matter(source)
    builder = TextBuilder()
    _walk(_MARKDOWN.parse(without_mkdocs(without_templates(body))), builder)
    return builder.titled(declared, fallback_title)
