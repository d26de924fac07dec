"""The embedding function every collection of ours uses: lexical, offline, deterministic.

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
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

__all__ = ["DEFAULT_DIMENSIONS", "EMBEDDING_NAME", "LexicalEmbedding"]

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
