"""Each relation pattern, with sentences that state a relation and sentences that do not:
negations give nothing, hedges fall under the default threshold, lists give one triple
per item, passives and relational nouns put the arguments in their place."""

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


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("FastAPI uses Starlette.", ("fastapi", "uses", "starlette")),
        ("Typer depends on Click.", ("typer", "depends_on", "click")),
        ("Requests relies on urllib3.", ("requests", "depends_on", "urllib3")),
        ("Rich provides a Console class.", ("rich", "provides", "console class")),
        ("Uvicorn supports WebSockets.", ("uvicorn", "supports", "websockets")),
        ("jsonschema implements JSON Schema.", ("jsonschema", "implements", "json schema")),
        ("Pydantic Settings extends Pydantic.", ("pydantic settings", "extends", "pydantic")),
        ("uvloop replaces asyncio.", ("uvloop", "alternative_to", "asyncio")),
        ("Mypyc belongs to Mypy.", ("mypyc", "part_of", "mypy")),
        ("The Pallets team maintains Flask.", ("flask", "created_by", "pallets team")),
    ],
)
def test_an_active_verb_states_its_relation(sentence: str, expected: Triple) -> None:
    assert expected in typed(sentence)


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("bcrypt is written in Rust.", ("bcrypt", "written_in", "rust")),
        ("FastAPI is built on top of Starlette.", ("fastapi", "depends_on", "starlette")),
        ("Typer is based on Click.", ("typer", "extends", "click")),
        ("Django is powered by Python.", ("django", "uses", "python")),
        ("Flask was created by Armin Ronacher.", ("flask", "created_by", "armin ronacher")),
        ("Mypyc is part of Mypy.", ("mypyc", "part_of", "mypy")),
        ("Orjson is compatible with Pydantic.", ("orjson", "supports", "pydantic")),
    ],
)
def test_a_participle_after_the_copula_keeps_the_subject_first(
    sentence: str, expected: Triple
) -> None:
    assert expected in typed(sentence)


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Starlette is used by FastAPI.", ("fastapi", "uses", "starlette")),
        ("Click is required by Typer.", ("typer", "depends_on", "click")),
        ("WebSockets are supported by Uvicorn.", ("uvicorn", "supports", "websockets")),
        ("The protocol is implemented by Hypercorn.", ("hypercorn", "implements", "protocol")),
    ],
)
def test_a_passive_with_an_agent_turns_the_triple_around(sentence: str, expected: Triple) -> None:
    assert expected in typed(sentence)


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("orjson is an alternative to ujson.", ("orjson", "alternative_to", "ujson")),
        ("uvloop is a drop-in replacement for asyncio.", ("uvloop", "alternative_to", "asyncio")),
        ("httpcore2 is a fork of httpcore.", ("httpcore2", "extends", "httpcore")),
        ("pytest-timeout is a plugin for pytest.", ("pytest-timeout", "extends", "pytest")),
        ("httptools is a Python binding for llhttp.", ("httptools", "uses", "llhttp")),
        (
            "jsonschema is an implementation of JSON Schema.",
            ("jsonschema", "implements", "json schema"),
        ),
        ("Mypyc is a component of Mypy.", ("mypyc", "part_of", "mypy")),
    ],
)
def test_a_relational_noun_after_the_copula_names_the_relation(
    sentence: str, expected: Triple
) -> None:
    found = typed(sentence)
    assert expected in found
    assert not any(p == "is_a" for _, p, _ in found)  # "a fork" is not a kind


def test_the_copula_with_an_article_gives_is_a_and_the_entity_type() -> None:
    document = ProseDocument("d", "d.md", "Requests is a simple, yet elegant, HTTP library.")
    extraction = extract_relations([document])
    assert {(t.subject, t.predicate.value, t.object) for t in extraction.typed()} == {
        ("requests", "is_a", "http library")
    }
    (requests,) = [e for e in extraction.entities if e.key == "requests"]
    assert requests.type == "library"


@pytest.mark.parametrize(
    "sentence",
    [
        "Requests is fast.",  # no article: a property, not a kind
        "Ruff is the beneficiary of many contributors.",  # "the X of": a role
        "Is Requests a library?",  # a question
    ],
)
def test_the_copula_without_a_kind_gives_nothing(sentence: str) -> None:
    assert typed(sentence) == set()


def test_an_apposition_says_what_a_name_is_and_keeps_it_the_subject() -> None:
    found = typed("Uvicorn, an ASGI server, supports HTTP/2 and WebSockets.")
    assert found == {
        ("uvicorn", "is_a", "asgi server"),
        ("uvicorn", "supports", "http/2"),
        ("uvicorn", "supports", "websockets"),
    }


def test_an_apposition_with_a_relational_noun() -> None:
    assert ("orjson", "alternative_to", "ujson") in typed(
        "Orjson, an alternative to ujson, is fast."
    )


def test_a_list_of_subjects_gives_one_triple_each() -> None:
    assert typed("Flask, Django and Pyramid use Jinja2.") == {
        ("flask", "uses", "jinja2"),
        ("django", "uses", "jinja2"),
        ("pyramid", "uses", "jinja2"),
    }


def test_a_list_of_objects_gives_one_triple_each() -> None:
    assert typed("FastAPI depends on Pydantic, Starlette and AnyIO.") == {
        ("fastapi", "depends_on", "pydantic"),
        ("fastapi", "depends_on", "starlette"),
        ("fastapi", "depends_on", "anyio"),
    }


def test_commas_alone_are_no_list() -> None:
    assert typed("Like Django, Flask uses Jinja2.") == {("flask", "uses", "jinja2")}


def test_a_second_clause_is_not_one_more_object() -> None:
    # Named things: "X uses Y and Z uses W" states a rule with placeholders, which are
    # no entities (test_relations_entities).
    assert typed("Flask uses Werkzeug and Starlette uses AnyIO.") == {
        ("flask", "uses", "werkzeug"),
        ("starlette", "uses", "anyio"),
    }


def test_coordinated_predicates_share_their_subject() -> None:
    assert typed("Rich provides a Console class and supports Jupyter.") == {
        ("rich", "provides", "console class"),
        ("rich", "supports", "jupyter"),
    }


def test_a_relative_clause_takes_its_antecedent_or_the_copula_subject() -> None:
    assert ("pydantic", "uses", "pydantic-core") in typed("Use Pydantic, which uses pydantic-core.")
    assert ("anyio", "depends_on", "trio") in typed(
        "AnyIO is a concurrency library that works on top of Trio."
    )


def test_the_name_an_acronym_stands_for_is_no_kind() -> None:
    # "is the <Proper Name>" spells the subject out; it says no kind of thing it is.
    assert typed("SASL is the Simple Authentication and Security Layer.") == set()
    assert typed("PyPA is the Python Packaging Authority.") == set()
    assert typed("Flask is the most popular framework.") == {("flask", "is_a", "framework")}


def test_a_bare_verb_in_a_compound_after_a_is_a_noun() -> None:
    # One thing, after "a", cannot "support": "support system" is a compound.
    assert typed("Node.js maintains a tier-based support system for platforms.") == set()
    # Several things can.
    assert ("package", "supports", "pypy") in typed("A few packages support PyPy.")
    assert typed("A client and a server support HTTP/2.") == {
        ("client", "supports", "http/2"),
        ("server", "supports", "http/2"),
    }


def test_which_after_a_passive_is_about_the_clause_not_the_participle() -> None:
    # "which" stands for the whole clause: "rolled back" is no thing that is an outcome.
    sentence = "A saga that did not commit is rolled back, which is the only safe outcome."
    assert typed(sentence) == set()
    assert typed("The package is deprecated, which means it gets no fixes.") == set()


def test_a_reduced_relative_clause_takes_the_copula_subject() -> None:
    found = typed("FastAPI is a modern web framework built on top of Starlette and Pydantic.")
    assert found == {
        ("fastapi", "is_a", "web framework"),
        ("fastapi", "depends_on", "starlette"),
        ("fastapi", "depends_on", "pydantic"),
    }


@pytest.mark.parametrize(
    "sentence",
    [
        "httpx does not use requests.",
        "httpx doesn't use requests.",
        "httpx never uses requests.",
        "Rich no longer depends on colorama.",
        "The library requires no configuration.",
        "Requests is not a web framework.",
        "Certifi does not support Python 2.",
    ],
)
def test_a_negated_statement_gives_nothing(sentence: str) -> None:
    assert typed(sentence, topic="lib", min_confidence=0.0) == set()


def test_not_only_is_no_negation() -> None:
    assert ("flask", "uses", "werkzeug") in typed("Flask not only uses Werkzeug.")


@pytest.mark.parametrize(
    "text",
    [
        'Its type is the commonest of "Flask is a library/framework/…" or of its alias.',
        "The “Typer uses Click” rule is an example.",
        # Cut in two by the sentence splitter: the end of the first part, the start of the
        # second.
        '("Open Collective is a funding platform. It provides grants" is about it), or not.',
    ],
)
def test_a_quoted_sentence_is_an_example_not_a_statement(text: str) -> None:
    assert typed(text) == set()


def test_a_placeholder_outside_its_quoted_example_is_still_a_placeholder() -> None:
    # X is only in the quotation, Y also outside it: both letters are the rule's.
    text = 'A rule: "X is the Y" where Y is a proper name says what X stands for.'
    assert typed(text) == set()


def test_a_statement_beside_a_quoted_example_still_counts() -> None:
    text = 'A rule reads "Typer uses Click" and Flask uses Werkzeug. Django uses Python.'
    assert typed(text) == {("flask", "uses", "werkzeug"), ("django", "uses", "python")}


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ('pip is a "package installer".', ("pip", "is_a", "package installer")),
        ('Flask uses "Werkzeug".', ("flask", "uses", "werkzeug")),
        ("Flask is a “web framework”.", ("flask", "is_a", "web framework")),
        # A stray mark quotes nothing.
        ('" Schemathesis is a tool for fuzz testing.', ("schemathesis", "is_a", "tool")),
    ],
)
def test_quoted_names_and_stray_marks_are_read_as_usual(sentence: str, expected: Triple) -> None:
    assert expected in typed(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "Typer may use Rich.",
        "Typer might depend on Rich.",
        "Typer could use Rich.",
        "If Typer uses Rich, colours are shown.",
    ],
)
def test_a_hedged_statement_is_less_confident_and_under_the_default_threshold(
    sentence: str,
) -> None:
    assert typed(sentence) == set()
    document = ProseDocument("d", "d.md", sentence)
    options = ExtractionOptions(min_confidence=0.0, cooccurrence=False)
    (triple,) = extract_relations([document], options).typed()
    assert triple.confidence < 0.5


def test_can_weakens_a_statement_a_little() -> None:
    document = ProseDocument("d", "d.md", "Typer can use Rich.")
    (triple,) = extract_relations([document]).typed()
    assert 0.5 <= triple.confidence < 0.9


def test_a_hedge_in_another_clause_does_not_weaken_this_one() -> None:
    found = typed("It should be compatible with X, and it runs on Python.", topic="lib")
    assert found == {("lib", "supports", "python")}


def test_this_library_and_a_leading_it_stand_for_the_topic() -> None:
    assert typed("This library provides a CLI. It is written in Rust.", topic="mylib") == {
        ("mylib", "provides", "cli"),
        ("mylib", "written_in", "rust"),
    }


def test_without_a_topic_this_library_gives_nothing() -> None:
    assert typed("This library provides a CLI.") == set()


def test_support_for_names_the_relation() -> None:
    assert typed("Pydantic provides full support for dataclasses.") == {
        ("pydantic", "supports", "dataclasses")
    }


def test_hearst_patterns_say_what_the_examples_are() -> None:
    assert typed("Databases such as PostgreSQL and SQLite are supported.") == {
        ("postgresql", "is_a", "database"),
        ("sqlite", "is_a", "database"),
    }
    assert ("flake8", "is_a", "tool") in typed("Ruff replaces tools like Flake8 and isort.")
    assert ("mypy", "is_a", "type checker") in typed("Mypy and other type checkers read stubs.")


def test_written_in_takes_only_a_language() -> None:
    assert typed("DBOS is implemented in a lightweight Postgres-backed library.") == set()


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        # A change log's items open with an adverb: no subject, no relation of "Officially".
        ("Officially support Python 3.12 #2214.", set()),
        ("Properly support components.", set()),
        ("Notably absent is the context.", set()),
        # ... while a name spelt like one, followed by its verb, stays a name.
        ("Plotly supports Dash.", {("plotly", "supports", "dash")}),
        # "sure" describes; it is no part of the subject after it.
        (
            "Make sure `MutableHeaders._list` is actually a `list`.",
            {("mutableheaders._list", "is_a", "list")},
        ),
    ],
)
def test_an_adverb_or_adjective_that_opens_a_sentence_is_no_subject(
    sentence: str, expected: set[Triple]
) -> None:
    assert typed(sentence) == expected


@pytest.mark.parametrize(
    "sentence",
    [
        "When a default_map value is a string for a parameter, the string is split.",
        "When Click needs a binary stream, it attempts to discover the stream.",
        "Whenever Flask handles a request, it uses Werkzeug.",
    ],
)
def test_what_holds_only_when_something_happens_is_not_stated(sentence: str) -> None:
    assert typed(sentence) == set()
