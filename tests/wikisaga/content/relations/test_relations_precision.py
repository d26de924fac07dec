"""Rules that trade a little recall for precision: each with a sentence it keeps quiet
on and one it still reads."""

from __future__ import annotations

import pytest

from wikisaga.content.relations import ExtractionOptions, ProseDocument, extract_relations

Triple = tuple[str, str, str]


def typed(text: str, *, topic: str | None = None, min_confidence: float = 0.5) -> set[Triple]:
    """The typed triples of one document, as (subject, predicate, object) keys."""
    document = ProseDocument("doc", "doc.md", text, topic=topic)
    options = ExtractionOptions(min_confidence=min_confidence, cooccurrence=False)
    return {
        (t.subject, t.predicate.value, t.object)
        for t in extract_relations([document], options).typed()
    }


# -- "includes" / "contains" are ambiguous --------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "Generated strings only contain ASCII characters.",
        "The source distribution contains the Rust sources.",
        "Flask includes Werkzeug.",
    ],
)
def test_includes_and_contains_fall_under_the_default_threshold(sentence: str) -> None:
    assert not typed(sentence)
    assert {p for _, p, _ in typed(sentence, min_confidence=0)} == {"provides"}


def test_unambiguous_provides_verbs_and_includes_support_for_still_count() -> None:
    assert typed("Flask provides a development server.") == {
        ("flask", "provides", "development server")
    }
    assert ("httpx", "supports", "http/2") in typed("HTTPX includes support for HTTP/2.")


# -- "it" is the previous sentence's one subject, else the topic ----------------------


def test_it_after_a_sentence_about_something_else_is_that_thing() -> None:
    text = "Rich renders text in the terminal. It provides tools to share your finances."
    found = typed(text, topic="Typer")
    assert ("rich", "provides", "tool") in found
    assert not any(s == "typer" for s, _, _ in found)


def test_it_after_a_sentence_with_several_subjects_gives_nothing() -> None:
    text = "Django and Flask are web frameworks. It provides tools."
    assert not any(p == "provides" for _, p, _ in typed(text, topic="Typer"))


def test_it_stays_the_topic_after_a_sentence_about_the_topic_or_without_a_subject() -> None:
    assert ("typer", "extends", "click") in typed(
        "Typer is a library. It is based on Click.", topic="Typer"
    )
    assert ("typer", "extends", "click") in typed(
        "Install it with pip. It is based on Click.", topic="Typer"
    )
    assert ("typer", "extends", "click") in typed("It is based on Click.", topic="Typer")


# -- "when" makes a condition; "every/each/any" names no entity ------------------------


def test_a_statement_that_holds_only_when_something_happens_is_hedged() -> None:
    sentence = "The constructor uses its client.scope when a client is provided."
    assert not typed(sentence)
    assert ("constructor", "uses", "client.scope") in typed(sentence, min_confidence=0)
    assert ("constructor", "uses", "client.scope") in typed(
        "The constructor uses its client.scope."
    )


def test_every_each_any_make_no_entity() -> None:
    assert not typed("The functionality is used by every library.")
    assert not typed("Each plugin depends on any backend.")
    assert ("django", "uses", "functionality") in typed("The functionality is used by Django.")


# -- a title with an article inside is not cut short ----------------------------------


def test_a_title_with_an_article_inside_gives_no_truncated_object() -> None:
    assert not typed("The format is based on Keep a Changelog.")
    assert not typed("The site uses Let the Sun Shine.")


def test_a_name_before_a_lower_case_article_is_still_the_object() -> None:
    assert ("format", "extends", "markdown") in typed("The format is based on Markdown.")
    assert ("typer", "uses", "rich") in typed("Typer uses Rich a great deal.")
