"""The sample corpus's wiki: the plan drawn from the data, sourced prose, front matter,
links, Mermaid, determinism."""

from __future__ import annotations

import random
import re

import generator_support
from generator_support import (
    check_citations,
    check_front_matter,
    check_links,
    check_no_empty_sections,
    check_no_raw_html,
    files_of,
    mermaid_blocks,
    mermaid_verdicts,
    split_page,
)

from wikisaga.content.generator import GENERATOR_VERSION, Generation, generate_wiki
from wikisaga.content.generator._analysis import analyse
from wikisaga.content.records import Document


def test_the_plan_has_every_kind_of_page_the_data_supports(sample_files: dict[str, str]) -> None:
    """An index, a glossary, a relationships page, topics, the well-connected entities and
    one page per source document."""
    paths = set(sample_files)
    assert {"wiki/index.md", "wiki/glossary.md", "wiki/relationships.md"} <= paths
    assert len([p for p in paths if p.startswith("wiki/topics/")]) >= 2
    for name in ("fastapi", "starlette", "pydantic", "uvicorn", "httpx", "sqlalchemy"):
        assert f"wiki/entities/{name}.md" in paths
    sources = sorted(p for p in paths if p.startswith("wiki/sources/"))
    assert sources == [
        f"wiki/sources/docs-{name}.md"
        for name in (
            "asgi", "fastapi", "httpx", "pydantic", "sqlalchemy", "starlette", "testing", "uvicorn"
        )
    ]  # fmt: skip


def test_every_internal_link_resolves(sample_files: dict[str, str]) -> None:
    """Every link of every page, as a CommonMark parser reads it, lands on a page and on
    an anchor that page has."""
    assert check_links(sample_files) > 100


def test_every_quoted_sentence_is_a_cited_sentence_of_its_source(
    sample_files: dict[str, str], sample: list[Document]
) -> None:
    """Each sentence of prose is followed by a citation whose passage holds it verbatim;
    nothing is left uncited."""
    assert check_citations(sample_files, sample) > 50


def test_front_matter_is_complete(sample_files: dict[str, str]) -> None:
    """Title, kind, sources (ids, paths, content hashes), the body's hash, the generator
    version, importance and related pages that exist."""
    check_front_matter(sample_files)
    meta, _ = split_page(sample_files["wiki/entities/fastapi.md"])
    assert meta["generator"] == GENERATOR_VERSION
    assert {s["path"] for s in meta["sources"]} >= {"docs/fastapi.md"}
    assert meta["related"]


def test_no_page_and_no_section_is_empty(sample_files: dict[str, str]) -> None:
    check_no_empty_sections(sample_files)


def test_no_raw_html_reaches_a_page(sample_files: dict[str, str]) -> None:
    check_no_raw_html(sample_files)


def test_every_diagram_parses_with_mermaids_own_parser(sample_files: dict[str, str]) -> None:
    diagrams = mermaid_blocks(sample_files)
    assert len(diagrams) >= 5
    verdicts = mermaid_verdicts(diagrams)
    assert all(v["ok"] for v in verdicts), [v for v in verdicts if not v["ok"]]


def test_an_entity_page_defines_relates_and_locates_its_entity(
    sample_files: dict[str, str],
) -> None:
    """FastAPI's page quotes its definition, lists its relations both ways with
    citations, draws them, and says where it is mentioned."""
    _, body = split_page(sample_files["wiki/entities/fastapi.md"])
    assert "## Definition\n\nFastAPI is a modern web framework" in body
    assert "| [FastAPI](fastapi.md) | uses | [Pydantic](pydantic.md) |" in body
    assert "```mermaid" in body
    assert "## Mentioned in" in body
    assert "- [FastAPI](../sources/docs-fastapi.md)" in body


def test_a_source_page_has_an_anchor_for_every_passage(
    sample_files: dict[str, str], sample: list[Document]
) -> None:
    for document in sample:
        name = document.source_path.removesuffix(".md").replace("/", "-")
        _, body = split_page(sample_files[f"wiki/sources/{name}.md"])
        for chunk in document.chunks:
            assert f'<a id="p-{chunk.index + 1}"></a>' in body


def test_the_index_says_what_the_corpus_is_about_and_how_to_navigate(
    sample_files: dict[str, str],
) -> None:
    _, body = split_page(sample_files["wiki/index.md"])
    for heading in ("## About", "## Topics", "## Key entities", "## Finding your way"):
        assert heading in body
    assert "[Glossary](glossary.md)" in body


def test_the_same_documents_give_byte_identical_pages_in_any_order(
    sample: list[Document], sample_generation: Generation
) -> None:
    shuffled = list(sample)
    random.Random(7).shuffle(shuffled)
    again = generate_wiki(shuffled)
    assert files_of(again) == files_of(sample_generation)
    assert again.source_map == sample_generation.source_map
    assert again.graph == sample_generation.graph


def test_the_source_map_names_the_pages_of_each_document(
    sample_generation: Generation, sample: list[Document]
) -> None:
    """Every document's own page draws on it, and every page's sources are documents."""
    source_map = sample_generation.source_map
    ids = {d.doc_id for d in sample}
    for document in sample:
        pages = source_map.pages_of(document.doc_id)
        name = document.source_path.removesuffix(".md").replace("/", "-")
        assert f"wiki/sources/{name}.md" in pages
    for page in source_map.pages:
        assert set(page.sources) <= ids
    as_json = source_map.to_json()
    assert set(as_json["sources"]) == ids


def test_a_topic_named_with_what_it_is_is_one_entity_of_the_wiki() -> None:
    """ "twine uses the requests library", next to a document on requests: the wiki has one
    requests, related to twine, and names "requests library" as another way to write it;
    without the document on requests, "requests library" stays an entity of its own."""
    twine = generator_support.document(
        "docs/twine.md", "# twine\n\ntwine uses the requests library.\n"
    )
    requests = generator_support.document(
        "docs/requests.md", "# requests\n\nrequests is an HTTP library.\n"
    )
    with_topic = generate_wiki([twine, requests]).graph
    keys = {e.key for e in with_topic.entities}
    assert "requests library" not in keys
    assert ("twine", "uses", "requests") in {
        (t.subject, t.predicate.value, t.object) for t in with_topic.triples
    }
    entity = next(e for e in with_topic.entities if e.key == "requests")
    assert "requests library" in entity.aliases
    alone = generate_wiki([twine]).graph
    assert ("twine", "uses", "requests library") in {
        (t.subject, t.predicate.value, t.object) for t in alone.triples
    }


def test_the_wiki_merges_entity_keys_as_the_extractor_does() -> None:
    """ "jsonschema implements JSON Schema": a library and the specification it implements
    are two entities of the wiki, and the relation between them is kept, as the
    extractor keeps them apart; keys that differ only in which separators they use
    (``pydantic-core``, ``pydantic_core``) are still one."""
    jsonschema = generator_support.document(
        "docs/jsonschema.md",
        "# jsonschema\n\njsonschema implements JSON Schema.\n\n"
        "jsonschema is a library for Python.\n",
    )
    pydantic = generator_support.document(
        "docs/pydantic.md",
        "# pydantic\n\nPydantic uses pydantic-core.\n\npydantic_core is written in Rust.\n",
    )
    graph = generate_wiki([jsonschema, pydantic]).graph
    keys = {e.key for e in graph.entities}
    assert {"jsonschema", "json schema"} <= keys
    assert ("jsonschema", "implements", "json schema") in {
        (t.subject, t.predicate.value, t.object) for t in graph.triples
    }
    assert len({k for k in keys if k.replace("_", "-") == "pydantic-core"}) == 1


def test_a_table_row_is_not_read_for_relations() -> None:
    """A Markdown table's rows reach the generator as prose, cells joined by " | "; they
    are not sentences, and the extractor's own reading of markup leaves tables out: no
    entity comes only from a table's cells, and no relation from a row."""
    tools = generator_support.document(
        "docs/tools.md",
        "# tools\n\npip is a package installer.\n\n| Tool | Author |\n|---|---|\n"
        "| Flask | Armin Ronacher |\n| Django | Adrian Holovaty |\n| Flask | Armin Ronacher |\n",
    )
    graph = generate_wiki([tools]).graph
    keys = {e.key for e in graph.entities}
    assert "pip" in keys
    assert not keys & {"flask", "django", "armin ronacher", "adrian holovaty", "author"}
    assert all("|" not in t.sentence for t in graph.triples)


def _arborist_node_dev(first: str) -> tuple[str, list[str]]:
    """The ``node.dev`` page of a README where ``first`` is the first sentence naming
    ``node.dev`` with ``node.optional``: its body, and what it quotes under "In the
    sources" (``node.dev`` is in no relation of its own, only named with neighbours)."""
    text = (
        f"# arborist\n\nArborist is a library that manages node_modules trees.\n\n{first}\n\n"
        "When `node.dev` is set and `node.optional` is not, the node is needed only in"
        " development.\n\n"
        "When `node.dev` and `node.peer` are both set, the node is a peer of a dev"
        " dependency.\n\n"
        "Arborist prunes a `node.peer` whose `node.dev` is set when it installs for"
        " production.\n\n"
        "Arborist uses Pacote to fetch packages.\n\nArborist supports workspaces.\n\n"
        "The reify step writes the tree to disk.\n\n"
        "The loadActual step reads the tree from disk.\n\n"
        "The buildIdealTree step computes the tree that should be installed.\n\n"
        "Lockfiles record the resolved versions.\n"
    )
    document = generator_support.document("docs/arborist.md", text)
    files = generator_support.files_of(generate_wiki([document]))
    _, body = generator_support.split_page(files["wiki/entities/node-dev.md"])
    assert "## In the sources" in body
    section = body.split("## In the sources\n", 1)[1].split("\n## ", 1)[0]
    return body, [text for text, _ in generator_support.page_statements(section)]


def test_an_entity_known_only_by_its_neighbours_is_shown_in_their_sentences() -> None:
    """Its page quotes the sentences that name it with its neighbours, instead of listing
    them with nothing said of it."""
    body, quoted = _arborist_node_dev(
        "If both `node.dev` and `node.optional` are set, the node is an optional dependency"
        " of a dev dependency."
    )
    assert "## Definition" not in body
    assert quoted == [
        "If both node.dev and node.optional are set, the node is an optional dependency of a"
        " dev dependency.",
        "When node.dev and node.peer are both set, the node is a peer of a dev dependency.",
    ]


def test_a_pointer_sentence_says_nothing_of_an_entity_known_by_its_neighbours() -> None:
    """The first sentence naming ``node.dev`` with ``node.optional`` only sends the reader
    elsewhere: the page quotes what the other sentence says instead."""
    _, quoted = _arborist_node_dev(
        "For more details on `node.dev` and `node.optional`, see the guide to flags."
    )
    assert quoted == [
        "When node.dev and node.peer are both set, the node is a peer of a dev dependency."
    ]


def test_the_about_paragraph_quotes_a_definition_that_follows_a_tagline() -> None:
    """A site's front page opens with its tagline, "An ASGI web server, for Python.", and
    defines its subject in the next sentence: the index's About quotes the definition,
    though it is neither the page's first sentence nor its best summary."""
    front = generator_support.document(
        "docs/index.md",
        "<p><em>An ASGI web server, for Python.</em></p>\n\n# Introduction\n\n"
        "Uvicorn is an ASGI web server implementation for Python. Uvicorn currently supports"
        " HTTP/1.1 and WebSockets.\n",
    )
    others = [
        generator_support.document(
            f"docs/{name}.md",
            f"# {name.title()}\n\nUvicorn {what}. Run Uvicorn with --{name} to {why}.\n",
        )
        for name, what, why in (
            ("reload", "watches your files", "restart on changes"),
            ("workers", "can run several processes", "use every CPU"),
            ("proxy", "reads proxy headers", "see the client's address"),
        )
    ]
    files = generator_support.files_of(generate_wiki([front, *others]))
    body = generator_support.split_page(files["wiki/index.md"])[1]
    about = body.split("## About\n\n", 1)[1].split("\n\n## ", 1)[0]
    assert about.startswith("Uvicorn is an ASGI web server implementation for Python. ["), about


def test_key_entities_are_the_ones_across_the_corpus_not_one_listings() -> None:
    """A page listing third-party plugins relates each to three things; a class the
    project's own documents name relates to two, in two documents. The index lists the
    class among the key entities before the plugins, though the plugins have more
    relations (they did: Alpha, Beta and Gamma came right after Widget)."""
    plugins = "\n\n".join(
        f"{name} is a plugin for Widget that {does}. {name} depends on {needs} and supports"
        f" {framework}."
        for name, does, needs, framework in (
            ("Alpha", "renders forms with Bootstrap", "Jinja", "Django"),
            ("Beta", "stores forms in Redis", "Mako", "Flask"),
            ("Gamma", "signs forms with JWT", "PyJWT", "Pyramid"),
        )
    )
    documents = [
        generator_support.document(f"docs/{path}", text)
        for path, text in (
            ("index.md", "# Widget\n\nWidget is a toolkit for building web forms in Python.\n"),
            ("third-party.md", f"# Third-party packages\n\n{plugins}\n"),
            ("routing.md", "# Routing\n\nRouter depends on Widget. Each URL leads to a form.\n"),
            ("forms.md", "# Forms\n\nRouter uses Jinja to render each form of the site.\n"),
        )
    ]
    files = generator_support.files_of(generate_wiki(documents))
    body = generator_support.split_page(files["wiki/index.md"])[1]
    keys = body.split("## Key entities\n\n", 1)[1].split("\n\n## ", 1)[0]
    listed = re.findall(r"^- \[([^\]]+)\]", keys, re.M)
    assert listed[0] == "Widget", listed
    assert listed.index("Router") < min(listed.index(p) for p in ("Alpha", "Beta", "Gamma"))


def test_what_a_thing_can_be_is_no_definition_of_it() -> None:
    """ "Content Delivery Networks can also be a low-effort way to provide HTTPS
    termination" (Uvicorn's deployment page) says what a CDN is good for: the glossary
    did define CDNs by it. "Uvicorn is an ASGI web server that can be ..." defines
    Uvicorn."""
    text = (
        "# Deployment\n\nUvicorn is an ASGI web server that can be run by Gunicorn. Content"
        " Delivery Networks can also be a low-effort way to provide HTTPS termination.\n"
    )
    files = generator_support.files_of(
        generate_wiki([generator_support.document("docs/deployment.md", text)])
    )
    glossary = generator_support.split_page(files["wiki/glossary.md"])[1]
    # A modal in a clause after the definition is the definition's own.
    assert "Uvicorn is an ASGI web server that can be run by Gunicorn." in glossary
    assert "Content Delivery Networks" not in glossary


def test_a_title_with_a_subtitle_names_what_it_is_about() -> None:
    """ "attrs: Classes Without Boilerplate" is about attrs: the page's "It" is attrs,
    and the wiki relates attrs, not "attrs classes without boilerplate"."""
    documents = [
        generator_support.document(
            "docs/index.md",
            "# attrs: Classes Without Boilerplate\n\nIt is a Python package that uses"
            " Mypy to check your classes.\n",
        ),
        generator_support.document(
            "docs/mypy.md", "# Mypy\n\nMypy is a static type checker for Python.\n"
        ),
    ]
    generation = generate_wiki(documents)
    triples = {(t.subject, t.predicate.value, t.object) for t in generation.graph.triples}
    assert ("attrs", "uses", "mypy") in triples, sorted(triples)
    assert analyse(documents[0]).title_key == "attrs"


def test_a_landing_page_is_about_what_it_welcomes_to() -> None:
    """Flask's wiki opened its About with "Flask is a WSGI application." from a page on
    deployment; its landing page, "Welcome to Flask", is about Flask and defines it."""
    documents = [
        generator_support.document(
            "docs/index.rst",
            "Welcome to Flask\n================\n\nWelcome to Flask's documentation."
            " Flask is a lightweight WSGI web application framework.\n",
        ),
        generator_support.document(
            "docs/deploying/index.md",
            "# Deploying to Production\n\nFlask is a WSGI application. Flask is a WSGI"
            " application that a WSGI server runs. Gunicorn is a WSGI server.\n",
        ),
    ]
    files = generator_support.files_of(generate_wiki(documents))
    index = generator_support.split_page(files["wiki/index.md"])[1]
    about = index.split("## About", 1)[1].split("##", 1)[0]
    assert "Flask is a lightweight WSGI web application framework." in about, about
    assert analyse(documents[0]).title_key == "flask"


def test_a_title_with_a_short_form_in_brackets_names_what_is_before_it() -> None:
    """ripgrep's README, titled "ripgrep (rg)", defines ripgrep; the About quoted a
    weaker sentence of the FAQ's, as the README was about no name."""
    documents = [
        generator_support.document(
            "README.md",
            "# ripgrep (rg)\n\nripgrep is a line-oriented search tool that recursively"
            " searches the current directory for a regex pattern. ripgrep uses Rust.\n",
        ),
        generator_support.document(
            "FAQ.md",
            "# FAQ\n\nripgrep is a project whose contributors are volunteers. ripgrep uses"
            " PCRE2. ripgrep uses Rust.\n",
        ),
    ]
    assert analyse(documents[0]).title_key == "ripgrep"
    files = generator_support.files_of(generate_wiki(documents))
    index = generator_support.split_page(files["wiki/index.md"])[1]
    about = index.split("## About", 1)[1].split("##", 1)[0]
    assert "ripgrep is a line-oriented search tool" in about, about


def test_a_definition_opens_with_what_it_defines() -> None:
    """ripgrep's FAQ defined RIP by "The fact that RIP is also an initialism ... never
    really dawned on me", and Prometheus' docs Kelvin by "While Kelvin is a better base
    unit in theory, ...": a definition states what its subject is, from the start of
    the sentence, after an article or an opening phrase set off by a comma."""
    text = (
        "# Notes\n\nThe fact that RIP is also an initialism for a phrase never dawned on me."
        " While Kelvin is a better base unit in theory, most hardware exposes Celsius."
        " In Flask, Jinja is a template engine for Python."
        " The Pushgateway is an intermediary service for batch jobs."
        " The Counter, Gauge, Summary and Histogram metric types are the primary interface.\n"
    )
    files = generator_support.files_of(
        generate_wiki([generator_support.document("docs/notes.md", text)])
    )
    glossary = generator_support.split_page(files["wiki/glossary.md"])[1]
    assert "The fact that RIP" not in glossary, glossary
    assert "While Kelvin" not in glossary, glossary
    assert "In Flask, Jinja is a template engine for Python." in glossary, glossary
    assert "The Pushgateway is an intermediary service for batch jobs." in glossary, glossary
    assert "metric types are the primary interface" not in glossary, glossary
