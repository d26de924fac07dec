"""The semantic embedding (the ``semantic`` extra): WordLlama's weights from the installed
wheel, never a download; chosen by WIKISAGA_EMBEDDING and kept by the collection."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import chromadb
import numpy as np
import pytest
from chromadb.utils.embedding_functions import known_embedding_functions
from content_support import markdown

from wikisaga.config import Settings
from wikisaga.content.documents import document_store_for
from wikisaga.content.documents._chroma import client_settings
from wikisaga.content.documents.embedding import (
    SEMANTIC_EMBEDDING_NAME,
    LexicalEmbedding,
    SemanticEmbedding,
    embedding_for,
)


def test_it_loads_with_the_network_cut_off(tmp_path: Path) -> None:
    """In a child whose proxies point nowhere and whose Hugging Face cache is empty, the
    model still loads and embeds: everything comes from the installed package."""
    code = (
        "from wikisaga.content.documents.embedding import SemanticEmbedding\n"
        "print(len(SemanticEmbedding()(['a saga undoes its steps'])[0]))"
    )
    env = {
        **os.environ,
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HF_HOME": str(tmp_path / "hf"),
        "HOME": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "256"
    assert not (tmp_path / "hf").exists()


def test_vectors_are_unit_length_and_related_texts_are_closer() -> None:
    """Meaning, not shared words: 'car' is nearer 'automobile' than 'banana'."""
    query, near, far = SemanticEmbedding()(["car", "automobile", "banana"])
    for vector in (query, near, far):
        assert np.isclose(np.linalg.norm(vector), 1.0, atol=1e-5)
    assert float(query @ near) > float(query @ far)
    # The lexical function cannot see it: the words share nothing.
    lexical = LexicalEmbedding()
    assert float(lexical.embed("car") @ lexical.embed("automobile")) < 0.2


def test_a_text_without_tokens_and_the_configuration() -> None:
    [blank] = SemanticEmbedding()([""])
    assert np.isclose(np.linalg.norm(blank), 1.0, atol=1e-5)
    rebuilt = SemanticEmbedding.build_from_config(SemanticEmbedding(128).get_config())
    assert rebuilt.dimensions == 128
    assert known_embedding_functions[SEMANTIC_EMBEDDING_NAME] is SemanticEmbedding
    with pytest.raises(ValueError, match="one of"):
        SemanticEmbedding(100)
    with pytest.raises(ValueError, match="lexical or semantic"):
        embedding_for("magic")


def test_the_setting_chooses_it_and_a_reopened_collection_keeps_it(tmp_path: Path) -> None:
    """WIKISAGA_EMBEDDING=semantic stores documents with it; Chroma rebuilds the same
    function from the collection when the store is reopened without naming it."""
    settings = Settings.from_env(
        {"WIKISAGA_DATA_DIR": str(tmp_path), "WIKISAGA_EMBEDDING": "semantic"}
    )
    with document_store_for(settings) as store:
        store.put_documents([markdown("p1", "a.md", "# A\n\nSagas undo steps.\n")], user_id="u")
        assert [info.source_path for info in store.list_documents("p1")] == ["a.md"]
    with chromadb.PersistentClient(path=str(tmp_path / "chroma"), settings=client_settings()) as c:
        collection = c.get_collection("wikisaga-chunks")
        collection.add(ids=["x"], documents=["hello world"], metadatas=[{"project_id": "p"}])
        stored = collection.get(ids=["x"], include=["embeddings"])["embeddings"]
    assert stored is not None
    assert np.allclose(stored[0], SemanticEmbedding()(["hello world"])[0], atol=1e-5)
