"""JSON on the wire: orjson's speed, ``json``'s bytes and meaning.

A stored ``Idempotency-Key`` replays only while the same request hashes the same, so
:func:`canonical` must write exactly ``json.dumps(..., sort_keys=True, separators=(",",
":"), ensure_ascii=False)``, and :func:`dumps` the same unsorted; both are checked on
every code point and on the shapes requests take, and on what only ``json`` can spell
(floats, lone surrogates, huge integers, keys that are not strings).
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import pytest

from wikisaga import json_codec
from wikisaga.services.filesystem.store import Idempotency


def stdlib(value: Any, *, sort_keys: bool = True) -> bytes:
    text = json.dumps(value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8", "surrogatepass")


def every_code_point() -> list[str]:
    scalars = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    return ["".join(map(chr, scalars[i : i + 8192])) for i in range(0, len(scalars), 8192)]


def test_every_code_point_is_written_as_json_writes_it() -> None:
    for text in every_code_point():
        value = {"content": text, "file_path": text[:40], "a": [text[-3:]]}
        assert json_codec.canonical(value) == stdlib(value), hex(ord(text[0]))
        assert json_codec.dumps(value) == stdlib(value, sort_keys=False)


SHAPES = [
    {"b": 1, "a": {"d": [True, False, None], "c": ""}, "é": '\u2028\x7f\x00\x1f"\\'},
    {"project_id": "p", "save": [{"file_path": "a.md", "content": "# A\n"}], "delete": []},
    {"replace": True, "save": [], "n": -(2**63), "m": 2**64 - 1},
    [1, "x", [{"k": "v"}], ()],
    "just a string",
    None,
]

ONLY_JSON = [
    {"x": 1.5, "y": 1e16, "z": float("1e-7")},  # orjson writes 1e16, json 1e+16
    {"content": "half a pair: \ud800"},  # a lone surrogate
    {"big": 2**80},  # beyond 64 bits
    {1: "integer keys", 2: "become strings"},
    {"nested": [{"deep": 0.1}]},
]


@pytest.mark.parametrize("value", SHAPES + ONLY_JSON)
def test_values_are_written_as_json_writes_them(value: Any) -> None:
    assert json_codec.canonical(value) == stdlib(value)
    try:  # what httpx sends for json=value, or its error
        expected = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError:
        with pytest.raises(UnicodeEncodeError):
            json_codec.dumps(value)
    else:
        assert json_codec.dumps(value) == expected


def test_a_float_json_refuses_is_refused() -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        json_codec.dumps({"x": math.nan})


def test_a_fingerprint_is_the_sha256_of_the_canonical_request() -> None:
    body = {"project_id": "p", "save": [{"file_path": "é.md", "content": "x"}], "delete": []}
    expected = hashlib.sha256(
        stdlib({"method": "POST", "path": "/batch", "body": body})
    ).hexdigest()
    assert Idempotency.fingerprint_of("POST", "/batch", body) == expected
