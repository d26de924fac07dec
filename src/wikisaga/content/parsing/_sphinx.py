"""What Sphinx shows of its markup, for the parsers of documents written for it.

Sphinx extends reStructuredText with roles (``:class:`~email.message.Message```) and
directives, and MyST brings both to Markdown (``{ref}`text <target>```, fenced
``{note}`` blocks). A reader of the built documentation sees the text they stand for,
and that is what a document's prose should be: "Message", "PEP 517", "Changed in
version 20.0: ...", never the markup.
"""

from __future__ import annotations

import re

__all__ = [
    "CODE_DIRECTIVES",
    "HIDDEN_DIRECTIVES",
    "PROSE_DIRECTIVES",
    "TARGET",
    "directive_body",
    "role_text",
    "shown_reference",
    "version_note",
]

_TARGETED = re.compile(r"(?P<title>.+?)\s*<[^<>]+>$")

CODE_DIRECTIVES = frozenset({"code-block", "code", "sourcecode", "code-cell"})
"""Directives whose body is code, its language their argument."""

PROSE_DIRECTIVES = frozenset(
    {
        *("note", "warning", "caution", "tip", "important", "hint", "attention", "danger"),
        *("error", "seealso", "admonition", "versionadded", "versionchanged", "deprecated"),
        *("tab", "tab-item", "tab-set", "tabs", "dropdown", "topic", "sidebar", "margin"),
        *("card", "grid", "grid-item", "grid-item-card", "epigraph", "pull-quote"),
        *("highlights", "container", "div", "only"),
    }
)
"""Directives whose body is more of the document's prose (a note, a tab, a card)."""

HIDDEN_DIRECTIVES = frozenset(
    {
        *("toctree", "contents", "currentmodule", "module", "index", "meta", "highlight"),
        *("include", "literalinclude", "image", "raw", "only-html"),
    }
)
"""Directives that show no text of their own: a table of contents, the module the next
names are in, another file pulled in (not read: it may lie outside the documents)."""

_VERSION_NOTES = {
    "versionadded": "New in version {}",
    "versionchanged": "Changed in version {}",
    "deprecated": "Deprecated since version {}",
}
_NUMBERED_ROLES = {"pep": "PEP {}", "rfc": "RFC {}"}
TARGET = re.compile(r"\(\s*[\w.:-]+\s*\)=")
"""A MyST target, a label on a line of its own before what it names: ``(caching)=``."""
_OPTION_LINE = re.compile(r"[ \t]*:[\w-]+:.*\n?")
_OPTION_BLOCK = re.compile(r"\A[ \t]*---[ \t]*\n.*?\n[ \t]*---[ \t]*(?:\n|\Z)", re.DOTALL)


def shown_reference(content: str) -> str:
    """What Sphinx shows of a cross-reference's content: its title, else the target
    (``~a.b.C`` its last part, ``!x`` without the mark)."""
    content = " ".join(content.split())
    targeted = _TARGETED.match(content)
    if targeted:
        return targeted.group("title")
    if content.startswith("!"):
        content = content[1:]
    if content.startswith("~"):
        content = content[1:].rsplit(".", 1)[-1]
    return content


def role_text(role: str, content: str) -> str:
    """What Sphinx shows for ``role`` (``py:class``, ``ref``, ``pep``) around ``content``:
    for a ``doc`` without a title, the document's title, which only its own file knows;
    its file name stands in (``../cli/pip_config`` is "pip_config")."""
    name = role.rsplit(":", 1)[-1].lower()
    numbered = _NUMBERED_ROLES.get(name)
    if numbered is not None:
        return numbered.format(" ".join(content.split()))
    shown = shown_reference(content)
    if name == "doc" and not _TARGETED.match(" ".join(content.split())):
        return shown.rstrip("/").rsplit("/", 1)[-1]
    return shown


def version_note(name: str, argument: str) -> str | None:
    """The words Sphinx opens a version directive with ("Changed in version 20.0"), or
    ``None`` for any other directive."""
    note = _VERSION_NOTES.get(name)
    if note is None:
        return None
    version = argument.split(maxsplit=1)
    return note.format(version[0] if version else "").strip()


def directive_body(content: str) -> str:
    """A MyST directive's body without its options (``:key: value`` lines, or a block
    of them between ``---`` lines, at its start)."""
    found = _OPTION_BLOCK.match(content)
    if found is not None:
        return content[found.end() :]
    at = 0
    while (option := _OPTION_LINE.match(content, at)) is not None and option.end() > at:
        at = option.end()
    return content[at:]
