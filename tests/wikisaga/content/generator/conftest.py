"""Fixtures of the page generator's tests: the sample corpus and its generation, made
once per session (generation is a pure function, so sharing it hides nothing)."""

from __future__ import annotations

import pytest
from generator_support import files_of, sample_documents, synthetic_documents

from wikisaga.content.generator import Generation, generate_wiki
from wikisaga.content.records import Document


@pytest.fixture(scope="session")
def sample() -> list[Document]:
    """The eight documents about the Python web stack."""
    return sample_documents()


@pytest.fixture(scope="session")
def sample_generation(sample: list[Document]) -> Generation:
    return generate_wiki(sample)


@pytest.fixture(scope="session")
def sample_files(sample_generation: Generation) -> dict[str, str]:
    """The sample wiki: file path to content."""
    return files_of(sample_generation)


@pytest.fixture(scope="session")
def synthetic() -> list[Document]:
    """Three hundred generated documents in five subject areas."""
    return synthetic_documents(300)


@pytest.fixture(scope="session")
def synthetic_generation(synthetic: list[Document]) -> Generation:
    return generate_wiki(synthetic)
