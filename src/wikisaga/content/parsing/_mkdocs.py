"""MkDocs' block extensions in Markdown sources: admonitions, details, tabs, API stubs.

Documentation built with MkDocs (and Material for MkDocs) writes blocks that CommonMark
does not know, each a marker line and a body indented by four spaces:

* an admonition, ``!!! note`` or ``!!! warning "Mind the gap"``, and its collapsible
  form, ``??? tip`` or ``???+ tip`` (Python-Markdown's ``admonition``, PyMdown's
  ``details``);
* a content tab, ``=== "Linux"`` (PyMdown's ``tabbed``);
* an API stub, ``::: package.module.name`` with its options (mkdocstrings), which the built
  site replaces by the object's documentation.

Read as CommonMark, the marker joins the body's first paragraph ("!!! note Only use these
functions ...") and a tab's code sample becomes part of a paragraph. :func:`without_mkdocs`
rewrites a source before it is parsed, outside fenced code: the marker line goes (a title
in quotes stays, as a paragraph of its own) and the body is dedented into an ordinary part
of the document, read as Markdown, nested blocks included; an API stub goes whole, since
nothing of what the reader of the built page sees is in the source.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from wikisaga.content.parsing._blocks import Fences

__all__ = ["without_mkdocs"]

_ADMONITION = re.compile(
    r"^(?P<indent>[ ]*)(?:!!!|\?\?\?\+?)[ \t]+[\w-]+(?:[ \t]+[\w-]+)*"
    r'(?:[ \t]+"(?P<title>[^"\n]*)")?[ \t]*$'
)
_TAB = re.compile(r'^(?P<indent>[ ]*)===[+!]{0,2}[ \t]+"(?P<title>[^"\n]*)"[ \t]*$')
_API_STUB = re.compile(r"^(?P<indent>[ ]*):::[ \t]+[A-Za-z_][\w.:-]*[ \t]*$")
_BODY_INDENT = 4


def without_mkdocs(source: str) -> str:
    """``source`` with MkDocs' blocks rewritten as the module docstring says."""
    if "!!!" not in source and "???" not in source and "===" not in source and ":::" not in source:
        return source
    return "".join(_rewrite(source.splitlines(keepends=True)))


def _indent(line: str) -> int:
    """The columns of white space before ``line``'s first character (a tab is four)."""
    columns = 0
    for char in line:
        if char == " ":
            columns += 1
        elif char == "\t":
            columns += _BODY_INDENT - columns % _BODY_INDENT
        else:
            break
    return columns


def _dedent(line: str, indent: int) -> str:
    """``line`` without the four columns of a body's indent past ``indent``."""
    if not line.strip():
        return "\n"
    expanded = line.expandtabs(_BODY_INDENT)
    return expanded[:indent] + expanded[indent + _BODY_INDENT :]


def _body_end(lines: Sequence[str], start: int, indent: int) -> int:
    """The index just past the body that starts at ``start``: lines indented past
    ``indent`` by a body's indent, with blank lines between them (not after)."""
    end = start
    for number in range(start, len(lines)):
        line = lines[number]
        if not line.strip():
            continue
        if _indent(line) < indent + _BODY_INDENT:
            break
        end = number + 1
    return end


def _rewrite(lines: Sequence[str]) -> Iterator[str]:
    fences = Fences(indented=True)
    number = 0
    while number < len(lines):
        line = lines[number]
        number += 1
        if fences.code(line):
            yield line
            continue
        block = _ADMONITION.match(line) or _TAB.match(line) or _API_STUB.match(line)
        if block is None:
            yield line
            continue
        indent = len(block.group("indent"))
        end = _body_end(lines, number, indent)
        body = [_dedent(body_line, indent) for body_line in lines[number:end]]
        number = end
        if block.re is _API_STUB:
            yield "\n"
            continue
        title = block.group("title")
        yield "\n"
        if title and title.strip():
            yield f"{' ' * indent}{title.strip()}\n\n"
        yield from _rewrite(body)
        yield "\n"
