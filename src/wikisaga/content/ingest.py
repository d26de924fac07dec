"""Ingest: files and folders in, a project's documents in the document store out.

:func:`find_sources` turns the paths given into source files:

* a file given is taken as it is (its source path is its name), even through a symlink;
* a folder given is walked in name order; each file's source path is its path relative to
  the folder, ``/``-separated. Hidden entries (names starting with ``.``) are left out,
  silently, with everything under them. A symlink is followed only when it points at a
  file inside the folder; one pointing out of it, at a folder, or nowhere is skipped with
  its reason, so the walk never leaves the folder and never loops.

:func:`ingest` then reads each source file (at most ``max_bytes``; FIFOs and devices are
never opened for reading), and

* skips it, with the reason, when it is over the limit, binary, not UTF-8, empty, of a
  format no parser reads, or without any text once parsed;
* leaves it alone when the store has it with the same content hash and ingest version
  (nothing is written);
* otherwise parses and chunks it and writes it as a new version (added or updated); writes
  go in batches, each document's chunks before its record, as the store's contract says;
* with ``prune``, deletes the project's documents whose source path was not found among the
  paths this time (a file still there but now skipped is kept).

Before writing, an ingest applies the project owner rule of :mod:`wikisaga.content.ownership`
(:class:`~wikisaga.errors.NotProjectOwner` for a project whose documents another user
wrote, or, given a ``registry``, that the filesystem service's registry gives to another
user), claims the project in that ``registry`` so that it names the documents' owner, and
repairs what an interrupted ingest left (:meth:`DocumentStore.repair`): running an
interrupted ingest again completes it. A refused ingest stores and claims nothing.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from wikisaga.content.chunking import DEFAULT_POLICY, ChunkingPolicy, chunk_text
from wikisaga.content.documents import DocumentStore
from wikisaga.content.ownership import OwnerRegistry, claim_project, document_writers
from wikisaga.content.parsing import PARSER_VERSION, Unparseable, decode, format_of, parse
from wikisaga.content.records import Document, DocumentInfo, document_id
from wikisaga.errors import IngestError
from wikisaga.ids import validate_project_id, validate_user_id

__all__ = [
    "DEFAULT_BATCH",
    "DEFAULT_MAX_BYTES",
    "IngestReport",
    "Progress",
    "Skipped",
    "SourceFile",
    "find_sources",
    "ingest",
    "ingest_version",
    "make_document",
]

DEFAULT_MAX_BYTES = 1_048_576
DEFAULT_BATCH = 100
"""Documents written per batch: few enough to keep memory flat, many enough that Chroma's
per-call cost does not dominate."""

Progress = Callable[[int, int, str], None]
"""Called after each source file: how many are done, how many in all, its source path."""


@dataclass(frozen=True)
class SourceFile:
    """A file to ingest: its source path (the document's name) and where it is on disk."""

    source_path: str
    path: Path


@dataclass(frozen=True)
class Skipped:
    """A path that was not ingested, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class IngestReport:
    """What one ingest did, each list of source paths sorted."""

    project_id: str
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    repaired: int = 0
    """Records left by an interrupted write that were deleted first."""

    def as_json(self) -> dict[str, Any]:
        """The report as JSON-ready data, with the counts."""
        return {
            "project_id": self.project_id,
            "counts": {
                "added": len(self.added),
                "updated": len(self.updated),
                "unchanged": len(self.unchanged),
                "removed": len(self.removed),
                "skipped": len(self.skipped),
            },
            "added": list(self.added),
            "updated": list(self.updated),
            "unchanged": list(self.unchanged),
            "removed": list(self.removed),
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "repaired": self.repaired,
        }


def ingest_version(policy: ChunkingPolicy = DEFAULT_POLICY) -> str:
    """The name of the parsing and chunking rules; a stored document made under other rules
    is ingested again even if its file did not change."""
    return f"p{PARSER_VERSION}-c{policy.version}"


# -- finding the files -----------------------------------------------------------------


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


@dataclass
class _Found:
    files: list[SourceFile] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    seen: dict[str, str] = field(default_factory=dict)

    def add(self, source_path: str, path: Path, shown: str) -> None:
        try:
            source_path.encode("utf-8")
        except UnicodeEncodeError:
            self.skipped.append(Skipped(repr(shown)[1:-1], "file name is not UTF-8"))
            return
        if format_of(source_path) is None:
            suffix = PurePosixPath(source_path).suffix
            reason = (
                f"unsupported format ({suffix})"
                if suffix
                else "no file name suffix (read only for README, LICENSE, CHANGES and the like)"
            )
            self.skipped.append(Skipped(source_path, reason))
            return
        earlier = self.seen.get(source_path)
        if earlier is not None:
            self.skipped.append(Skipped(shown, f"same source path as {earlier}"))
            return
        self.seen[source_path] = shown
        self.files.append(SourceFile(source_path, path))


def _walk(folder: Path, root: Path, prefix: str, found: _Found) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as exc:
        found.skipped.append(Skipped(prefix.rstrip("/") or str(root), f"cannot list: {exc}"))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        relative = prefix + entry.name
        path = Path(entry.path)
        if entry.is_symlink():
            target = path.resolve()
            if not _inside(target, root):
                found.skipped.append(Skipped(relative, "symlink out of the folder"))
            elif target.is_dir():
                found.skipped.append(Skipped(relative, "symlink to a folder (not followed)"))
            elif target.is_file():
                found.add(relative, target, relative)
            else:
                found.skipped.append(Skipped(relative, "symlink to nothing readable"))
        elif entry.is_dir(follow_symlinks=False):
            _walk(path, root, relative + "/", found)
        elif entry.is_file(follow_symlinks=False):
            found.add(relative, path, relative)
        else:
            found.skipped.append(Skipped(relative, "not a regular file"))


def find_sources(paths: Sequence[Path]) -> tuple[list[SourceFile], list[Skipped]]:
    """The source files under ``paths`` and the entries skipped (see the module docstring).

    Raises :class:`~wikisaga.errors.IngestError` for a path that does not exist: with
    ``--prune``, a mistyped path would otherwise remove every document.
    """
    found = _Found()
    for given in paths:
        if not given.exists():
            raise IngestError(f"{given}: no such file or folder")
        if given.is_dir():
            root = given.resolve()
            _walk(root, root, "", found)
        elif given.is_file():
            found.add(given.name, given.resolve(), str(given))
        else:
            found.skipped.append(Skipped(str(given), "not a regular file"))
    return found.files, found.skipped


# -- reading and making documents ---------------------------------------------------------


def _read(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file, at most ``max_bytes``; raises :class:`Unparseable`."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as exc:
        raise Unparseable(f"cannot open: {exc.strerror or exc}") from None
    with os.fdopen(descriptor, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise Unparseable("not a regular file")
        if info.st_size > max_bytes:
            raise Unparseable(f"too large ({info.st_size} bytes; the limit is {max_bytes})")
        try:
            data = file.read(max_bytes + 1)
        except OSError as exc:
            raise Unparseable(f"cannot read: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise Unparseable(f"too large (over {max_bytes} bytes; the limit is {max_bytes})")
    return data


def _fallback_title(source_path: str) -> str:
    """A title made from the file name: its stem, words apart ("event-hooks" reads "event
    hooks"); a folder's ``README`` or ``index`` is titled by the folder."""
    path = PurePosixPath(source_path)
    stem = path.stem or path.name
    if stem.lower() in ("readme", "index") and path.parent.name:
        stem = path.parent.name
    return stem.replace("_", " ").replace("-", " ").strip() or source_path


def make_document(
    project_id: str,
    source_path: str,
    data: bytes,
    *,
    policy: ChunkingPolicy = DEFAULT_POLICY,
    content_hash: str | None = None,
) -> Document:
    """The document of a file's bytes: decoded, parsed, chunked. Raises
    :class:`~wikisaga.content.parsing.Unparseable` with the reason it cannot be."""
    format_name = format_of(source_path)
    if format_name is None:
        raise Unparseable(f"unsupported format ({PurePosixPath(source_path).suffix})")
    parsed = parse(decode(data), format_name, fallback_title=_fallback_title(source_path))
    doc_id = document_id(project_id, source_path)
    return Document(
        project_id=project_id,
        doc_id=doc_id,
        source_path=source_path,
        title=parsed.title,
        format=format_name,
        content_hash=content_hash or hashlib.sha256(data).hexdigest(),
        text=parsed.text,
        outline=parsed.outline,
        code_blocks=parsed.code_blocks,
        chunks=chunk_text(parsed.text, parsed.outline, doc_id, policy),
        ingest_version=ingest_version(policy),
    )


# -- the ingest ---------------------------------------------------------------------------


@dataclass
class _Run:
    store: DocumentStore
    user_id: str
    stored: dict[str, DocumentInfo]
    pending: list[Document] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)

    def flush(self) -> None:
        if not self.pending:
            return
        self.store.put_documents(self.pending, user_id=self.user_id)
        for document in self.pending:
            new = document.source_path not in self.stored
            (self.added if new else self.updated).append(document.source_path)
        self.pending = []


def _outcomes(
    sources: Sequence[SourceFile],
    stored: dict[str, DocumentInfo],
    *,
    project_id: str,
    max_bytes: int,
    policy: ChunkingPolicy,
) -> Iterator[tuple[SourceFile, Document | Skipped | None]]:
    """Each source file with its new document, the reason it is skipped, or ``None`` when
    the store already has it as it is."""
    version = ingest_version(policy)
    for source in sources:
        try:
            data = _read(source.path, max_bytes)
            digest = hashlib.sha256(data).hexdigest()
            known = stored.get(source.source_path)
            if known and known.content_hash == digest and known.ingest_version == version:
                yield source, None
                continue
            document = make_document(
                project_id, source.source_path, data, policy=policy, content_hash=digest
            )
        except Unparseable as reason:
            yield source, Skipped(source.source_path, str(reason))
            continue
        yield source, document


def ingest(
    store: DocumentStore,
    *,
    project_id: str,
    user_id: str,
    paths: Sequence[Path],
    prune: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
    policy: ChunkingPolicy = DEFAULT_POLICY,
    batch: int = DEFAULT_BATCH,
    progress: Progress | None = None,
    registry: OwnerRegistry | None = None,
) -> IngestReport:
    """Ingest the files under ``paths`` into ``project_id`` (see the module docstring).

    ``registry`` is the project registry to claim the project in before anything is
    stored (the filesystem service's, :class:`~wikisaga.clients.FilesystemClient`);
    without one only the stored documents' owners are checked."""
    project_id = validate_project_id(project_id)
    user_id = validate_user_id(user_id)
    sources, skipped = find_sources(paths)
    stored = {info.source_path: info for info in store.list_documents(project_id)}
    claim_project(project_id, user_id, registry=registry, writers=document_writers(stored.values()))
    repaired = store.repair(project_id)
    run = _Run(store, user_id, stored)
    unchanged: list[str] = []
    outcomes = _outcomes(sources, stored, project_id=project_id, max_bytes=max_bytes, policy=policy)
    for done, (source, outcome) in enumerate(outcomes, start=1):
        if outcome is None:
            unchanged.append(source.source_path)
        elif isinstance(outcome, Skipped):
            skipped.append(outcome)
        else:
            run.pending.append(outcome)
            if len(run.pending) >= batch:
                run.flush()
        if progress is not None:
            progress(done, len(sources), source.source_path)
    run.flush()
    removed: list[str] = []
    if prune:
        present = {source.source_path for source in sources}
        gone = [info for path, info in stored.items() if path not in present]
        store.delete_documents(project_id, [info.doc_id for info in gone])
        removed = [info.source_path for info in gone]
    return IngestReport(
        project_id=project_id,
        added=tuple(sorted(run.added)),
        updated=tuple(sorted(run.updated)),
        unchanged=tuple(sorted(unchanged)),
        removed=tuple(sorted(removed)),
        skipped=tuple(sorted(skipped, key=lambda s: s.path)),
        repaired=repaired,
    )
