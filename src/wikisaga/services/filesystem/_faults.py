"""Fault hooks for fault-injection tests, off unless ``WIKISAGA_TEST_FILESYSTEM_FAULT`` is set.

Some faults cannot be produced from outside the process: dying, or failing, in the middle
of one request, after some files of a batch are stored and before the batch is committed.
A file counts once its content is stored: written as a blob file, or inserted inline in
the (not yet committed) metadata transaction. The variable names one:

- ``kill_at_file:N`` — the service kills itself (SIGKILL) once the N-th file of a write
  request is stored;
- ``fail_at_file:N`` — writing the N-th file of every write request fails with an I/O error
  (the request answers 500 and, being all or nothing, changes nothing).

The service logs a warning at start when a hook is on. Never set it in production.
"""

from __future__ import annotations

import errno
import os
import signal
from collections.abc import Callable, Mapping

__all__ = ["FAULT_ENV", "BlobFault", "blob_fault_from_env"]

FAULT_ENV = "WIKISAGA_TEST_FILESYSTEM_FAULT"

BlobFault = Callable[[int], None]
"""Called with the 1-based ordinal of each file a write request has stored."""


def blob_fault_from_env(environ: Mapping[str, str] | None = None) -> BlobFault | None:
    """The hook named by ``WIKISAGA_TEST_FILESYSTEM_FAULT``, or ``None``."""
    spec = (os.environ if environ is None else environ).get(FAULT_ENV, "").strip()
    if not spec:
        return None
    kind, _, number = spec.partition(":")
    if kind not in ("kill_at_file", "fail_at_file") or not number.isdigit() or int(number) < 1:
        raise ValueError(f"{FAULT_ENV}={spec!r}: expected kill_at_file:N or fail_at_file:N")
    at = int(number)

    def hook(ordinal: int) -> None:
        if ordinal != at:
            return
        if kind == "kill_at_file":
            os.kill(os.getpid(), signal.SIGKILL)
        raise OSError(errno.EIO, f"injected I/O error writing file {ordinal} of the request")

    return hook
