"""The record of a committed generation, which makes the next generation incremental.

A generation's record holds what the page generator needs to redo only what changed (its
source map and each document's relations) and the SHA-256 of every page it published.
It is one JSON file, ``<data_dir>/generations/<project_id>/<saga_id>.json``, written
(temporary file, fsync, rename) before the generation's saga starts. It becomes *the*
record of the project when that saga commits: the next generation reads the record of the
project's current graph generation, whose id is the saga id of the last committed
generation (the saga's last step makes it current; its rollback flips it back). Records of
other sagas are removed after each commit, and a rolled back saga's record with it.

Nothing in a record is trusted blindly. A page is reused only if its current file's
SHA-256 is the one recorded for it: the record says which stamp that content was made
from, so a record that is stale, or a page edited since, costs a re-render, never a wrong
page. A record that is missing or unreadable means a full generation, with a warning.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wikisaga.ids import validate_project_id, validate_saga_id

__all__ = [
    "RECORD_FORMAT",
    "GenerationRecord",
    "GenerationRecords",
    "PreviousGeneration",
    "page_digest",
    "previous_generation",
]

RECORD_FORMAT = 1
"""Changes when a record's layout changes; a record of another format is not read."""


def page_digest(content: str) -> str:
    """The SHA-256 (hex) of a page's content as UTF-8."""
    return hashlib.sha256(content.encode("utf-8", "surrogatepass")).hexdigest()


def _is_str_map(value: object) -> bool:
    return isinstance(value, Mapping) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


@dataclass(frozen=True)
class GenerationRecord:
    """What one generation leaves for the next (see the module docstring)."""

    saga_id: str
    source_map: Mapping[str, Any]
    """The generator's source map (``SourceMap.to_json()``)."""
    relations: Sequence[Mapping[str, Any]]
    """Each document's relations (``DocumentRelations.to_json()``)."""
    pages: Mapping[str, str]
    """SHA-256 of every page published, by path."""

    def to_json(self) -> dict[str, Any]:
        return {
            "format": RECORD_FORMAT,
            "saga_id": self.saga_id,
            "source_map": dict(self.source_map),
            "relations": [dict(item) for item in self.relations],
            "pages": dict(sorted(self.pages.items())),
        }

    @classmethod
    def from_json(cls, data: object) -> GenerationRecord:
        """The record :meth:`to_json` wrote; :class:`ValueError` saying what is wrong
        with anything else."""
        if not isinstance(data, Mapping):
            raise ValueError("the record is not a JSON object")
        if data.get("format") != RECORD_FORMAT:
            raise ValueError(f"the record's format is {data.get('format')!r}, not {RECORD_FORMAT}")
        saga_id, source_map = data.get("saga_id"), data.get("source_map")
        relations, pages = data.get("relations"), data.get("pages")
        if not isinstance(saga_id, str):
            raise ValueError("the record names no saga")
        if not (
            isinstance(source_map, Mapping)
            and isinstance(source_map.get("generator"), str)
            and _is_str_map(source_map.get("documents"))
            and isinstance(source_map.get("pages"), list)
            and all(
                isinstance(page, Mapping) and isinstance(page.get("file_path"), str)
                for page in source_map["pages"]
            )
        ):
            raise ValueError("the record's source map is not a source map")
        if not isinstance(relations, list) or not all(
            isinstance(item, Mapping) for item in relations
        ):
            raise ValueError("the record's relations are not a list of objects")
        if not _is_str_map(pages):
            raise ValueError("the record's pages are not a map of paths to digests")
        assert isinstance(pages, Mapping)  # narrowed by _is_str_map, for the type checker
        return cls(saga_id, source_map, relations, pages)


@dataclass(frozen=True)
class PreviousGeneration:
    """What an incremental page source is given: the record's relations, its source map
    cut to the pages whose current file is as recorded, and those files' contents."""

    saga_id: str
    source_map: Mapping[str, Any]
    relations: Sequence[Mapping[str, Any]]
    contents: Mapping[str, str]
    """The current content of every page the source map still lists."""
    stale: tuple[str, ...]
    """Pages of the record whose current file differs (or is gone): rendered again."""


def previous_generation(record: GenerationRecord, current: Mapping[str, str]) -> PreviousGeneration:
    """``record`` checked against the ``current`` files (path → content): a page stays in
    the source map only if its file's digest is the recorded one."""
    kept: dict[str, str] = {}
    stale: list[str] = []
    for page in record.source_map["pages"]:
        path = page["file_path"]
        content = current.get(path)
        if content is not None and page_digest(content) == record.pages.get(path):
            kept[path] = content
        else:
            stale.append(path)
    source_map = {
        **record.source_map,
        "pages": [page for page in record.source_map["pages"] if page["file_path"] in kept],
    }
    source_map.pop("sources", None)  # derived from the pages; the generator does not read it
    return PreviousGeneration(record.saga_id, source_map, record.relations, kept, tuple(stale))


class GenerationRecords:
    """The records of committed generations, as files under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, project_id: str, saga_id: str) -> Path:
        """Where the record of saga ``saga_id`` of ``project_id`` lives."""
        folder = self.root / validate_project_id(project_id)
        return folder / f"{validate_saga_id(saga_id)}.json"

    def write(self, project_id: str, record: GenerationRecord) -> Path:
        """Write ``record`` whole or not at all (temporary file, fsync, rename)."""
        target = self.path(project_id, record.saga_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(record.to_json(), ensure_ascii=False, separators=(",", ":"))
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".record-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        with contextlib.suppress(OSError):
            directory = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        return target

    def read(self, project_id: str, saga_id: str) -> GenerationRecord | None:
        """The record of ``saga_id``, ``None`` if there is none; :class:`ValueError` if
        it cannot be read or is not a record of that saga."""
        target = self.path(project_id, saga_id)
        try:
            text = target.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{target} cannot be read: {exc}") from exc
        try:
            record = GenerationRecord.from_json(json.loads(text))
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            raise ValueError(f"{target} is not a generation record: {exc}") from exc
        if record.saga_id != saga_id:
            raise ValueError(f"{target} is the record of {record.saga_id!r}, not {saga_id!r}")
        return record

    def keep_only(self, project_id: str, saga_id: str | None) -> None:
        """Remove every record of ``project_id`` but that of ``saga_id`` (all: ``None``)."""
        folder = self.root / validate_project_id(project_id)
        keep = None if saga_id is None else self.path(project_id, saga_id).name
        if not folder.is_dir():
            return
        for entry in folder.iterdir():
            if entry.name != keep and entry.suffix in (".json", ".tmp"):
                with contextlib.suppress(OSError):
                    entry.unlink()

    def discard(self, project_id: str, saga_id: str) -> None:
        """Remove the record of ``saga_id`` if there is one."""
        with contextlib.suppress(OSError):
            self.path(project_id, saga_id).unlink()
