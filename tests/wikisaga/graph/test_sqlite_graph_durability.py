"""A SQLite graph write that returned is on disk: it survives a power loss.

The saga records "graph staged" and "graph made current" as done in a log synced to
disk, so each of those writes must be synced before it returns: otherwise a power loss
could bring back a committed generation whose graph is not current (DESIGN §9, invariant
2). In WAL mode that is ``synchronous=FULL``: each commit syncs the WAL, where
``NORMAL`` syncs it only at checkpoints. Read with ``strace`` (``strace_support``).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from strace_support import MARKER, between, require_strace, traced_python

WRITES = textwrap.dedent(
    f"""
    import os, sys
    from wikisaga.graph import Entity, Relation, SQLiteGraphStore

    def mark(name):
        try:
            os.open({MARKER!r} + name, os.O_RDONLY)
        except FileNotFoundError:
            pass

    store = SQLiteGraphStore(sys.argv[1])
    mark("stage")
    store.stage("p", "g1", [Entity("a", "A"), Entity("b", "B")], [Relation("a", "uses", "b")])
    mark("staged")
    store.make_current("p", "g1")
    mark("current")
    store.close()
    """
)


def test_staging_and_the_flip_are_synced_before_they_return(tmp_path: Path) -> None:
    strace = require_strace()
    database = tmp_path / "graph.db"
    calls = traced_python(strace, WRITES, [str(database)], tmp_path / "trace.txt", tmp_path)
    wal = f"{database}-wal"
    for start, end in (("stage", "staged"), ("staged", "current")):
        synced = [c for c in between(calls, start, end) if c.kind == "fsync" and c.path == wal]
        assert synced, f"the WAL was not synced between {start!r} and {end!r}"
