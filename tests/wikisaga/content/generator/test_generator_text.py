"""The text rules of the pages: escaping, slugs, links, Mermaid labels."""

from __future__ import annotations

import re

import pytest
from generator_support import mermaid_verdicts

from wikisaga.content.generator._mermaid import Diagram, escape_label, render_diagram
from wikisaga.content.generator._text import (
    escape_markdown,
    escape_yaml,
    relative_link,
    slugify,
    unique_slugs,
)

HOSTILE = [
    'a "quoted" name',
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "end",
    "graph TD",
    "%% comment",
    "x --> y",
    "[brackets] {braces} (parens)",
    "back`tick` and `code`",
    "semi; colon: hash# amp& pipe|",
    "naïve café 東京 Ærø",
    "line\nbreak\ttab",
    "a" * 200,
    "#quot; &lt; &#60;",
    "click n0 callback",
    "style n0 fill:#f00",
]


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("a & b", "a &amp; b"),
        ("[link](javascript:alert(1))", "\\[link\\](javascript:alert(1))"),
        ("*bold* _em_ `code` ~strike~", "\\*bold\\* \\_em\\_ \\`code\\` \\~strike\\~"),
        ("# not a heading", "\\# not a heading"),
        ("1. not a list", "1\\. not a list"),
        ("- not an item", "\\- not an item"),
        ("a | b", "a \\| b"),
        ("two\n\nlines", "two lines"),
        ("back\\slash", "back\\\\slash"),
    ],
)
def test_copied_text_becomes_inert_markdown(text: str, escaped: str) -> None:
    assert escape_markdown(text) == escaped


def test_yaml_strings_spell_out_no_html() -> None:
    assert escape_yaml('<b>"x" & y</b>') == '"\\u003cb\\u003e\\"x\\" \\u0026 y\\u003c/b\\u003e"'


def test_slugs_are_ascii_and_fall_back_when_nothing_is_left() -> None:
    assert slugify("Sebastián Ramírez", fallback="x") == "sebastian-ramirez"
    assert slugify("HTTP/1.1", fallback="x") == "http-1-1"
    assert slugify("東京", fallback="entity") == "entity"


def test_colliding_slugs_are_resolved_the_same_way_in_any_order() -> None:
    wanted = [("b", "fast-api"), ("a", "fast-api"), ("c", "fast-api-2"), ("d", "other")]
    first = unique_slugs(wanted)
    assert first == unique_slugs(list(reversed(wanted)))
    assert first == {"a": "fast-api", "b": "fast-api-3", "c": "fast-api-2", "d": "other"}
    assert len(set(first.values())) == len(first)


@pytest.mark.parametrize(
    ("page", "target", "link"),
    [
        ("index.md", "sources/a.md#p-1", "sources/a.md#p-1"),
        ("entities/x.md", "sources/a.md#p-2", "../sources/a.md#p-2"),
        ("entities/x.md", "entities/y.md", "y.md"),
        ("sources/a.md", "sources/a.md#p-3", "#p-3"),
        ("topics/t.md", "index.md", "../index.md"),
    ],
)
def test_links_are_relative_to_the_page(page: str, target: str, link: str) -> None:
    assert relative_link(page, target) == link


def test_mermaid_labels_keep_only_plain_characters() -> None:
    for text in HOSTILE:
        label = escape_label(text)
        bare = re.sub(r"#\d+;", "", label)
        assert not set(bare) & set('"<>[]{}|`;%#\n\t&'), label
        assert len(re.sub(r"#\d+;", "x", label)) <= 40


def test_diagrams_of_hostile_names_parse_with_mermaids_own_parser() -> None:
    """Names that would break a naive diagram (quotes, keywords, arrows, comments, HTML,
    directives) still give diagrams Mermaid parses, one node per name."""
    diagrams = []
    for text in HOSTILE:
        diagram = Diagram((text, "other"), ((0, 1, text, False), (1, 0, "uses", True)), focus=0)
        diagrams.append(render_diagram(diagram))
    every = Diagram(tuple(HOSTILE), tuple((i, i + 1, "x", False) for i in range(len(HOSTILE) - 1)))
    diagrams.append(render_diagram(every))
    verdicts = mermaid_verdicts(diagrams)
    assert [v["ok"] for v in verdicts] == [True] * len(diagrams), verdicts


def test_the_parser_check_does_reject_a_broken_diagram() -> None:
    """The check is Mermaid's parser, not a pattern: an unclosed label fails."""
    verdicts = mermaid_verdicts(['graph LR\n  n0["open', "graph LR\n  n0 --> n1"])
    assert [v["ok"] for v in verdicts] == [False, True]
