"""The shipped corpus on Python packaging (``wikisaga/sample_corpus``, what ``wikisaga
demo`` publishes) read as a newcomer reads its wiki: each test pins a piece of noise
that once reached its pages, and the general rule that keeps it out."""

from __future__ import annotations

import re
from importlib import resources

import pytest
from generator_support import (
    check_citations,
    check_links,
    check_no_empty_sections,
    document,
    files_of,
    mermaid_blocks,
    mermaid_verdicts,
    page_statements,
    split_page,
)

from wikisaga.content.generator import Generation, generate_wiki
from wikisaga.content.generator._analysis import analyse, glosses_a_name, needs_context
from wikisaga.content.generator._plan import _repeats
from wikisaga.content.records import Document

PROJECT = "packaging"


@pytest.fixture(scope="module")
def packaging() -> list[Document]:
    corpus = resources.files("wikisaga") / "sample_corpus"
    return [
        document(f"docs/{item.name}", item.read_text(encoding="utf-8"), project=PROJECT)
        for item in sorted(corpus.iterdir(), key=lambda i: i.name)
        if item.name.endswith(".md")
    ]


@pytest.fixture(scope="module")
def packaging_generation(packaging: list[Document]) -> Generation:
    return generate_wiki(packaging)


@pytest.fixture(scope="module")
def wiki(packaging_generation: Generation) -> dict[str, str]:
    return files_of(packaging_generation)


def _body(files: dict[str, str], path: str) -> str:
    return split_page(files[path])[1]


def _section(body: str, heading: str) -> str:
    match = re.search(rf"^## {re.escape(heading)}\n\n(.*?)(?=^## |\Z)", body, re.M | re.S)
    assert match, heading
    return match.group(1)


def test_the_packaging_wiki_passes_every_check(
    wiki: dict[str, str], packaging: list[Document]
) -> None:
    assert check_links(wiki) > 100
    assert check_citations(wiki, packaging) > 50
    check_no_empty_sections(wiki)
    verdicts = mermaid_verdicts(mermaid_blocks(wiki))
    assert all(v["ok"] for v in verdicts), [v for v in verdicts if not v["ok"]]


def test_runs_on_a_service_is_no_support(wiki: dict[str, str]) -> None:
    """ "PyPI runs on Warehouse": Warehouse hosts PyPI, it is not something PyPI supports."""
    table = _body(wiki, "wiki/relationships.md")
    assert "| [PyPI](entities/pypi.md) | supports | [Warehouse]" not in table
    assert "| [PyPI](entities/pypi.md) | depends on | [Warehouse](entities/warehouse.md) |" in table


def test_a_generic_noun_gets_no_page_but_a_kind_of_several_words_does(
    wiki: dict[str, str],
) -> None:
    """Flit, twine and virtualenv are each "a tool": no page for "tool", no glossary
    entry; "build backend" (Flit, Hatchling, setuptools, flit_core) keeps its page."""
    assert "wiki/entities/tool.md" not in wiki
    assert "**[tool]" not in _body(wiki, "wiki/glossary.md")
    assert "wiki/entities/build-backend.md" in wiki


def test_lower_case_names_that_documents_are_named_after_get_pages(
    wiki: dict[str, str],
) -> None:
    """pip and setuptools are written in lower case like common words; the documents
    named after them make them names, with pages and relation rows."""
    for name in ("pip", "setuptools", "twine"):
        assert f"wiki/entities/{name}.md" in wiki
    table = _body(wiki, "wiki/relationships.md")
    assert "| [setuptools](entities/setuptools.md) | extends | distutils |" in table


def test_topic_titles_are_names_not_lists_of_words(
    wiki: dict[str, str], packaging_generation: Generation
) -> None:
    """Each topic is named after the entity one of its documents is about and most of
    them mention ("PyPI"), not "Flit, PyPI, Python Software Foundation"."""
    topics = [p for p in wiki if p.startswith("wiki/topics/")]
    assert len(topics) >= 2
    titles = [split_page(wiki[p])[0]["title"] for p in topics]
    about = {split_page(wiki[p])[0]["title"] for p in wiki if p.startswith("wiki/sources/")}
    assert len(set(titles)) == len(titles)
    for title in titles:
        assert "," not in title, title
        assert title in about, title
    assert "Python" not in titles  # what the whole corpus is about, no topic's name


def test_a_file_name_or_a_number_before_a_lower_case_word_ends_a_cited_sentence(
    wiki: dict[str, str], packaging_generation: Generation
) -> None:
    """ "build reads pyproject.toml. build calls ..." is two sentences, two citations."""
    glued = re.compile(r"(?:\.[a-z]{2,}|\d)\. [a-z]")
    statements = [
        text for body in map(split_page, wiki.values()) for text, _ in page_statements(body[1])
    ]
    assert statements
    assert not [text for text in statements if glued.search(text)]
    sentences = {s.text for a in packaging_generation.analyses.values() for s in a.sentences}
    assert "build reads pyproject.toml." in sentences
    assert "requests uses urllib3." in sentences


def test_no_page_quotes_a_sentence_twice(wiki: dict[str, str]) -> None:
    """A source page's passages open with sentences its summary does not already quote."""
    for path, content in wiki.items():
        quoted = [
            (text, target.partition("#")[0])
            for text, target in page_statements(split_page(content)[1])
        ]
        assert len(quoted) == len(set(quoted)), path


def test_no_sentence_that_leans_on_the_one_before_is_quoted_out_of_its_document(
    wiki: dict[str, str], sample_files: dict[str, str]
) -> None:
    """ "It was created by Sebastián Ramírez ..." on Sebastián Ramírez's page says nothing
    of who "it" is; outside its own document's page, no such sentence is quoted."""
    for files in (wiki, sample_files):
        for path, content in files.items():
            if path.startswith("wiki/sources/"):
                continue
            for text, _ in page_statements(split_page(content)[1]):
                assert not needs_context(text), (path, text)
    assert "It was created by" not in _body(sample_files, "wiki/entities/sebastian-ramirez.md")


def test_tables_have_no_empty_cells(wiki: dict[str, str], sample_files: dict[str, str]) -> None:
    empty = re.compile(r"^\|(?:.*\|)?\s*\|", re.M)
    for files in (wiki, sample_files):
        for path, content in files.items():
            body = split_page(content)[1]
            rows = [line for line in body.splitlines() if line.startswith("|")]
            assert not [r for r in rows if empty.match(r) and set(r) - set("|-")], path


def test_an_alias_is_another_spelling_not_a_plural(sample_files: dict[str, str]) -> None:
    body = _body(sample_files, "wiki/entities/asgi-application.md")
    assert "ASGI applications" not in body


def test_an_outline_of_one_heading_is_left_out(wiki: dict[str, str]) -> None:
    """setuptools.md has one heading, its title: an outline of it shows nothing."""
    assert "## Outline" not in _body(wiki, "wiki/sources/docs-setuptools.md")


def test_a_definition_is_said_of_the_entity_itself(wiki: dict[str, str]) -> None:
    """ "conda is a package manager for Python and other languages" defines conda, not
    Python; and pip is defined in its own document ("a package installer"), not by
    another's aside ("pip is a build frontend")."""
    glossary = _body(wiki, "wiki/glossary.md")
    assert "**[Python](entities/python.md)**: conda" not in glossary
    assert "**[pip](entities/pip.md)**: pip is a package installer for Python." in glossary


def test_the_index_says_what_the_corpus_is_about_with_its_key_entities(
    wiki: dict[str, str],
) -> None:
    """The About paragraph defines entities the index lists as key, so it says what the
    corpus is about rather than quoting three arbitrary documents."""
    body = _body(wiki, "wiki/index.md")
    about = [text for text, _ in page_statements(_section(body, "About"))]
    keys = re.findall(r"^- \[([^\]]+)\]\(entities/", _section(body, "Key entities"), re.M)
    defining = [t for t in about if any(t.removeprefix("The ").startswith(k) for k in keys)]
    assert len(about) == 3
    assert len(defining) >= 2, (about, keys)


def test_the_about_paragraph_opens_with_the_corpus_s_most_central_entity(
    wiki: dict[str, str],
) -> None:
    """A newcomer meets the subject before its parts: the About paragraph reads its
    definitions in the order of the key entities they define, so it opens with the
    first one, the Python Packaging Authority ("setuptools is a build backend" came
    first, the highest score of the three)."""
    body = _body(wiki, "wiki/index.md")
    about = [text for text, _ in page_statements(_section(body, "About"))]
    keys = re.findall(r"^- \[([^\]]+)\]\(entities/", _section(body, "Key entities"), re.M)
    defined = [
        next(i for i, k in enumerate(keys) if t.removeprefix("The ").startswith(k))
        for t in about
        if any(t.removeprefix("The ").startswith(k) for k in keys)
    ]
    assert about[0].startswith("The Python Packaging Authority is"), about
    assert defined == sorted(defined), (about, keys)


def test_a_relation_is_cited_from_the_document_about_its_subject(wiki: dict[str, str]) -> None:
    """PEP 517 lists setuptools among build backends; setuptools.md says what it is."""
    body = _body(wiki, "wiki/entities/build-backend.md")
    assert "setuptools is a build backend for Python projects." in body
    assert "setuptools is a build backend. " not in body


def test_a_topic_named_after_a_document_opens_with_it(wiki: dict[str, str]) -> None:
    """A topic page titled after what one of its documents is about ("venv") opened with
    another document's sentence ("ensurepip is a module of the Python standard
    library"): its overview now starts with that document."""
    sources = {
        split_page(text)[0]["title"]: path.removeprefix("wiki/")
        for path, text in wiki.items()
        if path.startswith("wiki/sources/")
    }
    named = 0
    for path, text in wiki.items():
        if not path.startswith("wiki/topics/"):
            continue
        meta, body = split_page(text)
        if meta["title"] not in sources:
            continue
        named += 1
        first = re.search(r"\]\(\.\./([^)#]+)#", _section(body, "Overview"))
        assert first is not None, path
        assert first.group(1) == sources[meta["title"]], (path, first.group(1))
    assert named >= 2


def test_the_requests_library_is_requests(wiki: dict[str, str]) -> None:
    """ "twine uses the requests library" relates twine to requests, not to a second
    entity "requests library" next to it."""
    twine = _body(wiki, "wiki/entities/twine.md")
    assert "| [twine](twine.md) | uses | [requests](requests.md) |" in twine
    assert "requests library" not in _section(twine, "Relations")
    assert "| requests | requests library |" in _body(wiki, "wiki/entities/requests.md")


def test_a_sentence_that_sends_the_reader_elsewhere_summarises_nothing() -> None:
    """ "See the Collaborator Guide: Landing pull requests." shares the most words with
    its document, yet says only where to read: neither a source page's summary nor the
    index's About quotes it while the document says something itself."""
    text = (
        "# Onboarding\n\n"
        "See the Collaborator Guide: Landing pull requests and reviewing pull requests.\n\n"
        "A new Collaborator lands pull requests after two reviews.\n\n"
        "Collaborators review pull requests from contributors.\n\n"
        "For more details, read the guide on landing pull requests.\n"
    )
    onboarding = document("docs/onboarding.md", text)
    files = files_of(generate_wiki([onboarding]))
    summary = _section(_body(files, "wiki/sources/docs-onboarding.md"), "Summary")
    about = _section(_body(files, "wiki/index.md"), "About")
    quoted = [t for t, _ in page_statements(summary)] + [t for t, _ in page_statements(about)]
    assert quoted, (summary, about)
    assert not [t for t in quoted if t.startswith(("See ", "For more"))], quoted


def test_a_list_of_parameters_summarises_nothing() -> None:
    """ "directory - A string or os.PathLike denoting a directory path." glosses one
    parameter of a list: neither a source page's summary nor a topic's overview quotes
    such an item while the document says something itself."""
    text = (
        "Starlette also includes a StaticFiles class for serving files in a directory.\n\n"
        "### StaticFiles\n\n"
        "Signature: StaticFiles(directory=None, packages=None, html=False)\n\n"
        "* directory - A string or os.PathLike denoting a directory path of static files.\n"
        "* packages - A list of strings or tuples of strings of Python packages of files.\n"
        "* html - Run in HTML mode. Automatically loads index.html for directories.\n\n"
        "You can combine this ASGI application with routing to serve static files.\n"
    )
    files = files_of(generate_wiki([document("docs/staticfiles.md", text)]))
    summary = _section(_body(files, "wiki/sources/docs-staticfiles.md"), "Summary")
    quoted = [t for t, _ in page_statements(summary)]
    assert quoted, summary
    assert not [t for t in quoted if t.startswith(("directory -", "packages -", "html -"))]
    assert glosses_a_name("path - A string denoting the path of the resource.")
    assert glosses_a_name("repo : An advanced example that implements a Git-like interface.")
    assert glosses_a_name("help: Help text for the argument.")
    assert glosses_a_name("str / click.STRING: The default parameter type for strings.")
    assert not glosses_a_name("Note: the cache is shared.")
    assert not glosses_a_name("Note: The cache is shared.")
    assert not glosses_a_name("Flit builds pure Python packages - and only those.")


def test_a_paragraph_quotes_no_sentence_twice_in_other_words() -> None:
    """Two documents share a sentence, one with a clause more: the index's About quotes
    one of them, not both."""
    shared = "Click emulates output streams on Windows to support unicode in the console"
    documents = [
        document("docs/wincmd.md", f"# Windows\n\n{shared} and decodes parameters.\n"),
        document("docs/utils.md", f"# Utilities\n\n{shared}.\n"),
        document("docs/intro.md", "# Click\n\nClick is a package for command line tools.\n"),
    ]
    about = _section(_body(files_of(generate_wiki(documents)), "wiki/index.md"), "About")
    quoted = [t for t, _ in page_statements(about)]
    assert len([t for t in quoted if t.startswith("Click emulates")]) == 1, quoted
    assert _repeats(
        "Click emulates output streams on Windows.", ["Click emulates output streams on"]
    )
    assert not _repeats("Click emulates streams.", ["Click emulates streams on Windows."])


def test_a_sentence_of_notation_is_never_quoted() -> None:
    """A Cypher pattern written out in the text reads as no sentence to a newcomer: no
    page quotes it, while the prose around it, with its own parentheses, is quoted."""
    notation = (
        "(:GraphProject {project_id, current}) holds the pointer; (:Entity {project_id,"
        " key, name})-[:RELATES {predicate, weight}]->(:Entity) holds each relation."
    )
    prose = "The graph store keeps one generation per project (DESIGN §6, the storage)."
    text = f"# The graph\n\n{prose}\n\n{notation}\n\nEach project has one current generation.\n"
    files = files_of(generate_wiki([document("docs/graph.md", text)]))
    quoted = {t for body in files.values() for t, _ in page_statements(split_page(body)[1])}
    assert prose in quoted
    assert not [t for t in quoted if "GraphProject" in t or "RELATES" in t], quoted


@pytest.mark.parametrize(
    "sentence",
    [
        "Thus, no files on a system should be owned by this user.",
        "Therefore the package declares a dependency.",
        "Moreover, the build is reproducible.",
        "Consequently the tests run twice.",
        "Conversely, Starlette also provides a delete_cookie method to expire a cookie.",
        "Additionally, the client keeps its connections open.",
        # ... or on the heading above it: no subject, or no main clause.
        "Used to add a single background task to a response.",
        "Called when the application starts up and before it serves requests.",
        "If you want to use different routes for the same path based on the Host header.",
        # ... or on the text around it.
        "The other place is the Context.default_map (a dictionary) on the context.",
        "The following Group subclass adds an attribute, lazy_subcommands.",
        "Despite this, test coverage is an important tool to use during development.",
        "For this reason, Flask registers the blueprint once.",
        "In that case the server keeps the connection open.",
        "Below are common questions regarding the use of Amazon S3 in the AWS CLI.",
        "Note that I used single quotes above, so my shell is not expanding the variable.",
        "Run the command as shown below.",
        # ... or glosses the heading above it, a noun phrase with no verb.
        "A mapping of Django model fields to REST framework serializer fields.",
        "The version of Python that the wheel targets.",
        # ... or is an aside to it.
        "NOTE: The main entry point to the API is through Events that are received by plugins.",
        "Warning: the build directory is deleted before every build.",
        "Note that the cache is shared between the two clients.",
    ],
)
def test_a_sentence_opening_with_a_connective_leans_on_the_one_before(sentence: str) -> None:
    assert needs_context(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "If you use a Client, connections are pooled.",
        "Based on the Host header, the router picks a route.",
        "When a request comes in the router matches its path.",
        "Starlette is used by FastAPI.",
        "Released versions are tagged on GitHub.",
        "The otherwise idle worker picks the job.",
        "Values above 100 are refused, and so are values below the floor.",
        "The name of the package is stored in the wheel.",
        "In this guide you deploy Flask behind Nginx.",
        "A list of hosts supports wildcards.",
    ],
)
def test_a_whole_sentence_leans_on_nothing(sentence: str) -> None:
    assert not needs_context(sentence)


def test_a_table_row_is_never_quoted_as_a_sentence() -> None:
    """A Markdown table's rows are read for their relations, but a row is cells, not a
    sentence: "1000…60000 | Regular users | Distributions | /etc/passwd + LDAP/NIS/…"
    summarises nothing, even when its last cell ends as a sentence does."""
    rows = "\n".join(
        (
            "| UID/GID | Purpose | Defined By | Listed in |",
            "|---|---|---|---|",
            "| 0 | `root` user | Linux | `/etc/passwd` + `nss-systemd` |",
            "| 1000…60000 | Regular users | Distributions | `/etc/passwd` + LDAP/NIS/… |",
            "| 65534 | `nobody` user | Linux | covered by the kernel's own mapping. |",
        )
    )
    prose = "Regular users are resolved during late boot by the user database."
    text = f"# Users and groups\n\n## Summary\n\n{rows}\n\n{prose}\n"
    files = files_of(generate_wiki([document("docs/uids.md", text)]))
    quoted = {t for body in files.values() for t, _ in page_statements(split_page(body)[1])}
    assert prose in quoted
    assert not [t for t in quoted if "|" in t], quoted


_DISCLAIMER = (
    'THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY '
    "EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES "
    "OF MERCHANTABILITY ARE DISCLAIMED."
)


def test_a_licence_in_capitals_is_never_quoted_and_names_nothing() -> None:
    """A licence's disclaimer shouts: its capitals mark no names ("SOFTWARE",
    "COPYRIGHT HOLDERS"), and it is no sentence for a page to quote."""
    prose = "MkDocs is a static site generator that builds project documentation."
    short = "THE SOFTWARE IS PROVIDED AS IS, WITHOUT WARRANTY OF ANY KIND."
    text = f"# License\n\n{prose}\n\n{short}\n\n{_DISCLAIMER}\n"
    generation = generate_wiki([document("docs/license.md", text)])
    files = files_of(generation)
    quoted = {t for body in files.values() for t, _ in page_statements(split_page(body)[1])}
    assert prose in quoted
    assert not [t for t in quoted if "SOFTWARE" in t], quoted
    names = {e.name for e in generation.graph.entities}
    assert "MkDocs" in names
    assert not [name for name in names if name.isupper()], names


def test_a_sentence_naming_the_latter_leans_on_the_one_before() -> None:
    # "the latter" is the second of two things the sentence before named.
    assert needs_context("(Note that the latter encodes the maximum UID base.)")
    assert needs_context("The former is kept for compatibility, as the manual says.")
    assert not needs_context("The journal keeps the logs of every service.")


def test_a_subsections_lead_is_about_the_subsection_not_the_document() -> None:
    """Uvicorn's ASGI page lists frameworks, each under a heading of its own below "## ASGI
    frameworks": "BlackSheep is a web framework based on ASGI" leads its subsection and
    was the page's second summary sentence, before what the page says of ASGI itself."""
    text = (
        "## ASGI\n\nUvicorn uses the ASGI specification for interacting with an application."
        " The application should expose an async callable which takes three arguments.\n\n"
        "## Why ASGI?\n\nMost well established Python Web frameworks started out as"
        " WSGI-based frameworks. WSGI applications are a single, synchronous callable that"
        " takes a request and returns a response. A strength of the ASGI protocol is that it"
        " decouples the server implementation from the application framework.\n\n"
        "## ASGI frameworks\n\nYou can use Uvicorn, Daphne, or Hypercorn to run any ASGI"
        " framework.\n\n### Quart\n\nQuart is a Flask-like ASGI web framework.\n\n"
        "### BlackSheep\n\nBlackSheep is a web framework based on ASGI, inspired by Flask and"
        " ASP.NET Core.\n\n### Muffin\n\nMuffin is a fast, lightweight and asynchronous ASGI"
        " web-framework for Python 3.\n"
    )
    analysis = analyse(document("docs/asgi.md", text))
    summary = [analysis.prose[i].text for i in analysis.summary[:2]]
    assert not [t for t in summary if t.startswith(("BlackSheep", "Quart", "Muffin"))], summary


def test_a_plural_and_its_singular_are_one_entity_across_documents() -> None:
    """Flask's wiki listed "Blueprints" and "Blueprint" as two key entities: one document
    writes the common noun in the plural, another names one blueprint."""
    views = (
        "# Views\n\nBlueprints support the errorhandler decorator."
        " The app and its blueprints provide decorators.\n"
    )
    hooks = "# Hooks\n\nA Blueprint can add handlers for these events. A Blueprint uses Werkzeug.\n"
    generation = generate_wiki([document("docs/views.md", views), document("docs/hooks.md", hooks)])
    keys = {e.key for e in generation.graph.entities}
    assert "blueprint" in keys
    assert "blueprints" not in keys
    subjects = {t.subject for t in generation.graph.triples}
    assert "blueprint" in subjects


# Two kinds of page: deployment guides and template pages, each kind a topic.
_PROD = (
    "In production, Nginx forwards requests and headers to the app. The proxy sets"
    " headers in production, and Gunicorn runs workers."
)
_TMPL = (
    "Jinja renders templates. Templates extend a base template and use blocks. Jinja"
    " escapes templates, and Flask loads them."
)


def test_a_topic_holding_a_folder_of_the_documentation_takes_its_index_title() -> None:
    """Flask's deployment guides, in ``deploying/``, made a topic titled "apache-httpd"
    after one of them: a topic holding a folder's index document, and a third of its
    documents from that folder, is that section of the documentation."""
    documents = [
        document("docs/deploying/index.md", f"# Deploying to Production\n\n{_PROD} Deploy it.\n"),
        document("docs/deploying/proxies.md", f"# Proxy Fix\n\n{_PROD} The proxy trusts a hop.\n"),
        document("docs/deploying/static.md", f"# Static Files\n\n{_PROD} Nginx serves files.\n"),
        document("docs/deploying/workers.md", f"# Worker Counts\n\n{_PROD} Gunicorn scales.\n"),
        document("docs/templates.md", f"# Templates\n\n{_TMPL}\n"),
        document("docs/views.md", f"# Views\n\n{_TMPL} A view returns a template.\n"),
        document("docs/blocks.md", f"# Blocks\n\n{_TMPL} A block overrides a parent block.\n"),
        # The top folder's index is the landing page of everything: no section's title.
        document(
            "docs/index.md",
            "# Welcome to Flask\n\nFlask is a web framework. Flask uses Jinja templates.\n",
        ),
    ]
    files = files_of(generate_wiki(documents))
    titles = {split_page(b)[0]["title"] for p, b in files.items() if p.startswith("wiki/topics/")}
    assert "Deploying to Production" in titles, titles
    assert "Welcome to Flask" not in titles, titles


def test_a_topic_holding_half_of_a_folder_with_no_index_takes_the_folder_s_name() -> None:
    """Prometheus' guides, in ``guides/``, made a topic titled "Docker Swarm" after one of
    them: their index is front matter alone, no document. A folder holding half the
    topic's documents names it when its name is a word; a folder with an index of its
    own is named by that index only."""
    documents = [
        document("docs/guides/proxies.md", f"# Docker Swarm\n\n{_PROD} The proxy trusts a hop.\n"),
        document("docs/guides/static.md", f"# Static Files\n\n{_PROD} Nginx serves files.\n"),
        document("docs/guides/workers.md", f"# Worker Counts\n\n{_PROD} Gunicorn scales.\n"),
        document("docs/templates.md", f"# Templates\n\n{_TMPL}\n"),
        document("docs/views.md", f"# Views\n\n{_TMPL} A view returns a template.\n"),
        document("docs/blocks.md", f"# Blocks\n\n{_TMPL} A block overrides a parent block.\n"),
    ]
    files = files_of(generate_wiki(documents))
    titles = {split_page(b)[0]["title"] for p, b in files.items() if p.startswith("wiki/topics/")}
    assert "Guides" in titles, titles
    assert "Docker Swarm" not in titles, titles
