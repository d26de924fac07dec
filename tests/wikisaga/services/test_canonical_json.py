"""Request fingerprints: canonical JSON, byte for byte what every stored key was made from.

A stored ``Idempotency-Key`` replays only while the same request hashes the same, so the
fast encoder must write exactly ``json.dumps(..., sort_keys=True, separators=(",", ":"),
ensure_ascii=False)``: checked here on every code point and on the shapes requests take,
and on what only ``json`` can spell (floats, lone surrogates, huge integers, keys that are
not strings).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from wikisaga.services.filesystem.store import Idempotency, canonical_json


def stdlib(value: Any) -> bytes:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8", "surrogatepass")


def test_every_code_point_is_written_as_json_writes_it() -> None:
    scalars = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    for start in range(0, len(scalars), 8192):
        text = "".join(map(chr, scalars[start : start + 8192]))
        value = {"content": text, "file_path": text[:40], "z": [text[-3:]]}
        assert canonical_json(value) == stdlib(value), hex(scalars[start])


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": {"d": [True, False, None], "c": ""}, "é": '\u2028\x7f\x00\x1f"\\'},
        {"project_id": "p", "save": [{"file_path": "a.md", "content": "# A\n"}], "delete": []},
        {"replace": True, "save": [], "n": -(2**63), "m": 2**64 - 1},
        [1, "x", [{"k": "v"}], ()],
        "just a string",
        None,
    ],
)
def test_request_shapes_match_json(value: Any) -> None:
    assert canonical_json(value) == stdlib(value)


@pytest.mark.parametrize(
    "value",
    [
        {"x": 1.5, "y": 1e16, "z": float("1e-7")},  # orjson writes 1e16, json 1e+16
        {"content": "half a pair: \ud800"},  # a lone surrogate
        {"big": 2**80},  # beyond 64 bits
        {1: "integer keys", 2: "become strings"},
        {"nested": [{"deep": 0.1}]},
    ],
)
def test_what_only_json_spells_goes_to_json(value: Any) -> None:
    assert canonical_json(value) == stdlib(value)


def test_a_fingerprint_is_the_sha256_of_the_canonical_request() -> None:
    body = {"project_id": "p", "save": [{"file_path": "é.md", "content": "x"}], "delete": []}
    expected = hashlib.sha256(
        stdlib({"method": "POST", "path": "/batch", "body": body})
    ).hexdigest()
    assert Idempotency.fingerprint_of("POST", "/batch", body) == expected
