"""Mermaid flowcharts that are valid by construction.

Node ids are ``n0`` ... ``nN`` in the order nodes were added, never text from a source;
every label is a quoted string in which anything but letters, digits, spaces and a few
plain punctuation marks is written as a Mermaid entity code (``#35;`` for ``#``), so no
label can close its quotes, start a comment, open markup or spell HTML. Edge labels come
from the fixed relation vocabulary and are escaped the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Diagram", "escape_label", "render_diagram"]

MAX_LABEL_CHARS = 40
_PLAIN = frozenset(" -_.,:/+()'!?@")


def escape_label(text: str) -> str:
    """``text`` for inside a quoted Mermaid label: one line, at most
    :data:`MAX_LABEL_CHARS` characters, everything unusual as an entity code."""
    flat = " ".join(text.split())
    if len(flat) > MAX_LABEL_CHARS:
        flat = flat[: MAX_LABEL_CHARS - 1].rstrip() + "…"
    return "".join(c if c.isalnum() or c in _PLAIN else f"#{ord(c)};" for c in flat)


@dataclass(frozen=True, slots=True)
class Diagram:
    """Nodes (labels) and edges ``(from, to, label, dotted)`` between node indices;
    ``focus`` is the node drawn as the subject of an entity's page."""

    nodes: tuple[str, ...]
    edges: tuple[tuple[int, int, str, bool], ...]
    focus: int | None = None


def render_diagram(diagram: Diagram) -> str:
    """The diagram as Mermaid source, without the surrounding code fence."""
    lines = ["graph LR"]
    for number, label in enumerate(diagram.nodes):
        shape = ('(["', '"])') if number == diagram.focus else ('["', '"]')
        lines.append(f"  n{number}{shape[0]}{escape_label(label)}{shape[1]}")
    for source, target, label, dotted in diagram.edges:
        arrow = "-.->" if dotted else "-->"
        lines.append(f'  n{source} {arrow}|"{escape_label(label)}"| n{target}')
    return "\n".join(lines)
