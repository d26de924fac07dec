"""Reading what a process asked of the disk, with ``strace``, for the durability tests.

A power loss cannot be made here, so durability is checked on the order of the system
calls: a file is synced before the rename that names it, a directory after the names in
it change, a database's log before the call that committed returns. The operation runs
in a child process under ``strace -f`` (its threads and children followed); each call
that succeeded becomes a :class:`Call`, in the order the trace gives them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ci_support import unavailable

SYSCALLS = "fsync,fdatasync,rename,renameat,renameat2,unlink,unlinkat,openat"
"""What is traced: syncs, renames, removals, and opens (for the child's markers)."""

MARKER = "/strace-marker/"
"""A child marks a moment by trying to open ``MARKER + name`` (which never exists): the
trace then holds ``Call("mark", name)`` there."""

_CALL = re.compile(r"^(\w+)\((.*)\) += (-?\d+)")
_FD_PATH = re.compile(r"^\d+<(.*)>$")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_PID = re.compile(r"^(\d*) *(.*)$")  # strace pads the thread id with spaces
_RESUMED = re.compile(r"^<\.\.\. \w+ resumed>(.*)$")


@dataclass(frozen=True)
class Call:
    """One traced call: ``fsync`` (of ``path``), ``rename`` (``path`` to ``target``),
    ``unlink`` (of ``path``), or ``mark`` (``path`` is the child's marker name)."""

    kind: str
    path: str
    target: str = ""


def require_strace() -> str:
    """The ``strace`` executable; the test skips without it, and fails in CI."""
    found = shutil.which("strace")
    if found is None:
        unavailable(
            "strace is not installed (scripts/test installs Debian's strace)",
            "the durability tests",
        )
    return found


def mark(name: str) -> None:
    """In the traced child: put the marker ``name`` in the trace, here."""
    with contextlib.suppress(FileNotFoundError):
        os.open(MARKER + name, os.O_RDONLY)


def traced_python(strace: str, script: str, args: list[str], trace: Path, cwd: Path) -> list[Call]:
    """Run ``python -c script *args`` under ``strace``; its calls, in order. Relative
    names in the trace are read from ``cwd`` (where the child's git works, say)."""
    command = [strace, "-f", "-qq", "-y", "-o", str(trace), "-e", f"trace={SYSCALLS}"]
    command += [sys.executable, "-c", script, *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    calls = []
    for line in _whole_calls(trace.read_text().splitlines()):
        call = _parse(line, str(cwd))
        if call is not None:
            calls.append(call)
    return calls


def _whole_calls(lines: list[str]) -> list[str]:
    """The trace's calls without their thread ids, each call that another thread
    interrupted (``<unfinished ...>``, then ``<... fsync resumed>``) put back together,
    where it ended."""
    pending: dict[str, str] = {}
    whole = []
    for line in lines:
        split = _PID.match(line)
        assert split is not None  # the pattern matches any line
        pid, rest = split.groups()
        if rest.endswith("<unfinished ...>"):
            pending[pid] = rest.removesuffix("<unfinished ...>").rstrip()
        elif (resumed := _RESUMED.match(rest)) is not None and pid in pending:
            whole.append(pending.pop(pid) + resumed[1])
        else:
            whole.append(rest)
    return whole


def _parse(line: str, cwd: str) -> Call | None:
    match = _CALL.match(line)
    if match is None:
        return None
    name, arguments, result = match[1], match[2], int(match[3])
    paths = [os.path.normpath(os.path.join(cwd, p)) for p in _QUOTED.findall(arguments)]
    if name == "openat":
        marked = [p for p in _QUOTED.findall(arguments) if p.startswith(MARKER)]
        return Call("mark", marked[0].removeprefix(MARKER)) if marked else None
    if result < 0:
        return None
    if name in ("fsync", "fdatasync"):
        fd_path = _FD_PATH.match(arguments)
        return Call("fsync", fd_path[1]) if fd_path else None
    if name.startswith("rename") and len(paths) == 2:
        return Call("rename", paths[0], paths[1])
    if name.startswith("unlink") and len(paths) == 1:
        return Call("unlink", paths[0])
    return None


def between(calls: list[Call], start: str, end: str) -> list[Call]:
    """The calls made between the child's markers ``start`` and ``end``."""
    names = [c.path if c.kind == "mark" else None for c in calls]
    return calls[names.index(start) + 1 : names.index(end)]
