"""Prose out of documents: sentences with their offsets, markup stripped at the same
offsets, deterministic output, and input that is empty or not English."""

from __future__ import annotations

import pytest

from wikisaga.content.relations import (
    ProseDocument,
    Sentence,
    extract_relations,
    prose_document,
    split_sentences,
    strip_markup,
)


def _texts(text: str) -> list[str]:
    return [s.text for s in split_sentences(text)]


def test_every_sentence_is_the_text_at_its_offsets() -> None:
    text = "  Pydantic validates data.\n\nIt uses pydantic-core!  Does it?  Yes. "
    sentences = split_sentences(text)
    assert [s.text for s in sentences] == [
        "Pydantic validates data.",
        "It uses pydantic-core!",
        "Does it?",
        "Yes.",
    ]
    for sentence in sentences:
        assert text[sentence.start : sentence.end] == sentence.text


@pytest.mark.parametrize(
    "text",
    [
        "Use a parser, e.g. Lark, for this. Then stop.",
        "Cached values, i.e. results, are kept. Then stop.",
        "Written by Dr. Smith and Mr. Jones. Then stop.",
        "Version 1.2.3 of numpy.linalg.norm is fast. Then stop.",
        "Node.js and J. Smith agree. Then stop.",
        "It runs on U.S. servers vs. others. Then stop.",
    ],
)
def test_abbreviations_initials_versions_and_dotted_names_end_no_sentence(text: str) -> None:
    assert len(_texts(text)) == 2


def test_a_period_before_a_lower_case_name_ends_a_sentence() -> None:
    assert _texts("It replaces the event loop. uvloop is written in Cython.") == [
        "It replaces the event loop.",
        "uvloop is written in Cython.",
    ]


def test_a_period_after_a_file_name_or_a_number_ends_a_sentence() -> None:
    assert _texts("requests uses urllib3. pip vendors requests.") == [
        "requests uses urllib3.",
        "pip vendors requests.",
    ]
    assert _texts("build reads pyproject.toml. build calls the backend.") == [
        "build reads pyproject.toml.",
        "build calls the backend.",
    ]
    assert _texts(
        "It was deprecated by PEP 632. distutils was removed in Python 3.12. pip stays."
    ) == [
        "It was deprecated by PEP 632.",
        "distutils was removed in Python 3.12.",
        "pip stays.",
    ]


@pytest.mark.parametrize(
    "text",
    ["Use a parser, e.g. lark, for this.", "Servers in the U.S. are fast.", "Step 1. run it."],
)
def test_a_dotted_abbreviation_or_a_digit_before_a_lower_case_word_ends_no_sentence(
    text: str,
) -> None:
    assert _texts(text) == [text]


def test_blank_lines_list_items_and_breaks_end_sentences() -> None:
    text = "Features\n\n- fast\n- small parser\nTitle line"
    assert _texts(text) == ["Features", "- fast", "- small parser\nTitle line"]
    title = text.index("Title")
    assert [s.text for s in split_sentences(text, breaks=[title])][-1] == "Title line"


def test_markdown_prose_keeps_offsets_and_loses_code_urls_and_markup() -> None:
    markdown = (
        "# FastAPI\n\n"
        "[![badge](https://img.shields.io/x.svg)](https://example.org)\n\n"
        "**FastAPI** uses [Starlette](https://www.starlette.io) and `pydantic.BaseModel`.\n"
        "See https://fastapi.tiangolo.com for more.\n\n"
        "```python\nDjango uses Jinja2\n```\n\n"
        "| a | b |\n|---|---|\n| Flask uses X | y |\n\n"
        "Inline `x = 1 + 2` code goes, <b>tags</b> too &amp; entities.\n"
    )
    prose = strip_markup(markdown, "markdown")
    assert len(prose.text) == len(markdown)
    assert "Django" not in prose.text
    assert "Flask" not in prose.text
    assert "http" not in prose.text
    assert "shields" not in prose.text
    assert "x = 1" not in prose.text
    assert "<b>" not in prose.text
    assert "`pydantic.BaseModel`" in prose.text
    for index, char in enumerate(prose.text):
        assert char in (markdown[index], " ", "`", "&")
    document = prose_document(markdown, doc_id="d", source_path="README.md")
    found = {
        (t.subject, t.predicate.value, t.object) for t in extract_relations([document]).typed()
    }
    assert found == {
        ("fastapi", "uses", "starlette"),
        ("fastapi", "uses", "pydantic.basemodel"),
    }
    (triple,) = [t for t in extract_relations([document]).typed() if t.object == "starlette"]
    assert markdown[triple.start : triple.end].startswith("FastAPI** uses [Starlette](")
    assert triple.sentence == "FastAPI uses Starlette and pydantic.BaseModel."


def test_inline_code_keeps_its_underscores_where_emphasis_loses_them() -> None:
    """`__init__` and `UVICORN_` are names as written, not emphasis markers: they were
    read as "  init  " and "UVICORN ", and the prefix of Uvicorn's environment variables
    became a spelling of Uvicorn on its page ("Also written: UVICORN_")."""
    text = "Call `__init__`, set `UVICORN_` or `_private`, and _mind_ **this**."
    assert strip_markup(text, "markdown").text == (
        "Call `__init__`, set `UVICORN_` or `_private`, and  mind    this  ."
    )
    document = prose_document(
        "Uvicorn is an ASGI server. Use environment variables with the prefix `UVICORN_`.",
        doc_id="d",
        source_path="d.md",
    )
    entities = {e.key: e for e in extract_relations([document]).entities}
    assert entities["uvicorn"].aliases == ("Uvicorn",)
    assert entities["prefix uvicorn_"].name == "prefix UVICORN_"
    # In plain text (what the wiki reads), "UVICORN_*" is Uvicorn's key, but no spelling.
    document = prose_document(
        "Uvicorn is an ASGI server. UVICORN_* prefixed settings are read from the shell.",
        doc_id="d",
        source_path="d.txt",
        syntax="text",
    )
    (uvicorn,) = [e for e in extract_relations([document]).entities if e.key == "uvicorn"]
    assert (uvicorn.name, uvicorn.aliases, uvicorn.mentions) == ("Uvicorn", ("Uvicorn",), 2)


def test_restructuredtext_prose_loses_directives_literals_and_roles() -> None:
    rst = (
        "Title\n=====\n\n"
        ".. code-block:: python\n\n    Django uses Jinja2\n\n"
        "Example::\n\n    Flask uses X\n\n"
        "Typer uses :class:`click.Command` and `Rich <https://rich.readthedocs.io>`_.\n"
        "AnyIO runs on top of asyncio_ or Trio_.\n"
    )
    prose = strip_markup(rst, "rst")
    assert len(prose.text) == len(rst)
    assert "Django" not in prose.text
    assert "Flask" not in prose.text
    document = prose_document(rst, doc_id="d", source_path="README.rst", syntax="rst")
    found = {
        (t.subject, t.predicate.value, t.object) for t in extract_relations([document]).typed()
    }
    assert found == {
        ("typer", "uses", "click.command"),
        ("typer", "uses", "rich"),
        ("anyio", "depends_on", "asyncio"),
        ("anyio", "depends_on", "trio"),
    }


def test_html_prose_loses_scripts_and_tags() -> None:
    html = "<p>Typer uses <a href='x'>Click</a>.</p><script>Django uses X</script>"
    document = prose_document(html, doc_id="d", source_path="a.html", syntax="html")
    found = {
        (t.subject, t.predicate.value, t.object) for t in extract_relations([document]).typed()
    }
    assert found == {("typer", "uses", "click")}


def test_an_unknown_markup_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown markup"):
        strip_markup("x", "latex")


def test_a_plain_text_heading_s_underline_and_a_rule_end_sentences() -> None:
    text = (
        "Widevine Extension\n==================\nWidevine is a non-free library.\n\n"
        "Debugging\n---------\nRun it with -v.\n~~~~\nA - B is no rule."
    )
    assert _texts(text) == [
        "Widevine Extension",
        "Widevine is a non-free library.",
        "Debugging",
        "Run it with -v.",
        "A - B is no rule.",
    ]


def test_given_sentences_are_used_as_they_are() -> None:
    text = "Ignored uses Nothing. FastAPI uses Starlette."
    start = text.index("FastAPI")
    document = ProseDocument(
        "d", "d.md", text, sentences=(Sentence(start, len(text), text[start:]),)
    )
    (triple,) = extract_relations([document]).typed()
    assert (triple.subject, triple.start, triple.end) == ("fastapi", start, len(text))


def _corpus() -> list[ProseDocument]:
    return [
        ProseDocument("b", "b.md", "Typer uses Click. Typer uses Rich. Click is a library."),
        ProseDocument("a", "a.md", "FastAPI uses Starlette and Pydantic. Pydantic uses Rust."),
        ProseDocument("c", "c.md", "Click and Rich appear. Click and Rich appear again."),
    ]


def test_identical_input_gives_identical_output_in_identical_order() -> None:
    first = extract_relations(_corpus()).to_json()
    again = extract_relations(_corpus()).to_json()
    reordered = extract_relations(list(reversed(_corpus()))).to_json()
    assert first == again == reordered
    triples = extract_relations(_corpus()).triples
    assert list(triples) == sorted(triples, key=lambda t: t.sort_key())


def test_every_triple_serialises_with_its_provenance() -> None:
    (triple, *_) = extract_relations(_corpus()).typed()
    assert set(triple.to_json()) == {
        "subject", "predicate", "object", "doc_id", "source", "sentence",
        "start", "end", "method", "confidence",
    }  # fmt: skip
    assert 0 < triple.confidence <= 1


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\n  ",
        "Der Server verwendet Python und ist schnell. Die Bibliothek ist klein.",
        "Ce module utilise Python. Il est écrit en Rust.",
        "如果你使用这个库，它会很快。这是一个库。",
        "Это библиотека. Она использует Python.",
        "!!! ??? ... ,,, ;;;",
        "a" * 5000,
        "`" * 50 + " uses " + "(" * 50,
    ],
)
def test_empty_odd_and_foreign_text_gives_no_typed_relation_and_no_error(text: str) -> None:
    document = prose_document(text, doc_id="d", source_path="d.md", topic="lib")
    assert extract_relations([document]).typed() == ()


def test_no_documents_give_an_empty_extraction() -> None:
    extraction = extract_relations([])
    assert extraction.entities == ()
    assert extraction.triples == ()
