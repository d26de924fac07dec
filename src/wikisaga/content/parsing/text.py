"""Plain text: paragraphs are separated by blank lines, and their line breaks are kept.

A paragraph of two lines whose second is a rule of ``=`` (level 1) or ``-`` (level 2), at
least three long, is a heading, as in setext and many README files. The title is the first
level-1 heading, else the first paragraph when it is one short line (at most 100
characters), else the fallback.
"""

from __future__ import annotations

import re

from wikisaga.content.parsing._blocks import TextBuilder
from wikisaga.content.records import ParsedDocument

__all__ = ["parse_text"]

_PARAGRAPHS = re.compile(r"\n[ \t]*\n")
_RULE = re.compile(r"^(=+|-+)$")
_SHORT_TITLE = 100


def parse_text(source: str, *, fallback_title: str) -> ParsedDocument:
    """The document in plain text ``source`` (see the module docstring)."""
    builder = TextBuilder()
    first_block: str | None = None
    for paragraph in _PARAGRAPHS.split(source):
        lines = [line.rstrip() for line in paragraph.strip("\n").split("\n")]
        if len(lines) == 2 and lines[0].strip() and _RULE.fullmatch(lines[1].strip()):
            rule = lines[1].strip()
            if len(rule) >= 3:
                builder.heading(lines[0], 1 if rule[0] == "=" else 2)
                first_block = "" if first_block is None else first_block
                continue
        block = "\n".join(lines).strip()
        if block and first_block is None:
            first_block = block
        builder.paragraph(block, keep_lines=True)
    outline = builder.outline
    title_line = first_block or ""
    short = "\n" not in title_line and len(title_line) <= _SHORT_TITLE
    has_level_one = any(heading.level == 1 for heading in outline)
    declared = title_line if short and not has_level_one else ""
    return builder.titled(declared, fallback_title)
