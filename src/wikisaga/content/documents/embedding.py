"""The embedding functions our collections use: offline, deterministic, never a download.

Chroma embeds every record it stores. Its default function downloads a model at the first
write, which nothing here may do, so every collection is opened with
:class:`LexicalEmbedding`: words (Unicode ``\\w+``, lowercased) are hashed into
``dimensions`` buckets with a sign bit (the *hashing trick*, so no vocabulary is stored),
weighted ``1 + ln(count)``, and the vector is L2-normalised; the collections use cosine
distance. Two texts sharing many words are close; synonyms are not. The same text always
gives the same vector, in every process (CRC-32, not Python's salted ``hash``).

The class is registered with Chroma under :data:`EMBEDDING_NAME`, and its configuration
(the dimension) is stored with the collection, so a reopened collection rebuilds it; a
collection made with another dimension refuses to be opened with this one.

:class:`SemanticEmbedding` (``WIKISAGA_EMBEDDING=semantic``, the ``semantic`` extra) uses
WordLlama's 256-dimension static token embeddings, whose weights and tokenizer ship inside
the ``wordllama`` wheel: loading them reads two files of the installed package and never
the network. Synonyms come closer than with the lexical function; it costs about 0.2 s to
load and 33 MB installed. :func:`embedding_for` picks one by name. A collection keeps the
function it was made with (Chroma stores its name and configuration), so changing the
setting needs a new data dir or a re-ingest into a new store.
"""

from __future__ import annotations

import math
import re
import threading
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

__all__ = [
    "DEFAULT_DIMENSIONS",
    "EMBEDDING_NAME",
    "SEMANTIC_EMBEDDING_NAME",
    "LexicalEmbedding",
    "SemanticEmbedding",
    "embedding_for",
]

EMBEDDING_NAME = "wikisaga-lexical"
DEFAULT_DIMENSIONS = 512

_WORD = re.compile(r"\w+")
_BUCKETS: dict[tuple[str, int], tuple[int, float]] = {}
_BUCKET_CACHE_LIMIT = 500_000


def _bucket(word: str, dimensions: int) -> tuple[int, float]:
    """The bucket of ``word`` and its sign, cached: a corpus repeats its words."""
    key = (word, dimensions)
    found = _BUCKETS.get(key)
    if found is None:
        digest = zlib.crc32(word.encode("utf-8", "surrogatepass"))
        # The low bits pick the bucket, the top bit the sign: independent enough for this.
        found = (digest % dimensions, -1.0 if digest >> 31 else 1.0)
        if len(_BUCKETS) >= _BUCKET_CACHE_LIMIT:
            _BUCKETS.clear()
        _BUCKETS[key] = found
    return found


class LexicalEmbedding(EmbeddingFunction[Documents]):
    """Feature-hashed, TF-weighted, L2-normalised bag of words (see the module docstring)."""

    def __init__(self, dimensions: int = DEFAULT_DIMENSIONS) -> None:
        if not isinstance(dimensions, int) or dimensions < 2:
            raise ValueError("dimensions must be an integer of at least 2")
        self.dimensions = dimensions

    def __call__(self, input: Documents) -> Embeddings:
        return [self.embed(text) for text in input]

    def embed(self, text: str) -> np.ndarray[Any, np.dtype[np.float32]]:
        """The vector of one text; a text without words gets a fixed unit vector."""
        vector = np.zeros(self.dimensions, dtype=np.float32)
        counts = Counter(_WORD.findall(text.lower()))
        for word, count in counts.items():
            index, sign = _bucket(word, self.dimensions)
            vector[index] += sign * (1.0 + math.log(count))
        norm = float(np.linalg.norm(vector))
        if norm == 0.0:
            # Cosine distance is undefined for the zero vector; any fixed unit vector will do.
            vector[0] = 1.0
            return vector
        vector /= norm
        return vector

    @staticmethod
    def name() -> str:
        return EMBEDDING_NAME

    def get_config(self) -> dict[str, Any]:
        return {"dimensions": self.dimensions}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> LexicalEmbedding:
        return LexicalEmbedding(int(config.get("dimensions", DEFAULT_DIMENSIONS)))

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        dimensions = config.get("dimensions", DEFAULT_DIMENSIONS)
        if not isinstance(dimensions, int) or dimensions < 2:
            raise ValueError("dimensions must be an integer of at least 2")

    def validate_config_update(
        self, old_config: dict[str, Any], new_config: dict[str, Any]
    ) -> None:
        if old_config.get("dimensions") != new_config.get("dimensions"):
            raise ValueError("the dimension of a collection's embeddings cannot change")

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]


register_embedding_function(LexicalEmbedding)  # type: ignore[no-untyped-call]


SEMANTIC_EMBEDDING_NAME = "wikisaga-wordllama"
_SEMANTIC_DIMENSIONS = (64, 128, 256)
_MODELS: dict[int, Any] = {}
_MODELS_LOCK = threading.Lock()


def _wordllama(dimensions: int) -> Any:
    """WordLlama's model of ``dimensions``, loaded once per process from the installed
    package (weights and tokenizer are package files; downloads stay disabled)."""
    with _MODELS_LOCK:
        model = _MODELS.get(dimensions)
        if model is None:
            try:
                import wordllama  # noqa: PLC0415 - an optional extra, loaded when chosen
            except ImportError as exc:
                raise ImportError(
                    "the semantic embedding needs the 'semantic' extra: "
                    "pip install 'wikisaga[semantic]'"
                ) from exc
            # The package keeps its tokenizer in tokenizers/, where its own lookup of the
            # package directory does not look; as a cache dir, the package itself has both.
            package = Path(wordllama.__file__).parent
            model = wordllama.WordLlama.load(
                dim=dimensions, disable_download=True, cache_dir=package
            )
            _MODELS[dimensions] = model
        return model


class SemanticEmbedding(EmbeddingFunction[Documents]):
    """WordLlama static embeddings, L2-normalised (see the module docstring)."""

    def __init__(self, dimensions: int = 256) -> None:
        if dimensions not in _SEMANTIC_DIMENSIONS:
            raise ValueError(f"dimensions must be one of {_SEMANTIC_DIMENSIONS}")
        self.dimensions = dimensions

    def __call__(self, input: Documents) -> Embeddings:
        if not input:
            return []
        vectors = np.asarray(_wordllama(self.dimensions).embed(list(input)), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        # A text with no known token embeds to zero; give it the same fixed unit vector the
        # lexical function gives a text without words.
        empty = norms[:, 0] == 0.0
        vectors[empty, 0] = 1.0
        norms[empty] = 1.0
        return list(vectors / norms)

    @staticmethod
    def name() -> str:
        return SEMANTIC_EMBEDDING_NAME

    def get_config(self) -> dict[str, Any]:
        return {"dimensions": self.dimensions}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> SemanticEmbedding:
        return SemanticEmbedding(int(config.get("dimensions", 256)))

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        if config.get("dimensions", 256) not in _SEMANTIC_DIMENSIONS:
            raise ValueError(f"dimensions must be one of {_SEMANTIC_DIMENSIONS}")

    def validate_config_update(
        self, old_config: dict[str, Any], new_config: dict[str, Any]
    ) -> None:
        if old_config.get("dimensions") != new_config.get("dimensions"):
            raise ValueError("the dimension of a collection's embeddings cannot change")

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]


register_embedding_function(SemanticEmbedding)  # type: ignore[no-untyped-call]


def embedding_for(name: str) -> LexicalEmbedding | SemanticEmbedding:
    """The embedding function a setting names: ``lexical`` (default) or ``semantic``."""
    if name == "lexical":
        return LexicalEmbedding()
    if name == "semantic":
        return SemanticEmbedding()
    raise ValueError(f"unknown embedding {name!r}: lexical or semantic")
