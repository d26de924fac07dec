"""Text rules of the pages: escaping copied text, words and terms, slugs, links.

Everything copied from a source into a page goes through :func:`escape_markdown` (or
:func:`escape_yaml` in front matter), so no source's markup, HTML or link syntax ever
becomes markup of ours: ``<``, ``>`` and ``&`` become entities, Markdown's punctuation is
backslash-escaped, and white space (new lines included) becomes single spaces.
"""

from __future__ import annotations

import json
import posixpath
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

__all__ = [
    "STOPWORDS",
    "escape_markdown",
    "escape_yaml",
    "link",
    "plural",
    "relative_link",
    "slugify",
    "terms",
    "unique_slugs",
    "words",
]

_MARKDOWN_SPECIALS = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        "\\": "\\\\",
        "`": "\\`",
        "*": "\\*",
        "_": "\\_",
        "[": "\\[",
        "]": "\\]",
        "|": "\\|",
        "~": "\\~",
        "$": "\\$",
    }
)
# What would open a block if it started a line or a list item: a heading, a quote, a list
# item or a thematic break ("#", ">", "-", "+", "=", "1.", "1)").
_BLOCK_START = re.compile(r"^(?:[#+=-]|\d{1,9}(?=[.)]))")
_SPACES = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def plural(name: str) -> str:
    """The plural of a label by the regular rules, on its last word ("build backend" →
    "build backends", "HTTP library" → "HTTP libraries", "API" → "APIs"); a last word
    that already reads as a plural is left alone."""
    head, _, last = name.rpartition(" ")
    lower = last.lower()
    if not last or not last[-1].isalpha() or (lower.endswith("s") and not lower.endswith("ss")):
        return name
    if last.isupper():
        grown = last + "s"
    elif lower.endswith("y") and len(lower) > 1 and lower[-2] not in "aeiou":
        grown = last[:-1] + "ies"
    elif lower.endswith(("ss", "x", "z", "ch", "sh")):
        grown = last + "es"
    else:
        grown = last + "s"
    return f"{head} {grown}" if head else grown


def escape_markdown(text: str) -> str:
    """``text`` as inert Markdown on one line: it renders as the same characters, and
    nothing in it is taken for HTML, a link, emphasis, code or a block marker."""
    flat = _SPACES.sub(" ", _CONTROL.sub("", text)).strip()
    escaped = flat.translate(_MARKDOWN_SPECIALS)
    match = _BLOCK_START.match(escaped)
    if match is None:
        return escaped
    if match.group().isdigit():
        end = match.end()
        return f"{escaped[:end]}\\{escaped[end:]}"
    return f"\\{escaped}"


def escape_yaml(text: str) -> str:
    """``text`` as a YAML double-quoted scalar (JSON's string syntax, which YAML reads),
    with ``<``, ``>`` and ``&`` as ``\\u`` escapes so no HTML is spelled out even there."""
    quoted = json.dumps(_SPACES.sub(" ", text).strip(), ensure_ascii=False)
    return quoted.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each
    either else etc even ever every few for from further get gets got had has have having
    he her here hers herself him himself his how however i if in into is it its itself
    just let like made make makes many may me might more most much must my myself need
    needs new no nor not now of off often on once one only or other others our ours
    ourselves out over own per rather same see set several shall she should since so some
    such than that the their theirs them themselves then there these they this those
    though through thus to too two under until up upon us use used uses using very via
    was way we well were what when where whether which while who whom whose why will with
    within without would yet you your yours yourself yourselves
    """.split()  # noqa: SIM905 - a word list reads best as words
)
"""English words too common to tell documents or sentences apart."""

_WORD = re.compile(r"\w+", re.UNICODE)
_TERM_SUFFIXES = ("ies", "sses", "s")


def words(text: str) -> list[str]:
    """The words of ``text`` (runs of letters, digits and ``_``), as written."""
    return _WORD.findall(text)


def _stem(word: str) -> str:
    """A light plural fold, so ``models`` and ``model`` are one term."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith("sses"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def terms(text: str) -> Counter[str]:
    """The terms of ``text`` for term vectors: lower-cased words of two or more characters
    that are not numbers or stopwords, plurals folded."""
    counted: Counter[str] = Counter()
    for word in _WORD.findall(text.lower()):
        if len(word) < 2 or word in STOPWORDS or word.isdigit():
            continue
        counted[_stem(word)] += 1
    return counted


_SLUG_DROP = re.compile(r"[^a-z0-9]+")
MAX_SLUG_LENGTH = 60


def slugify(text: str, *, fallback: str) -> str:
    """A file name stem of ASCII letters, digits and ``-`` for ``text`` (accents folded);
    ``fallback`` (already a slug) when nothing of ``text`` is left."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = _SLUG_DROP.sub("-", folded.lower()).strip("-")
    slug = slug[:MAX_SLUG_LENGTH].rstrip("-")
    return slug or fallback


def unique_slugs(wanted: Iterable[tuple[str, str]], taken: Iterable[str] = ()) -> dict[str, str]:
    """Unique slugs for ``(key, slug)`` pairs. Each slug goes to the first key (in key
    order) that wants it; the other keys get ``-2``, ``-3``, ... (the first number no key
    wanted and none took), so the same pairs give the same answer in any order."""
    used = set(taken)
    result: dict[str, str] = {}
    waiting: list[tuple[str, str]] = []
    for key, slug in sorted(wanted, key=lambda pair: (pair[1], pair[0])):
        if slug in used:
            waiting.append((key, slug))
        else:
            used.add(slug)
            result[key] = slug
    for key, slug in waiting:
        number = 2
        while f"{slug}-{number}" in used:
            number += 1
        used.add(f"{slug}-{number}")
        result[key] = f"{slug}-{number}"
    return result


def relative_link(from_page: str, target: str) -> str:
    """The link from the page at wiki path ``from_page`` to wiki path ``target`` (which
    may end in ``#anchor``); both are relative to the wiki's root."""
    path, _, anchor = target.partition("#")
    if path == from_page:
        return f"#{anchor}" if anchor else posixpath.basename(path)
    folder = posixpath.dirname(from_page)
    if not folder:
        relative = path
    elif path.startswith(folder + "/"):
        relative = path[len(folder) + 1 :]
    else:
        relative = "../" * (folder.count("/") + 1) + path
    return f"{relative}#{anchor}" if anchor else relative


def link(text: str, from_page: str, target: str) -> str:
    """A Markdown link labelled with ``text`` (escaped) to wiki path ``target``."""
    return f"[{escape_markdown(text)}]({relative_link(from_page, target)})"
