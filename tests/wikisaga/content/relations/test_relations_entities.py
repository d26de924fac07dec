"""Entity keys, aliases and merging: one stable key per entity, its most frequent surface
form as its name, the type that sentences state."""

from __future__ import annotations

import pytest

from wikisaga.content.relations import (
    Entity,
    EntityKind,
    ExtractionOptions,
    ProseDocument,
    extract_relations,
    identity_key,
    normalise_key,
)


@pytest.mark.parametrize(
    ("surface", "key"),
    [
        ("Requests", "requests"),
        ("the Requests library", "requests"),
        ("the FastAPI framework", "fastapi"),
        ("the pygments library", "pygments"),
        ("a Python library", "python library"),  # a kind of library, not Python
        ("an HTTP library", "http library"),
        ("HTTP clients", "http client"),
        ("libraries", "library"),
        ("APIs", "api"),
        ("`pydantic.BaseModel`", "pydantic.basemodel"),
        ("loop.sock_recv() methods", "loop.sock_recv"),
        ("Python 3.11+", "python"),
        ("a simple, yet elegant, HTTP library", "http library"),
        ("the optional package psycopg_binary", "psycopg_binary"),
        ("dataclasses", "dataclasses"),  # an unknown word is taken for a name
        ('"Keep"', "keep"),
    ],
)
def test_normalise_key(surface: str, key: str) -> None:
    assert normalise_key(surface) == key


def test_keys_are_normalised_already() -> None:
    for key in ("requests", "http library", "pydantic.basemodel", "python"):
        assert normalise_key(key) == key


def _entities(*texts: str) -> dict[str, object]:
    documents = [ProseDocument(f"d{i}", f"d{i}.md", text) for i, text in enumerate(texts)]
    return {e.key: e for e in extract_relations(documents).entities}


def test_an_entity_merges_its_surface_forms_across_documents() -> None:
    entities = _entities(
        "The Requests library is popular. Requests uses urllib3.",
        "Requests is an HTTP library.",
        "Twine depends on requests.",
    )
    requests = entities["requests"]
    assert requests.name == "Requests"  # type: ignore[attr-defined]
    assert requests.doc_ids == ("d0", "d1", "d2")  # type: ignore[attr-defined]
    assert requests.type == "library"  # type: ignore[attr-defined]
    assert set(requests.aliases) >= {"Requests", "requests"}  # type: ignore[attr-defined]


def test_keys_that_differ_in_separators_are_one_entity() -> None:
    entities = _entities(
        "Pydantic uses pydantic-core.", "pydantic_core is fast.", "pydantic-core is Rust."
    )
    assert "pydantic-core" in entities
    assert "pydantic_core" not in entities


def test_keys_that_differ_in_words_stay_apart() -> None:
    entities = _entities("jsonschema implements JSON Schema.")
    assert {"jsonschema", "json schema"} <= set(entities)


def test_entity_kinds_and_stated_types() -> None:
    entities = _entities(
        "Uvicorn is an ASGI server. It uses `httptools` and snake_case_name.",
        "PostgreSQL is a database.",
    )
    assert entities["uvicorn"].kind is EntityKind.NAME  # type: ignore[attr-defined]
    assert entities["uvicorn"].type == "server"  # type: ignore[attr-defined]
    assert entities["httptools"].kind is EntityKind.CODE  # type: ignore[attr-defined]
    assert entities["snake_case_name"].kind is EntityKind.CODE  # type: ignore[attr-defined]
    assert entities["postgresql"].type == "database"  # type: ignore[attr-defined]


def test_a_sentence_initial_common_word_is_no_name() -> None:
    entities = _entities("The library is small. Install it with pip. Documentation is online.")
    assert "the" not in entities
    assert "install" not in entities
    assert "documentation" not in entities


def test_entity_records_serialise_to_json() -> None:
    entity = _entities("Rich is a library.")["rich"]
    assert entity.to_json() == {  # type: ignore[attr-defined]
        "key": "rich",
        "name": "Rich",
        "kind": "name",
        "type": "library",
        "mentions": 1,
        "aliases": ["Rich"],
        "doc_ids": ["d0"],
    }


def test_identity_key_is_the_merging_rule() -> None:
    assert identity_key("pydantic-core") == identity_key("pydantic_core") == "pydantic core"
    assert identity_key("jsonschema") != identity_key("json schema")
    # A flag is not the word it spells; a reStructuredText reference is what it names.
    assert identity_key("--hash") != identity_key("hash")
    assert identity_key("_private") != identity_key("private")
    assert identity_key("--find-links") == identity_key("--find_links") == "--find links"
    assert identity_key("trio_") == identity_key("trio")


def test_a_flag_stays_apart_from_the_word_it_spells() -> None:
    # "--hash", named more often, used to take in "a hash": PyPI provided a flag.
    documents = [
        ProseDocument("a", "a.md", "PyPI provides a hash for each distribution."),
        ProseDocument("b", "b.md", "Pin it with `--hash`. The `--hash` option takes digests."),
    ]
    found = extract_relations(documents, ExtractionOptions(cooccurrence=False))
    assert [(t.subject, t.object) for t in found.triples] == [("pypi", "hash")]
    assert "--hash" in {e.key for e in found.entities}


def _read(documents: dict[str, str]) -> tuple[dict[str, Entity], set[tuple[str, str, str]]]:
    """Each ``topic: text`` a document on that topic, read in one extraction."""
    extraction = extract_relations(
        [
            ProseDocument(topic, f"{topic}.md", text, topic=topic)
            for topic, text in documents.items()
        ],
        ExtractionOptions(cooccurrence=False),
    )
    entities = {e.key: e for e in extraction.entities}
    return entities, {(t.subject, t.predicate.value, t.object) for t in extraction.typed()}


def test_a_topic_named_with_what_it_is_is_the_topic() -> None:
    """ "the requests library" is requests when the corpus has a document on requests."""
    entities, triples = _read(
        {"requests": "requests is an HTTP library.", "twine": "twine uses the requests library."}
    )
    assert ("twine", "uses", "requests") in triples
    assert "requests library" not in entities
    assert "requests library" in entities["requests"].aliases
    assert entities["requests"].type == "library"


def test_a_name_with_what_it_is_stays_apart_without_a_document_on_it() -> None:
    _, triples = _read({"twine": "twine uses the requests library."})
    assert ("twine", "uses", "requests library") in triples


@pytest.mark.parametrize(
    ("documents", "triple"),
    [
        # A plugin for pytest is not pytest.
        (
            {"pytest": "pytest is a test framework.", "anyio": "anyio provides a pytest plugin."},
            ("anyio", "provides", "pytest plugin"),
        ),
        # A word the corpus has, but no document is about: "the web framework" is not the web.
        (
            {"requests": "requests uses the web.", "twine": "twine uses the web framework."},
            ("twine", "uses", "web framework"),
        ),
        # A class something is stays a class, even when its first word is a topic.
        (
            {"build": "build is a frontend.", "poetry": "Poetry is a build tool."},
            ("poetry", "is_a", "build tool"),
        ),
    ],
)
def test_a_topic_with_another_word_after_it_is_not_always_the_topic(
    documents: dict[str, str], triple: tuple[str, str, str]
) -> None:
    _, triples = _read(documents)
    assert triple in triples


@pytest.mark.parametrize(
    "text",
    [
        "X uses Y and Z uses W.",
        "X, a Y, is described by the appositive rule.",
        "X depends on Y when Ys such as Z are installed.",
    ],
)
def test_capital_letters_a_sentence_states_a_rule_with_are_no_entities(text: str) -> None:
    """Documentation states its rules with placeholders ("X uses Y"): two or more
    capital letters standing alone in one sentence are variables, not things, and give
    neither entities nor relations."""
    extraction = extract_relations([ProseDocument("d", "d.md", text)])
    keys = {e.key for e in extraction.entities}
    assert not keys & {"x", "y", "z", "w", "ys"}, keys
    assert not extraction.triples


def test_a_capital_letter_alone_in_its_sentence_may_be_a_name() -> None:
    """ "written in C": one letter standing alone is taken for what it names."""
    extraction = extract_relations(
        [ProseDocument("d", "d.md", "CPython is written in C. numpy is written in C and Fortran.")]
    )
    found = {(t.subject, t.predicate.value, t.object) for t in extraction.triples}
    assert ("cpython", "written_in", "c") in found
    assert ("numpy", "written_in", "c") in found
    assert "c" in {e.key for e in extraction.entities}


@pytest.mark.parametrize(
    ("text", "measures"),
    [
        ("The 1,000 documents of 1–3 KB are a 3 MB request.", {"kb", "mb request", "mb"}),
        ("It takes 3 GB of RAM.", {"gb"}),
        ("The limit is 1 MiB per file.", {"mib"}),
        ("The server answers in 5 ms.", {"ms"}),
    ],
)
def test_a_measure_is_no_entity(text: str, measures: set[str]) -> None:
    """A unit after a number is a quantity ("3 GB"), or what one measures ("a 3 MB
    request"): no entity, and no relation ("KB is a MB request")."""
    extraction = extract_relations([ProseDocument("d", "d.md", text)])
    assert not {e.key for e in extraction.entities} & measures
    assert not any({t.subject, t.object} & measures for t in extraction.triples)


def test_a_number_after_a_name_keeps_the_name() -> None:
    """ "Django 4" is Django (a version), not a measure."""
    extraction = extract_relations([ProseDocument("d", "d.md", "Django 4 uses asgiref.")])
    assert ("django", "uses", "asgiref") in {
        (t.subject, t.predicate.value, t.object) for t in extraction.triples
    }


def test_an_address_names_no_entity_and_no_part_of_it_does() -> None:
    # A list of maintainers with their e-mail addresses, and a link written out.
    found = _entities(
        "Feng Yu <F3n67u@outlook.com> maintains the docs with Josh Gavant"
        " <josh.gavant@outlook.com>.",
        "Node.js downloads are at https://nodejs.org/en/download/ for every platform.",
    )
    assert not [key for key in found if "outlook" in key or "nodejs.org" in key or "@" in key]
    assert {"feng yu", "josh gavant", "node.js"} <= set(found)


def test_nothing_is_a_kind_of_itself_in_the_plural() -> None:
    # "it" is the vulnerabilities of the sentence before: no kind of a vulnerability.
    text = "Vulnerabilities are out of scope. For one to count, it must be a vulnerability."
    document = ProseDocument("doc", "doc.md", text)
    options = ExtractionOptions(cooccurrence=False)
    assert extract_relations([document], options).typed() == ()
    other = ProseDocument("doc", "doc.md", "A vulnerability is a bug.")
    assert [(t.subject, t.object) for t in extract_relations([other], options).typed()] == [
        ("vulnerability", "bug")
    ]


def test_a_title_with_every_word_capitalised_names_nothing_by_its_capitals() -> None:
    """A heading in title case capitalises every word, so its capitals do not say which
    words are names: "External Control of System or Configuration Setting (CWE-15)" is
    no mention of "External Control", "System" and "Configuration Setting". A heading in
    sentence case still names what it names."""
    assert _entities("External Control of System or Configuration Setting (CWE-15)") == {}
    assert set(_entities("Installing Flask with pip")) == {"flask"}
    # A sentence of names ends as a sentence does.
    assert "python enhancement proposal" in _entities("PEP 517 is a Python Enhancement Proposal.")


def test_or_higher_after_a_version_names_no_kind() -> None:
    # "GCC 8.1 or higher, such as Debian 10": no Debian is a "higher".
    text = "It needs a compiler supporting GCC 8.1 or higher, such as Debian 10 and RHEL 8."
    found = _entities(text, "Python 3.8 or later is required.")
    assert not {"higher", "later"} & set(found)
    document = ProseDocument("d", "d.md", text)
    assert not [t for t in extract_relations([document]).typed() if t.object == "higher"]


def test_a_version_with_a_placeholder_letter_is_one_number() -> None:
    # "2.Y" is a version, not the number 2 and a name "Y"; "3.x" likewise.
    found = _entities(
        "Modules go in /usr/lib/python2.Y/dist-packages, where 2.Y is the Python 2 version.",
        "Python 3.x and Python 3.Y.Z are versions of Python.",
    )
    assert not {"y", "z", "x"} & set(found)
    assert "python" in found


def test_subsequent_describes_and_names_nothing() -> None:
    found = _entities("Subsequent AWS CLI commands use the cached temporary credentials.")
    assert "aws cli command" in found
    assert not [key for key in found if key.startswith("subsequent")]


def test_please_asks_and_names_nothing() -> None:
    # A style guide's requests: nobody called "Please" uses the functions it names.
    texts = (
        "Please use htobe32() and htobe16() instead, it's much more descriptive.",
        "To determine the length of a constant string, please use strlen() instead.",
        "- Please never use dup(). Use fcntl() instead.",
    )
    assert "please" not in _entities(*texts)
    documents = [ProseDocument(f"d{i}", f"d{i}.md", text) for i, text in enumerate(texts)]
    assert not [t for t in extract_relations(documents).triples if "please" in t.subject]
    # What a request goes on to state is still read.
    note = ProseDocument("n", "n.md", "Please note that systemd uses D-Bus.")
    assert [(t.subject, t.object) for t in extract_relations([note]).triples] == [
        ("systemd", "d-bus")
    ]


def test_what_a_check_ensures_is_no_statement_of_fact() -> None:
    # The checks require the ESP path to be a FAT file system; the sentence does not say
    # that it is one (and the checks are turned off).
    text = (
        "Specifically, validation checks that ensure the specified ESP path is a FAT file"
        " system are turned off."
    )
    options = ExtractionOptions(cooccurrence=False)
    assert extract_relations([ProseDocument("d", "d.md", text)], options).typed() == ()
    stated = ProseDocument("s", "s.md", "The ESP is a FAT file system.")
    assert [(t.subject, t.object) for t in extract_relations([stated], options).typed()] == [
        ("esp", "fat file system")
    ]


@pytest.mark.parametrize(
    "sentence",
    [
        "Because Fedora is a bit confused the nobody user is called nfsnobody there.",
        "The build is a little slower on ARM.",
        "The new parser is a lot faster.",
    ],
)
def test_a_bit_before_an_adjective_is_a_degree_not_a_kind(sentence: str) -> None:
    options = ExtractionOptions(cooccurrence=False)
    found = extract_relations([ProseDocument("d", "d.md", sentence)], options)
    assert found.typed() == (), found.typed()


def test_information_is_too_vague_to_be_used() -> None:
    text = (
        "NSS and PAM modules can use this information to determine in which context they"
        " are being called."
    )
    options = ExtractionOptions(cooccurrence=False)
    found = extract_relations([ProseDocument("d", "d.md", text)], options)
    assert not [t for t in found.triples if "information" in t.object], found.triples


def test_a_lower_case_name_is_a_name_where_its_document_uses_it_as_one() -> None:
    """pip, npm and systemd are written in lower case, like common nouns. A document
    that gives one a possessive or makes it the subject of a verb, with no article,
    uses it as a name: each of its mentions there counts, as a capitalised name's would."""
    text = (
        "Wheels are kept in pip's cache. The cache is in a directory of its own. When a"
        " user asks for a project, pip needs to work out its versions. Then pip downloads"
        " them with Python 3."
    )
    found = _entities(text)
    assert found["pip"].mentions == 3
    assert "pip need" not in found  # "needs" is its verb, not a compound "pip needs"
    # A common word missing from the word lists is not made a name by appearing bare,
    # nor a mass noun by a verb agreeing with it inside a sentence.
    plain = _entities(
        "Regular users are resolved during late boot. Early boot needs Linux.",
        "Caches help because memory is cheap on Linux.",
    )
    assert not {"boot", "memory"} & set(plain)
    assert "linux" in plain


def test_a_lower_case_word_without_such_use_stays_a_phrase() -> None:
    # "the resolver" has its article: a common noun, however unknown the word.
    found = _entities("The resolver backtracks over candidates with Python 3.")
    assert "resolver" not in found


def test_a_participle_after_a_name_is_its_verb_not_a_compound() -> None:
    found = _entities(
        "systemd defines the ranges. Attach a debugger to an instance of systemd running"
        " in a mkosi image, or to Django running on Gunicorn."
    )
    assert {"systemd", "django", "gunicorn"} <= set(found)
    assert not [key for key in found if key.endswith("running")], sorted(found)


def test_a_file_path_names_no_entity_and_no_part_of_it_does() -> None:
    # The "C" of a Windows path is no language named C.
    found = _entities(
        "On Windows, pip reads C:\\ProgramData\\pip\\pip.ini and %APPDATA%\\pip\\pip.ini.",
        # Markdown's inline code keeps a path's backslashes as written, doubled or not.
        "Before Windows 7 it read C:\\\\Documents\\\\pip\\\\pip.ini.",
        "On Linux, pip reads /etc/pip.conf, ~/.config/pip/pip.conf and $HOME/.pip/pip.conf.",
        "The site configuration is written in C. pip's cache grows.",
    )
    assert {"windows", "linux", "pip", "c"} <= set(found)
    assert found["c"].mentions == 1
    assert not [key for key in found if "pip.ini" in key or "pip.conf" in key or "/" in key]


def test_a_participle_opening_a_copula_is_no_name() -> None:
    # "Included is a nested map": a nested map is included; nothing is called Included.
    text = "Included is a nested map for customizing each state's color and icon."
    found = extract_relations([ProseDocument("d", "d.md", text)])
    assert "included" not in {e.key for e in found.entities}
    assert found.typed() == ()


def test_class_suffixes_in_braces_are_no_flags() -> None:
    # ".navbar-expand{-sm|-md|-lg|-xl}" lists class suffixes; "-lg" is no command-line flag.
    found = _entities(
        "Navbars require a wrapping .navbar with .navbar-expand{-sm|-md|-lg|-xl} classes.",
        "Run pip install with --no-deps or -r requirements.txt.",
    )
    assert not {"-sm", "-md", "-lg", "-xl"} & set(found)
    assert "--no-deps" in found


def test_a_pronoun_with_a_contracted_verb_is_no_entity() -> None:
    found = extract_relations(
        [ProseDocument("d", "d.md", "Toasts are lightweight. They're built with flexbox.")]
    )
    assert not [e.key for e in found.entities if "they" in e.key]
    assert not [t for t in found.triples if t.subject.startswith("they")]


def test_a_verb_in_s_between_a_name_and_a_plural_is_the_names_verb() -> None:
    # "PyPI hosts wheels": PyPI, hosting; no entity "PyPI hosts wheels".
    found = _entities("Wheels are uploaded to PyPI. PyPI hosts wheels for every platform.")
    assert found["pypi"].mentions == 2
    assert not [key for key in found if key.startswith("pypi ")], sorted(found)
    # Also past an aside in brackets after the name.
    found = _entities("The Python Software Foundation (PSF) runs PyPI.")
    assert set(found) == {"psf", "pypi"}


def test_a_verb_in_s_between_a_noun_and_an_article_is_the_nouns_verb() -> None:
    # "The Router class maps a URL to a form": Router class and URL, no "router class map"
    # (nor "asgi application reject" of "an ASGI application rejects the connection").
    found = _entities("The Router class maps a URL to a form.")
    assert {"router class", "url"} <= set(found)
    assert not [key for key in found if key.endswith(" map")], sorted(found)
    found = _entities("An ASGI application rejects the connection before it opens.")
    assert "asgi application" in found, sorted(found)
    # Before a name, an -s word after a noun stays the noun's: "the asyncio streams API".
    found = _entities("Uvicorn switched to the asyncio streams API.")
    assert "asyncio streams api" in found, sorted(found)


@pytest.mark.parametrize(
    "texts",
    [
        ("Packages are uploaded to the Python Package Index (PyPI).", "PyPI hosts wheels."),
        ("PyPI is the Python Package Index.", "Twine uploads packages to PyPI."),
    ],
)
def test_a_short_form_and_its_spelt_out_name_are_one_entity(texts: tuple[str, ...]) -> None:
    found = _entities(*texts)
    assert "python package index" not in found
    assert set(found["pypi"].aliases) == {"PyPI", "Python Package Index"}
    assert found["pypi"].mentions == 3


def test_a_name_in_brackets_that_is_not_its_initials_is_no_short_form() -> None:
    # "(Warehouse)" does not abbreviate "the Python Package Index": two entities.
    found = _entities("The Python Package Index (Warehouse) serves wheels. PyPI is fast.")
    assert {"python package index", "warehouse", "pypi"} <= set(found)


def test_a_language_literal_is_a_value_not_a_name() -> None:
    # API documentation sets options to literals; nothing called "False" is related to
    # the options it is given to.
    texts = (
        "Inspect 500 error responses by setting raise_app_exceptions=False.",
        "To ignore environment variables, trust_env has to be set False.",
        "Pass None for no limits, or True to verify with the default CA bundle.",
    )
    found = _entities(*texts)
    assert not {"false", "true", "none"} & set(found)
    assert {"raise_app_exceptions", "trust_env"} <= set(found)
    # At the start of a sentence the same words are words.
    assert "trio" in _entities("None of the tests use Trio.")


def test_a_capitalised_imperative_that_opens_a_sentence_is_no_part_of_a_name() -> None:
    # Lists of projects invite the reader to check them out: the project is the name.
    found = _entities(
        "Checkout MySimpleChat, a simple chat application built using channel-box.",
        "Checkout nejma-chat, a simple chat application built using nejma.",
    )
    assert "mysimplechat" in found
    assert not [key for key in found if key.startswith("checkout")]


def test_a_plural_used_as_a_common_noun_is_its_singular() -> None:
    # "blueprints" keeps its "s" in its key, as a name might; written as a common noun,
    # and with "blueprint" named too, the two are one entity.
    found = _entities(
        "Blueprints support the errorhandler decorator. Blueprints instead provide separation.",
        "The Flask app and its blueprints provide decorators. A Blueprint can add handlers.",
    )
    assert "blueprint" in found
    assert "blueprints" not in found
    assert found["blueprint"].mentions == 4


def test_a_plural_name_with_a_singular_verb_stays_a_name() -> None:
    found = _entities(
        "Requests is an HTTP library. Requests supports proxies.",
        "The request uses a session, and the requests use proxies.",
    )
    assert {"requests", "request"} <= set(found)


def test_a_plural_capitalised_only_where_sentences_open_is_a_common_noun() -> None:
    # Flask's "Blueprints can greatly simplify ..." and "Registering Blueprints" (a
    # heading) capitalise what "register your blueprints" writes in lower case.
    text = (
        "Registering Blueprints\n\nBlueprints can provide resources as well. Flask lets"
        " you register blueprints on an app. A Blueprint uses Werkzeug."
    )
    found = _entities(text)
    assert "blueprints" not in found
    typed = extract_relations([ProseDocument("d", "d.md", text)]).typed()
    assert ("blueprint", "provides", "resources") in {
        (t.subject, t.predicate.value, t.object) for t in typed
    }
    # A name is capitalised inside sentences too.
    named = _entities(
        "Requests can send proxies. You can use Requests with urllib3, and the requests"
        " use a session."
    )
    assert "requests" in named


def test_a_plural_common_noun_is_not_an_acronym_in_the_singular() -> None:
    found = _entities(
        "Use a data method such as POST to send data. POST is a method.",
        "The posts use templates. Flask lists the posts of a blog.",
    )
    assert {"post", "posts"} <= set(found)
    assert found["post"].name == "POST"


def test_a_change_log_date_label_is_no_name() -> None:
    # Django REST framework's release notes open 84 entries with "Date: ...".
    found = _entities("Date: 22nd March 2024\n\nDate: 15th March 2024. Flask uses Werkzeug.")
    assert "date" not in found
    assert "werkzeug" in found


def test_the_plural_of_a_capitalised_term_is_that_term() -> None:
    # Prometheus' docs write their metric types as terms: "a Histogram", "Histograms".
    found = _entities(
        "A Histogram counts observations. The Histogram has buckets.",
        "Go exposes a Histogram. Summaries, Histograms and Counters use suffixes.",
        "Native histograms use an exponential schema.",
    )
    assert "histogram" in found
    assert "histograms" not in found
    assert found["histogram"].mentions == 5  # type: ignore[attr-defined]
    # A plural name more often mentioned than its capitalised singular stays a name.
    named = _entities(
        "Requests is an HTTP library. Requests supports proxies. Requests sends a Request.",
    )
    assert {"requests", "request"} <= set(named)
