"""JSON on the wire between the services, written with orjson, spelled as ``json`` spells it.

A publish moves its wiki, a few hundred KiB, through JSON twice (the batch to the
filesystem service, the export to the git service) and hashes it once (the batch's
fingerprint); the standard library spent 0.3-0.7 ms on each (0.7 writing the batch's
sorted canonical form, which orjson writes in 0.03). For the values the services exchange
(strings, integers, booleans, null, lists and string-keyed objects) orjson writes exactly
the bytes ``json.dumps(..., separators=(",", ":"), ensure_ascii=False)`` writes. What it
would spell or treat differently goes to ``json`` instead, so each function here means
what its ``json`` counterpart means:

- :func:`dumps` — compact UTF-8, as httpx and the services write a JSON body;
- :func:`canonical` — the same with keys sorted (request fingerprints are hashed from it).

Floats are left to ``json`` (orjson writes ``1e16`` where ``json`` writes ``1e+16``, and
NaN as ``null`` where ``json`` refuses it), and so are lone surrogates, integers beyond
64 bits, keys that are not strings, and anything not plain JSON data. (Reading is not
here: ``orjson.loads`` reads an integer beyond 64 bits as a float, so it is used only where
what is read is known to hold none, the export.)
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["canonical", "dumps"]


def dumps(value: Any) -> bytes:
    """``value`` as compact JSON in UTF-8, non-ASCII written as itself: what httpx sends
    for ``json=value``. A float JSON cannot hold (NaN, an infinity) raises
    :class:`ValueError`, a lone surrogate :class:`UnicodeEncodeError`, as there."""
    if _plain(value):
        try:
            return orjson.dumps(value)
        except orjson.JSONEncodeError:
            pass  # a lone surrogate or a huge integer: json's own spelling below
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8")


def canonical(value: Any) -> bytes:
    """:func:`dumps` with object keys sorted: one spelling for one value.

    The bytes of ``json.dumps(value, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)`` (lone surrogates kept, as ``surrogatepass`` encodes them), the
    form every stored request fingerprint was hashed from.
    """
    if _plain(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            pass
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8", "surrogatepass")


def _plain(value: Any) -> bool:
    """Whether ``value`` holds only what orjson and json spell alike."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or kind is int or kind is bool or item is None:
            continue
        if kind is list or kind is tuple:
            stack.extend(item)
        elif kind is dict:
            if any(type(key) is not str for key in item):
                return False
            stack.extend(item.values())
        else:
            return False
    return True
