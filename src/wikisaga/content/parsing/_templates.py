"""Static-site templating in Markdown sources: Hugo's shortcodes and Liquid's tags.

Documentation sites built with Hugo or Jekyll write ``{{< example >}} <button ...>
{{< /example >}}``, ``{{< callout warning >}} ... {{< /callout >}}``, ``{% highlight html
%} ... {% endhighlight %}`` and ``{{ site.version }}`` in their Markdown. None of it is
the document's prose: a reader of the built site sees a live example, a highlighted
listing, a note, or a value the site fills in. :func:`without_templates` rewrites a
source before it is parsed, outside fenced code and inline code:

* a block whose body is markup or code (``example``, ``highlight``, ``code``, Liquid's
  ``highlight`` and ``capture``, and any other shortcode with a closing tag, such as a
  template looping over the site's data) becomes a fenced code block, in the language
  its tag names (an ``example`` is HTML);
* a block whose body is prose (``callout``, ``note``, ``tip``, ``warning``, ``details``,
  ``tab`` and the like) keeps its body and loses its tags;
* any other tag or expression (``{{< docsref "/x" >}}``, ``{{< param version >}}``,
  ``{% include x.html %}``, ``{{ .Title }}``) is dropped: what it stands for is known only
  to the site that renders it.

:func:`without_template_tags` drops every tag, expression and comment from a run of text:
the HTML reader applies it to the prose of an HTML page (a site's theme template kept
with its documents, ``{% if ... %}``, ``{{ config.site_name }}``), not to its code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from wikisaga.content.parsing._blocks import Fences

__all__ = ["without_template_tags", "without_templates"]

_PROSE = frozenset(
    {
        *("callout", "note", "tip", "warning", "caution", "danger", "important", "info"),
        *("alert", "admonition", "hint", "details", "tab", "tabs", "notice", "aside"),
    }
)
_LANGUAGE_OF = {"example": "html"}

# An opening or closing tag alone on its line: Hugo's {{< name args >}} / {{% name %}},
# Liquid's {% name args %} and {% endname %}.
_HUGO_TAG = re.compile(
    r"^\s*\{\{([<%])-?\s*(?P<close>/)?\s*(?P<name>[\w-]+)(?P<args>.*?)-?[>%]\}\}\s*$"
)
_LIQUID_TAG = re.compile(r"^\s*\{%-?\s*(?P<name>[\w-]+)(?P<args>.*?)-?%\}\s*$")
_LIQUID_BLOCKS = frozenset({"highlight", "capture", "raw", "comment"})
# Inside a line: inline code (kept as it is) or a template tag or expression (dropped).
# Both are short; bounding them keeps a hostile line ("{{{{...") linear to read.
_INLINE = re.compile(
    r"(?P<code>(`{1,16})[^`\n]{0,500}\2(?!`))|\{\{[<%].{0,300}?[>%]\}\}|\{%.{0,300}?%\}"
    r"|\{\{.{0,300}?\}\}"
)


# Jinja's, Django's and Liquid's tags, expressions and comments (Hugo's shortcodes too),
# across lines but bounded, so that a hostile run of text reads in linear time.
_TEMPLATE_TAG = re.compile(r"\{\{.{0,300}?\}\}|\{%.{0,300}?%\}|\{#.{0,300}?#\}", re.DOTALL)


def without_template_tags(text: str) -> str:
    """``text`` with every template tag, expression and comment in it dropped."""
    if "{" not in text:
        return text
    return _TEMPLATE_TAG.sub("", text)


@dataclass
class _Block:
    """A paired tag being read: its name, how it closes, what its body is."""

    closing: tuple[str, str]
    """``(syntax, name)`` of the tag that ends it."""
    language: str | None
    """The language of a code body; ``None`` for a body of prose."""
    lines: list[str]


def without_templates(source: str) -> str:
    """``source`` with its templating rewritten as the module docstring says."""
    if "{{" not in source and "{%" not in source:
        return source
    return "".join(_rewrite(source.splitlines(keepends=True)))


def _tag(line: str) -> tuple[str, str, str, bool] | None:
    """``(syntax, name, arguments, closes)`` of a tag alone on ``line``."""
    hugo = _HUGO_TAG.match(line)
    if hugo is not None:
        return "hugo", hugo.group("name"), hugo.group("args"), bool(hugo.group("close"))
    liquid = _LIQUID_TAG.match(line)
    if liquid is None:
        return None
    name = liquid.group("name")
    if name.startswith("end") and name[3:] in _LIQUID_BLOCKS:
        return "liquid", name[3:], "", True
    return "liquid", name, liquid.group("args"), False


def _last_closings(lines: list[str]) -> dict[tuple[str, str], int]:
    """The line of the last closing tag of each ``(syntax, name)``."""
    last: dict[tuple[str, str], int] = {}
    for number, line in enumerate(lines):
        if "{" in line and (tag := _tag(line)) is not None and tag[3]:
            last[tag[0], tag[1]] = number
    return last


def _rewrite(lines: list[str]) -> Iterator[str]:
    closings = _last_closings(lines)
    fences = Fences()
    block: _Block | None = None
    for number, line in enumerate(lines):
        tag = _tag(line) if "{" in line and fences.open is None else None
        if block is not None:
            if tag is not None and tag[3] and (tag[0], tag[1]) == block.closing:
                yield from _close(block)
                block = None
            else:
                block.lines.append(line)
            continue
        if fences.code(line):
            yield line
            continue
        if tag is not None and not tag[3] and closings.get((tag[0], tag[1]), -1) > number:
            block = _Block((tag[0], tag[1]), _language(tag[0], tag[1], tag[2]), [])
            continue
        yield _INLINE.sub(lambda m: m.group("code") or "", line)


def _language(syntax: str, name: str, arguments: str) -> str | None:
    """The language of a block's code body, or ``None`` when its body is prose."""
    if syntax == "hugo" and name in _PROSE:
        return None
    if syntax == "liquid" and name not in _LIQUID_BLOCKS:
        return None
    argument = arguments.split(maxsplit=1)
    named = argument[0].strip("\"'") if argument and name in ("highlight", "code") else ""
    return _LANGUAGE_OF.get(name, named)


def _close(block: _Block) -> Iterator[str]:
    if block.language is None:
        yield "\n"
        yield from _rewrite(block.lines)
        yield "\n"
        return
    body = "".join(block.lines)
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    yield f"\n{fence}{block.language}\n"
    yield body if body.endswith("\n") or not body else body + "\n"
    yield f"{fence}\n\n"
