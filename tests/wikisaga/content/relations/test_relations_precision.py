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


def test_it_after_a_sentence_naming_several_things_but_no_subject_gives_nothing() -> None:
    """Uvicorn's ASGI page: the server the "It" stands for is named, but as no subject,
    beside another name; the document's topic, ASGI, supports none of these."""
    text = (
        "The first ASGI server implementation, originally developed to power Django"
        " Channels, is the Daphne webserver. It is run widely in production, and supports"
        " HTTP/1.1, HTTP/2, and WebSockets."
    )
    assert not any(p == "supports" for _, p, _ in typed(text, topic="ASGI"))
    # An instruction has no subject to name, whatever it names: the topic stays.
    assert ("typer", "extends", "click") in typed(
        "Install it from PyPI with pip. It is based on Click.", topic="Typer"
    )


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
    assert not typed("MkDocs supports the Read the Docs theme.")
    # Nor does the list it would end run on into the next clause.
    text = "The format is based on Keep a Changelog, and this project adheres to SemVer."
    assert not typed(text)


def test_a_title_opening_a_sentence_is_one_name_before_its_verb() -> None:
    assert typed("Read the Docs supports MkDocs out-of-the-box.") == {
        ("read the docs", "supports", "mkdocs")
    }
    # A verb that bids, before an article and a name, opens no title.
    assert typed("Run the Flask app with the CLI.") == set()
    assert typed("Use the Django ORM for queries.") == set()


def test_a_line_in_title_case_makes_no_title_of_its_words() -> None:
    # Every word of it is capitalised, as in a heading: its "of" joins nothing.
    text = "Add Support of Python 3.12, Django and Flask."
    extraction = extract_relations([ProseDocument("doc", "doc.md", text)])
    assert {"python", "django", "flask"} <= {e.key for e in extraction.entities}
    assert "support of python" not in {e.key for e in extraction.entities}


def test_a_name_before_a_lower_case_article_is_still_the_object() -> None:
    assert ("format", "extends", "markdown") in typed("The format is based on Markdown.")
    assert ("typer", "uses", "rich") in typed("Typer uses Rich a great deal.")


# -- "runs on": a platform is supported, a program or service is a foundation ---------


def test_runs_on_a_program_or_service_is_a_foundation_not_support() -> None:
    found = typed("PyPI runs on Warehouse.")
    assert found == {("pypi", "depends_on", "warehouse")}
    assert not typed("On a terminal a progress bar runs on standard error.")


def test_runs_on_a_platform_or_interpreter_is_still_support() -> None:
    assert typed("Uvicorn runs on Linux, macOS and PyPy.") == {
        ("uvicorn", "supports", "linux"),
        ("uvicorn", "supports", "macos"),
        ("uvicorn", "supports", "pypy"),
    }
    assert typed("bcrypt runs on Python 3.8+.") == {("bcrypt", "supports", "python")}


# -- the number of a series is part of its name ----------------------------------------


def test_the_number_of_a_series_is_kept_and_a_version_is_not() -> None:
    found = typed("packaging implements PEP 440. PEP 517 is a Python Enhancement Proposal.")
    assert ("packaging", "implements", "pep 440") in found
    assert ("pep 517", "is_a", "python enhancement proposal") in found
    assert typed("Django 4.2 supports Python 3.12.") == {("django", "supports", "python")}


# -- a definite description before the copula names no entity ---------------------


def test_a_definite_common_noun_before_the_copula_gives_no_kind() -> None:
    assert not typed("The mechanism is a durable saga.")
    assert not typed("This file is the target design.")
    assert typed("The Requests library is an HTTP library.") == {
        ("requests", "is_a", "http library")
    }
    assert typed("A source distribution is an archive.") == {
        ("source distribution", "is_a", "archive")
    }


# -- common modifiers are no names; a copy or a version is no kind ------------------------


def test_a_common_modifier_before_a_kind_word_is_no_alias() -> None:
    assert typed("Warehouse is the web application that serves PyPI.") == {
        ("warehouse", "is_a", "web application")
    }
    assert typed("The pygments library is a syntax highlighter.") == {
        ("pygments", "is_a", "syntax highlighter")
    }


def test_a_copy_or_a_version_of_something_is_no_kind_of_its_own() -> None:
    assert not typed("venv is a smaller version of virtualenv.")
    assert typed("setuptools extends distutils and ships its own copy of it.") == {
        ("setuptools", "extends", "distutils")
    }
    assert typed("virtualenv is a smaller tool.") == {("virtualenv", "is_a", "tool")}


# -- quantified phrases, what happens eventually ----------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "Starlette integrates with many frameworks.",
        "Flask works with other tools.",
        "HTTPX is used by several projects.",
    ],
)
def test_a_quantified_phrase_names_no_entity(sentence: str) -> None:
    assert not typed(sentence)


def test_a_named_object_beside_a_quantified_one_still_counts() -> None:
    assert ("flask", "supports", "jinja2") in typed(
        "Flask integrates with Jinja2 and other template engines."
    )


def test_a_count_in_words_is_no_part_of_what_it_counts() -> None:
    # "two hooks" are hooks, as "2 hooks" would be; "two versions" are versions, a noun
    # too generic to be an entity (Uvicorn's docs had "uvicorn supports two version").
    assert typed("pytest-timeout provides two hooks for extending the tool.") == {
        ("pytest-timeout", "provides", "hooks")
    }
    assert typed("Jinja provides three keywords.") == {("jinja", "provides", "keywords")}
    assert not typed("Uvicorn supports two versions of auto-reloading behavior.")


def test_what_happens_eventually_is_hedged() -> None:
    assert not typed("Ruff eventually replaces Flake8.")
    assert typed("Ruff eventually replaces Flake8.", min_confidence=0) == {
        ("ruff", "alternative_to", "flake8")
    }
    assert typed("Ruff replaces Flake8.") == {("ruff", "alternative_to", "flake8")}


# -- a verb after an article is a noun ------------------


def test_a_verb_form_after_an_article_and_its_adjectives_is_a_noun() -> None:
    assert typed("Pydantic V2 is a ground-up rewrite.") == {
        ("pydantic", "is_a", "ground-up rewrite")
    }
    assert typed("Hatch is a new build tool.") == {("hatch", "is_a", "build tool")}


# -- a list of indefinite phrases is no apposition; an owned noun no subject -------------


@pytest.mark.parametrize(
    "sentence",
    [
        "Keep it above the longest pause (a GC pause, a slow database) and more.",
        "Otherwise (an error status, malformed JSON, a failed check) the page stays.",
    ],
)
def test_a_list_of_indefinite_phrases_is_no_apposition(sentence: str) -> None:
    assert not typed(sentence)


def test_an_apposition_after_a_bare_name_still_counts() -> None:
    assert typed("It raises InvalidGraphData, a ValueError.") == {
        ("invalidgraphdata", "is_a", "valueerror")
    }
    assert ("flask", "is_a", "web framework") in typed("Flask, a web framework, uses Jinja2.")


def test_a_common_noun_owned_by_another_phrase_is_no_subject_of_a_copula() -> None:
    assert not typed("A topic's title is a name.")
    assert not typed("Neither the saga's creation nor a step's outcome is a commit.")
    assert typed("The Python Packaging Authority is a working group.") == {
        ("python packaging authority", "is_a", "working group")
    }


# -- only what a thing provides names another relation ----------------------------------


def test_a_relational_noun_after_another_verb_gives_no_relation_of_its_own() -> None:
    assert typed("The library uses a C extension for speed.", topic="ujson") == {
        ("ujson", "uses", "c extension")
    }
    assert typed("Flask provides an implementation of WSGI.") == {("flask", "implements", "wsgi")}


def test_a_possessive_object_is_still_its_owned_name_after_any_verb() -> None:
    assert ("idna", "alternative_to", "encodings.idna") in typed(
        "It supersedes the standard library's encodings.idna.", topic="idna"
    )


# -- vague heads, demonstratives, people -------------------------------------------------


def test_a_generic_head_with_common_modifiers_is_vague() -> None:
    assert not typed("Pydantic offers performance improvements and breaking changes.")
    assert typed("Hatch offers build hooks.") == {("hatch", "provides", "build hook")}


def test_a_demonstrative_common_noun_is_no_subject() -> None:
    assert not typed("This release adds support for the new API.")
    assert typed("This library adds support for HTTP/2.", topic="HTTPX") == {
        ("httpx", "supports", "http/2")
    }


def test_people_opening_a_sentence_are_no_name() -> None:
    assert not typed("Users can provide their own backend.")
    assert typed("Rich can provide syntax highlighting.", min_confidence=0) == {
        ("rich", "provides", "syntax highlighting")
    }


def test_evaluative_adjectives_in_a_row_stay_out_of_the_kind() -> None:
    assert typed("Jinja is a fast, expressive, extensible templating engine.") == {
        ("jinja", "is_a", "templating engine")
    }


def test_a_verb_with_its_own_object_ends_a_list_of_objects() -> None:
    assert typed("HTTPX provides a sync API and fixes several bugs.") == {
        ("httpx", "provides", "sync api")
    }
    assert typed("Flask provides a router and templates.") == {
        ("flask", "provides", "router"),
        ("flask", "provides", "template"),
    }


# -- what is quoted, and whether something is there, name no entity -----------------------


def test_words_in_quotes_are_no_example_of_a_kind() -> None:
    text = 'MkDocs shortened the messages of unexpected errors such as "file not found".'
    assert typed(text) == set()
    assert typed('It supports libraries such as "greenlet".') == {("greenlet", "is_a", "library")}


def test_the_presence_or_absence_of_something_names_no_entity() -> None:
    text = "MkDocs relies on the presence or absence of the delimiters to tell them apart."
    assert typed(text) == set()
    assert typed("Jinja relies on the existence of a loader.") == {
        ("jinja", "depends_on", "loader")
    }
    assert typed("Click relies on the availability of setuptools.") == {
        ("click", "depends_on", "setuptools")
    }


def test_a_verb_in_s_before_to_ends_a_list_of_objects() -> None:
    # "posts" is the button's verb, not a second thing it is part of.
    text = "The delete button is part of update.html and posts to the delete URL."
    assert typed(text) == {("delete button", "part_of", "update.html")}


def test_the_head_of_a_name_cut_by_an_aside_is_no_entity() -> None:
    # The "file" is the Portable Object Template's, not a file of its own.
    text = "The Portable Object Template (pot) file created by the extract_messages command."
    assert typed(text) == set()
    assert typed("Flask (the framework) uses Werkzeug.") == {("flask", "uses", "werkzeug")}


def test_a_past_tense_after_a_name_is_its_verb_not_a_modifier() -> None:
    # "a distributed queue" holds a participle; "Flask used Werkzeug" is a clause.
    text = "In 2010, Flask used Werkzeug. Celery is a distributed queue."
    extraction = extract_relations([ProseDocument("doc", "doc.md", text)])
    assert {"flask", "werkzeug", "celery"} <= {e.key for e in extraction.entities}
    assert ("celery", "is_a", "distributed queue") in typed(text)


def test_a_name_hyphenated_to_like_or_specific_is_a_modifier() -> None:
    assert typed("AnyIO implements Trio-like structured concurrency.") == {
        ("anyio", "implements", "structured concurrency")
    }
    # A name, modified, is still the name: the hyphenated word is no entity of its own.
    text = "Flask supports Blueprint-specific error handlers. Blueprint-specific pages exist."
    extraction = extract_relations([ProseDocument("doc", "doc.md", text)])
    assert "blueprint-specific" not in {e.key for e in extraction.entities}


def test_a_copula_after_a_restrictive_clause_is_not_said_of_its_last_noun() -> None:
    # The system is the add_url_rule function, not the URL map.
    text = "The system that enables having a central URL map is the add_url_rule function."
    assert typed(text) == set()
    assert typed("The tool that you install is a wheel builder.") == set()
    # A relative clause of its own copula, or between commas, still reads.
    assert ("click", "is_a", "toolkit") in typed("Click is a package that is a toolkit.")
    assert ("flask", "is_a", "framework") in typed("Flask, which uses Werkzeug, is a framework.")


def test_an_acronym_before_a_kind_word_keeps_the_kind_in_the_name() -> None:
    # "Django REST" and "Werkzeug WSGI" name nothing; "the Requests library" is Requests.
    assert typed("Django REST framework is a powerful toolkit.") == {
        ("django rest framework", "is_a", "toolkit")
    }
    assert typed("Flask depends on the Werkzeug WSGI toolkit.") == {
        ("flask", "depends_on", "werkzeug wsgi toolkit")
    }
    assert typed("The Requests library uses urllib3.") == {("requests", "uses", "urllib3")}


def test_a_base_form_between_a_name_and_a_noun_after_a_is_part_of_the_name() -> None:
    text = "PyCharm Professional provides a special Flask run configuration."
    assert typed(text) == {("pycharm professional", "provides", "flask run configuration")}


# -- read on Prometheus' docs ----------------------------------------------------------


def test_a_conjunction_opens_no_title_and_its_clause_keeps_its_verb() -> None:
    names = _keys("If a Histogram has no buckets, the Count is zero.")
    assert "histogram" in names
    assert "if a histogram" not in names
    # The verb in -s that ends the conjunction's clause is no part of a name.
    assert _keys("When the Server starts, Prometheus scrapes the targets.") == {
        "server",
        "prometheus",
    }


def test_a_pattern_s_character_class_names_nothing() -> None:
    assert not _keys("Metric names MUST adhere to the regex [a-zA-Z_:]([a-zA-Z0-9_:])*.")
    assert _keys("Label names match ^[a-zA-Z_][a-zA-Z0-9_]*$ in Prometheus.") == {"prometheus"}


def test_an_empty_class_or_a_word_class_before_quoted_words_types_nothing() -> None:
    text = "A summary samples observations (usually things like request durations)."
    assert not any(o == "thing" for _, _, o in typed(text))
    assert not typed('Avoid substrings like "metric", "timer" and "stats".')
    # Unquoted examples of strings are still strings, and suffixes suffixes.
    assert ("label name", "is_a", "string") in typed(
        "Prometheus stores strings such as metric names and label names."
    )
    assert typed("Use suffixes such as _total for counters.") == {("_total", "is_a", "suffix")}


def test_the_more_the_better_says_how_much_not_what() -> None:
    text = "The more public a library is the better namespaced its metric names should be."
    assert not typed(text)
    assert typed("Flask is the more popular framework.") == {("flask", "is_a", "framework")}


def test_an_adverb_and_a_participle_inside_a_phrase_an_article_opens() -> None:
    text = "OpenMetrics builds on the existing widely adopted Prometheus text exposition format."
    assert typed(text) == {("openmetrics", "extends", "prometheus text exposition format")}


def test_a_sentence_adverb_before_its_comma_is_no_name() -> None:
    assert _keys("Additionally, Flask uses Werkzeug.") == {"flask", "werkzeug"}
    assert _keys("Firstly, deci is a SI prefix.") >= {"deci", "si prefix"}
    assert typed("Firstly, deci is a SI prefix.") == {("deci", "is_a", "si prefix")}
    # A name in -ly before a list's comma stays a name.
    assert "plotly" in _keys("Plotly, Dash and Bokeh are libraries.")


def _keys(text: str) -> set[str]:
    extraction = extract_relations([ProseDocument("doc", "doc.md", text)])
    return {e.key for e in extraction.entities}


def test_common_nouns_before_and_share_the_head_after_it() -> None:
    text = "Prometheus is an open-source systems monitoring and alerting toolkit."
    assert typed(text) == {("prometheus", "is_a", "systems monitoring and alerting toolkit")}


def test_an_object_pointing_back_with_a_demonstrative_is_no_entity() -> None:
    assert not typed("Prometheus implements this approach in the form of a summary.")
    assert not typed("Flask uses these tools.")
    # A name after the demonstrative is still named.
    assert typed("Flask uses this Werkzeug toolkit.") == {("flask", "uses", "werkzeug")}


def test_examples_set_off_after_of_or_on_may_belong_to_the_noun_before() -> None:
    # The additions are operations, not histograms; the states are no snapshot.
    text = "Counts may hold results of arithmetic operations on histograms, such as addition."
    assert not any(o == "histogram" for _, _, o in typed(text))
    assert not typed("They are useful for snapshots of state, such as memory or temperature.")
    # "Types of" names the class; after "with" the examples are its object's own.
    assert ("rest api", "is_a", "application") in typed(
        "Some extensions help build certain types of applications, like a REST API."
    )
    assert ("region", "is_a", "target label") in typed(
        "Avoid names that clash with target labels, such as region and zone."
    )


# -- read on ripgrep's docs -------------------------------------------------------------


def test_an_activity_with_its_own_object_is_no_object() -> None:
    assert not typed("ripgrep supports searching files in other text encodings.")
    assert not typed("Sentry also supports catching errors from a worker queue.")
    # A gerund alone, or after a modifier, is still a thing.
    assert typed("Flask supports caching.") == {("flask", "supports", "caching")}
    assert typed("Flask supports JSON logging.") == {("flask", "supports", "json logging")}


def test_an_opening_adverb_before_an_unknown_word_and_an_article_bids() -> None:
    assert _keys("Temporarily bypass an existing rg alias with the command.") == set()
    assert "early boot" in _keys("Early boot is slow on Linux.")


# -- read on Black's docs ----------------------------------------------------------------


def test_a_heading_that_asks_how_states_nothing_and_names_no_how() -> None:
    assert not typed("How Black wraps lines")
    assert _keys("How Black wraps lines") == {"black"}
    assert _keys("Why Blueprints?") == {"blueprints"}
    # "how" inside a sentence opens a clause whose verb it keeps.
    assert _keys("This is similar to how Django works.") == {"django"}
    assert "exactly" not in _keys("Exactly how the metrics are made varies by language.")
    assert ("flask", "uses", "werkzeug") in typed("Flask uses Werkzeug, and how it does is clear.")


def test_a_gerund_before_a_name_the_latter_and_a_vague_hyphened_kind_name_nothing() -> None:
    assert not typed("Black supports formatting Jupyter Notebooks natively.")
    assert not typed("Black is an alternative to the latter.")
    assert not typed("It is one of the most popular user-reported features.", topic="Black")
    # A flag before a vague head still names the flag's option.
    assert "--host option" in _keys("Flask supports the --host option.")


def test_a_listed_adverb_opening_a_copula_is_no_name() -> None:
    # The Rust book: "Next are the match arms." made an entity Next, a kind of match arm.
    assert not typed("Next are the match arms.")
    assert _keys("However is a word here, and Flask uses Werkzeug.") >= {"flask", "werkzeug"}
    assert "however" not in _keys("However is a word here, and Flask uses Werkzeug.")
    # An "-ly" name before its verb is still a name.
    assert typed("Plotly supports Dash.") == {("plotly", "supports", "dash")}
