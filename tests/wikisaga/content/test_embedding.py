"""The lexical embedding: offline, deterministic across processes, registered with Chroma."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import chromadb
import numpy as np
import pytest
from chromadb.utils.embedding_functions import known_embedding_functions

from wikisaga.content.documents import open_document_store
from wikisaga.content.documents._chroma import client_settings
from wikisaga.content.documents.embedding import EMBEDDING_NAME, LexicalEmbedding


def test_vectors_are_unit_length_and_the_same_in_another_process() -> None:
    text = "Sagas publish a wiki all or nothing."
    here = LexicalEmbedding().embed(text)
    code = (
        "from wikisaga.content.documents.embedding import LexicalEmbedding\n"
        f"print(list(map(float, LexicalEmbedding().embed({text!r}))))"
    )
    there = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout

    assert np.isclose(np.linalg.norm(here), 1.0)
    assert np.allclose(here, eval(there))  # a list of floats printed by the child


def test_texts_sharing_words_are_closer_than_texts_that_do_not() -> None:
    embed = LexicalEmbedding().embed
    query = embed("install the command line tool")
    near = embed("how to install the command line")
    far = embed("recipes for sourdough bread")

    assert float(query @ near) > 0.5 > float(query @ far)


def test_case_and_repetition_are_weighted_not_counted_raw() -> None:
    embed = LexicalEmbedding().embed

    assert np.allclose(embed("Saga"), embed("saga"))
    assert float(embed("saga saga saga saga") @ embed("saga")) == pytest.approx(1.0)


def test_a_text_without_words_gets_a_fixed_unit_vector() -> None:
    vector = LexicalEmbedding(8).embed("  ... !!! ")

    assert vector.tolist() == [1.0] + [0.0] * 7


def test_the_configuration_rebuilds_the_same_function() -> None:
    original = LexicalEmbedding(64)

    rebuilt = LexicalEmbedding.build_from_config(original.get_config())

    assert rebuilt.dimensions == 64
    assert known_embedding_functions[EMBEDDING_NAME] is LexicalEmbedding
    with pytest.raises(ValueError, match="cannot change"):
        original.validate_config_update({"dimensions": 64}, {"dimensions": 32})
    with pytest.raises(ValueError, match="at least 2"):
        LexicalEmbedding(1)


def test_a_collection_reopened_without_naming_the_function_still_uses_ours(
    tmp_path: Path,
) -> None:
    """Chroma rebuilds the function from the collection's configuration: no download."""
    with open_document_store(tmp_path / "chroma"):
        pass
    with chromadb.PersistentClient(path=str(tmp_path / "chroma"), settings=client_settings()) as c:
        collection = c.get_collection("wikisaga-chunks")
        collection.add(ids=["x"], documents=["hello world"], metadatas=[{"project_id": "p"}])
        stored = collection.get(ids=["x"], include=["embeddings"])["embeddings"]

    assert stored is not None
    assert np.allclose(stored[0], LexicalEmbedding().embed("hello world"))
