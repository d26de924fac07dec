"""Bounded label values: a metric label must take few values, whatever the code logs.

Step names are written for people and may carry counts or names
(``"Save 45 wiki files to filesystem"``, the demo's ``"Write index.md"``). Used as label
values as they are, every generation of a different size would start new time series. Two
rules keep the set bounded:

1. :func:`step_label`: every word that contains a digit becomes ``N``, runs of white space
   become one space, and the result is cut to :data:`MAX_LABEL_LENGTH` characters
   (``"Save 45 wiki files to filesystem"`` → ``"Save N wiki files to filesystem"``).
2. :class:`BoundedLabels`: after ``limit`` distinct values, any new value is reported as
   :data:`OTHER_LABEL` (``"other"``), so a step named after a file cannot grow the set
   without end either.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

__all__ = ["MAX_LABEL_LENGTH", "OTHER_LABEL", "BoundedLabels", "step_label"]

MAX_LABEL_LENGTH = 64
OTHER_LABEL = "other"

_WORD_WITH_DIGIT = re.compile(r"\S*\d\S*")


def step_label(name: str) -> str:
    """The label value of step ``name``: numbered words become ``N`` (see the module)."""
    label = " ".join(_WORD_WITH_DIGIT.sub("N", name).split())
    return label[:MAX_LABEL_LENGTH] or "unnamed"


def _same(value: str) -> str:
    return value


class BoundedLabels:
    """Maps raw values to at most ``limit`` label values, then to ``"other"``.

    ``normalise`` is applied first (e.g. :func:`step_label`); values seen before keep their
    label. Safe to call from several threads.
    """

    def __init__(self, limit: int, normalise: Callable[[str], str] = _same) -> None:
        if limit < 1:
            raise ValueError("a label needs room for at least one value")
        self._limit = limit
        self._normalise = normalise
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, raw: str) -> str:
        label = self._normalise(raw)
        with self._lock:
            if label in self._seen:
                return label
            if len(self._seen) >= self._limit:
                return OTHER_LABEL
            self._seen.add(label)
            return label

    @property
    def seen(self) -> frozenset[str]:
        """The label values handed out so far (``"other"`` aside)."""
        with self._lock:
            return frozenset(self._seen)
