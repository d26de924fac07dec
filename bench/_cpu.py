"""Where a round's CPU went: the whole machine, this process, and other processes named.

:class:`CpuMeter` reads ``/proc`` before and after a round (Linux only; elsewhere every
figure is ``None``). ``machine_busy`` is the share of all CPUs that were busy (anyone's
work: with 2 CPUs, 1.0 means both were), ``client_cpu`` the CPU seconds of this process
(every thread) per second of the round, plus what the worker processes it names used,
and ``server_cpu`` the same for the database server's processes. A server process that
exits during the round is counted through its parent's ``cutime``/``cstime``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _machine() -> tuple[float, float] | None:
    """(busy, total) CPU seconds of the whole machine since boot."""
    with suppress(OSError, ValueError):
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        total = sum(fields[:8])  # guest time is already inside user
        return (total - idle) / _TICKS, total / _TICKS
    return None


def process_cpu(pids: Iterable[int]) -> float:
    """CPU seconds used by ``pids`` so far, with their reaped children's."""
    seconds = 0
    for pid in pids:
        with suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            seconds += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return seconds / _TICKS


@dataclass
class CpuMeter:
    """Takes a round's CPU figures: ``start()``, the round, then ``stop()``."""

    server_pids: Callable[[], list[int]] = list

    def start(self) -> None:
        self._wall = time.perf_counter()
        self._machine = _machine()
        self._own = time.process_time()
        self._pids = self.server_pids()
        self._server = process_cpu(self._pids)

    def stop(self, worker_cpu: float = 0.0) -> dict[str, float | None]:
        """``worker_cpu``: CPU seconds worker processes reported for the round."""
        wall = time.perf_counter() - self._wall
        machine = _machine()
        busy = None
        if machine is not None and self._machine is not None:
            spent = machine[1] - self._machine[1]
            busy = (machine[0] - self._machine[0]) / spent if spent > 0 else None
        client = time.process_time() - self._own + worker_cpu
        server = None
        if self._pids:
            server = (process_cpu(set(self._pids) | set(self.server_pids())) - self._server) / wall
        return {"machine_busy": busy, "client_cpu": client / wall, "server_cpu": server}
