"""A snapshot's git objects, made and written in this process: no git command per file.

A snapshot is a handful of objects in git's ordinary format, with SHA-1 object ids: the
object format of every repository of this service (``repository`` lays them out so, as
``git init`` does by default):

- a **blob** per file: ``blob <size>\\0<bytes>``;
- a **tree** per directory: its entries sorted as git sorts them (by the bytes of the
  name, a directory's name compared as if it ended in ``/``), each
  ``<mode> <name>\\0<20-byte id>``, with mode ``100644`` for a file and ``40000`` for a
  directory;
- one **commit**: ``tree``, ``parent`` (none for the first), ``author`` and
  ``committer`` (the fixed identity, the time in whole seconds, ``+0000``), a blank line,
  the message exactly as given.

An object's id is the SHA-1 of its header and body, so the same files, message, parent
and time always give the same commit id, the one git itself computes for them (the tests
check it against ``git fast-import``).

:func:`write_pack` stores a snapshot's objects as one pack and its index, the form git
itself writes objects in bulk: two files (synced, as git syncs packs) where loose objects
would be one file per object, which costs far more on a journalling file system. It
stores what it is given: the repository layer leaves out the objects of the head's tree
when it knows them (it made that head), so a file that did not change is not stored
again; an object stored twice all the same (the head was made elsewhere) goes when
``housekeeping.consolidate`` merges the packs into one, once there are more than
``housekeeping.PACK_LIMIT``.
:func:`write_loose` stores single objects (the new commit of a writer that lost a race)
as loose object files, synced too. Either way an object goes to a temporary file first
(``tmp_pack_*``, ``tmp_idx_*``, ``tmp_obj_*``; start-up removes those a crash left behind,
see ``housekeeping``) and is renamed into place, so it is either whole or absent.

Nothing written here is reachable until the caller's ref transaction publishes the
commit; the caller holds the repository's writer lock from the first object written to
that transaction, so that no prune can drop them in between.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import struct
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wikisaga.services.git._sync import ProcessThreads, create_file, fsync_all

__all__ = [
    "GitObject",
    "SnapshotObjects",
    "commit_object",
    "snapshot_tree",
    "write_loose",
    "write_pack",
]

_FILE_MODE = b"100644"
_TREE_MODE = b"40000"
_PACK_TYPES = {b"commit": 1, b"tree": 2, b"blob": 3}
_PACK_COMPRESSION = zlib.Z_BEST_SPEED
"""zlib level of what is written here: the fastest, as git's own default for loose objects
(``core.looseCompression``); a repack recompresses only what it deltifies."""
_MEM_LEVEL = 7  # see _deflate
_TEMPORARY = ("tmp_pack_", "tmp_idx_")


def _deflate(data: bytes) -> bytes:
    """``data`` zlib-compressed at :data:`_PACK_COMPRESSION`, with a window just large
    enough for it.

    ``zlib.compress`` sets up a 32 KiB window whatever the input, and for a page of a few
    KiB that set-up costs more than the compression: 45 pages took 4.9 ms, against 2.0 ms
    with an 8 KiB window, for the same compressed size. A window covering the whole input
    (plus deflate's 262-byte lookahead) finds every match the large one would; any zlib
    reader, git's included, reads the window size from the stream's header.

    ``memLevel`` 7 instead of zlib's 8 halves the compressor's hash table and symbol
    buffer, which keeps its state under the allocator's threshold for mapping fresh
    pages: 45 pages took 2.1 ms instead of 2.6, within 0.2 % of the same size.
    """
    wbits = min(15, max(9, (len(data) + 262).bit_length()))
    compressor = zlib.compressobj(_PACK_COMPRESSION, zlib.DEFLATED, wbits, _MEM_LEVEL)
    return compressor.compress(data) + compressor.flush()


@dataclass(frozen=True, slots=True)
class GitObject:
    """One git object: its id (40 hex digits), its type and its body (without header)."""

    oid: str
    kind: bytes
    body: bytes

    @classmethod
    def make(cls, kind: bytes, body: bytes) -> GitObject:
        """The object of type ``kind`` (``blob``, ``tree``, ``commit``) holding ``body``."""
        digest = hashlib.sha1(b"%s %d\0" % (kind, len(body)), usedforsecurity=False)
        digest.update(body)
        return cls(digest.hexdigest(), kind, body)


@dataclass(slots=True)
class SnapshotObjects:
    """A tree of files as git objects: the root tree's id and every blob and tree."""

    tree: str
    objects: list[GitObject] = field(default_factory=list)


@dataclass(slots=True)
class _Directory:
    files: dict[bytes, bytes] = field(default_factory=dict)
    directories: dict[bytes, _Directory] = field(default_factory=dict)


def snapshot_tree(files: Mapping[str, bytes]) -> SnapshotObjects:
    """The blobs and trees of a tree holding exactly ``files`` (``/``-separated paths,
    already checked: no empty, ``.`` or ``..`` segment, no path both a file and a
    directory)."""
    root = _Directory()
    for path, content in files.items():
        *parents, name = path.encode("utf-8").split(b"/")
        directory = root
        for part in parents:
            directory = directory.directories.setdefault(part, _Directory())
        directory.files[name] = content
    result = SnapshotObjects(tree="")
    result.tree = _write_tree(root, result.objects)
    return result


def _write_tree(directory: _Directory, out: list[GitObject]) -> str:
    entries: list[tuple[bytes, bytes, bytes]] = []
    for name, content in directory.files.items():
        blob = GitObject.make(b"blob", content)
        out.append(blob)
        entries.append((name, _FILE_MODE, bytes.fromhex(blob.oid)))
    for name, child in directory.directories.items():
        oid = _write_tree(child, out)
        entries.append((name + b"/", _TREE_MODE, bytes.fromhex(oid)))
    entries.sort()
    body = b"".join(b"%s %s\0%s" % (mode, name.rstrip(b"/"), oid) for name, mode, oid in entries)
    tree = GitObject.make(b"tree", body)
    out.append(tree)
    return tree.oid


def commit_object(
    tree: str, parent: str | None, message: str, identity: str, timestamp: int
) -> GitObject:
    """The commit of ``tree`` on ``parent``, by ``identity`` (``Name <email>``) as author
    and committer at ``timestamp`` (UTC), with ``message`` exactly."""
    signature = f"{identity} {timestamp} +0000"
    lines = [f"tree {tree}"]
    if parent is not None:
        lines.append(f"parent {parent}")
    lines += [f"author {signature}", f"committer {signature}", "", ""]
    return GitObject.make(b"commit", "\n".join(lines).encode("utf-8") + message.encode("utf-8"))


def write_pack(git_dir: Path, objects: Iterable[GitObject], *, sync: bool = True) -> Path | None:
    """Store ``objects`` as one new pack (``objects/pack/pack-<id>.pack`` and its
    ``.idx``) of the repository at ``git_dir``; return the pack's path (``None`` when there
    is nothing to store).

    Both files are synced before they are renamed into place (unless ``sync`` is false:
    a repository still being built, which its builder syncs whole). Their names, the
    directory that holds them, are the caller's to sync, with whatever else must reach the
    disk before a ref names the pack (``refs.update``'s ``also_sync``), in one round.

    Each object is stored whole (no deltas; a repack makes them). The pack is written
    first, then its index: git only sees a pack through its index, so a pack is either
    whole or unseen, and the temporary files a crash leaves (``tmp_pack_*``,
    ``tmp_idx_*``) are removed at start-up. A pack of the same objects that is already
    there is kept as it is.
    """
    unique = list({obj.oid: obj for obj in objects}.values())
    if not unique:
        return None
    pack = bytearray(b"PACK" + struct.pack(">II", 2, len(unique)))
    entries: list[tuple[bytes, int, int]] = []  # (object id, CRC-32, offset)
    for obj, data in zip(unique, _pack_entries(unique), strict=True):
        entries.append((bytes.fromhex(obj.oid), zlib.crc32(data), len(pack)))
        pack += data
    checksum = hashlib.sha1(pack, usedforsecurity=False).digest()
    pack += checksum
    index = _pack_index(entries, checksum)
    directory = git_dir / "objects" / "pack"
    directory.mkdir(parents=True, exist_ok=True)
    name = f"pack-{checksum.hex()}"
    final = directory / f"{name}.pack"
    if (directory / f"{name}.idx").exists():
        return final
    # Both synced (at once) before either is renamed, the pack renamed first; then the
    # names. Temporary files a failure leaves are removed here, those of a crash at start.
    temporaries = [directory / f"{prefix}{secrets.token_hex(8)}" for prefix in _TEMPORARY]
    try:
        for temporary, data in zip(temporaries, (bytes(pack), index), strict=True):
            create_file(temporary, data, 0o444)  # read-only, as git leaves them
        if sync:
            fsync_all(temporaries)
        os.replace(temporaries[0], final)
        os.replace(temporaries[1], directory / f"{name}.idx")
    except BaseException:
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)
        raise
    return final


# Compressing is most of a large snapshot's time, and zlib lets go of the interpreter
# while it compresses: past _SHARE_BYTES of bodies, a pack's objects are compressed in
# shares of about that size, by the calling thread and up to _HELPERS threads (45 pages of
# 4 KB: 1.6 ms on two CPUs instead of 2.1). The entries are the same bytes either way.
_SHARE_BYTES = 64 * 1024
_HELPERS = max(0, min(3, (os.cpu_count() or 1) - 1))
_helpers = ProcessThreads(_HELPERS, "pack-deflate")


def _pack_entries(objects: Sequence[GitObject]) -> list[bytes]:
    """Each object's pack entry (its header, then its compressed body), in order."""
    total = sum(len(obj.body) for obj in objects)
    count = min(_HELPERS + 1, total // _SHARE_BYTES, len(objects))
    if count < 2:
        return _entries_of(objects)
    # Contiguous shares of about equal bytes, so the entries keep their order.
    shares: list[Sequence[GitObject]] = []
    start, taken = 0, 0
    for end, obj in enumerate(objects, 1):
        taken += len(obj.body)
        if taken * count >= total * (len(shares) + 1) and len(shares) < count - 1:
            shares.append(objects[start:end])
            start = end
    shares.append(objects[start:])
    pool = _helpers.get()
    later = [pool.submit(_entries_of, share) for share in shares[1:]]
    entries = _entries_of(shares[0])
    for future in later:
        entries += future.result()
    return entries


def _entries_of(objects: Iterable[GitObject]) -> list[bytes]:
    return [
        _entry_header(_PACK_TYPES[obj.kind], len(obj.body)) + _deflate(obj.body) for obj in objects
    ]


def _entry_header(kind: int, size: int) -> bytes:
    """A pack entry's type and size: 3 bits of type and 4 of size, then 7 bits a byte."""
    out = bytearray()
    byte = (kind << 4) | (size & 0x0F)
    size >>= 4
    while size:
        out.append(byte | 0x80)
        byte = size & 0x7F
        size >>= 7
    out.append(byte)
    return bytes(out)


def _pack_index(entries: list[tuple[bytes, int, int]], checksum: bytes) -> bytes:
    """A version 2 pack index: fan-out table, sorted ids, CRC-32s, offsets, checksums."""
    entries = sorted(entries)
    fanout = [0] * 256
    for oid, _, _ in entries:
        fanout[oid[0]] += 1
    total = 0
    for i, count in enumerate(fanout):
        total += count
        fanout[i] = total
    small: list[int] = []
    large: list[int] = []
    for _, _, offset in entries:
        if offset < 0x80000000:
            small.append(offset)
        else:  # beyond 2 GiB: an index into the table of 8-byte offsets
            small.append(0x80000000 | len(large))
            large.append(offset)
    index = bytearray(b"\xfftOc" + struct.pack(">I", 2))
    index += struct.pack(">256I", *fanout)
    index += b"".join(oid for oid, _, _ in entries)
    index += struct.pack(f">{len(entries)}I", *(crc for _, crc, _ in entries))
    index += struct.pack(f">{len(small)}I", *small)
    index += struct.pack(f">{len(large)}Q", *large)
    index += checksum
    index += hashlib.sha1(index, usedforsecurity=False).digest()
    return bytes(index)


def write_loose(git_dir: Path, objects: Iterable[GitObject]) -> int:
    """Store ``objects`` as loose objects of the repository at ``git_dir`` unless they are
    there already (as loose objects); return how many files were written. Synced, files
    and names, as a pack is: the ref that will name them is synced too (``refs``), and it
    must not reach the disk before they do."""
    store = git_dir / "objects"
    written: list[tuple[Path, Path]] = []  # (temporary, final)
    try:
        for obj in {obj.oid: obj for obj in objects}.values():
            directory = store / obj.oid[:2]
            final = directory / obj.oid[2:]
            if final.exists():
                continue
            directory.mkdir(exist_ok=True)
            temporary = directory / f"tmp_obj_{secrets.token_hex(8)}"
            raw = b"%s %d\0%s" % (obj.kind, len(obj.body), obj.body)
            written.append((temporary, final))
            create_file(temporary, _deflate(raw), 0o444)  # read-only, as git's
        fsync_all(temporary for temporary, _ in written)
        for temporary, final in written:
            os.replace(temporary, final)
    except BaseException:
        for temporary, _ in written:
            temporary.unlink(missing_ok=True)
        raise
    if written:
        fsync_all([*(final.parent for _, final in written), store])
    return len(written)
