"""Entity keys, aliases and merging: one stable key per entity, its most frequent surface
form as its name, the type that sentences state."""

from __future__ import annotations

import pytest

from wikisaga.content.relations import (
    EntityKind,
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
