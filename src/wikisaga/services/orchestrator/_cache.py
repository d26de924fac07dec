"""Document analyses kept between requests, so an incremental request re-analyses only
the documents that changed.

A request carries documents, not analyses: without a cache the service would analyse
every document of every request again (about a quarter of a full generation's time).
An analysis is a pure function of its document's fingerprint (a hash of everything the
generator reads of it, project and id included), so one kept from an earlier request is
the analysis this request would make. The cache holds the analyses of at most
``max_chars`` characters of document text (an analysis takes about 15 bytes per
character), the least recently used going first; ``0`` turns it off.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

__all__ = ["AnalysisCache"]


class AnalysisCache:
    """Analyses by fingerprint, bounded by the characters of text they were made from."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self._items: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()

    def snapshot(self) -> dict[str, Any]:
        """Every analysis kept, by fingerprint."""
        with self._lock:
            return {key: analysis for key, (analysis, _) in self._items.items()}

    def keep(self, analyses: Mapping[str, Any], sizes: Mapping[str, int]) -> None:
        """Keep ``analyses`` (fingerprint → analysis; ``sizes`` gives the characters of
        each one's document by document id) as the most recently used."""
        if self.max_chars <= 0:
            return
        with self._lock:
            for key, analysis in analyses.items():
                size = sizes.get(analysis.doc_id, 0)
                if size > self.max_chars:
                    continue
                old = self._items.pop(key, None)
                if old is not None:
                    self._chars -= old[1]
                self._items[key] = (analysis, size)
                self._chars += size
            while self._chars > self.max_chars and self._items:
                _, (_, size) = self._items.popitem(last=False)
                self._chars -= size

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
