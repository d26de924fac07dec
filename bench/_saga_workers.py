"""Running ``saga_engine.py``'s saga from several threads, or from several processes.

:func:`run_threads` runs a round on threads sharing one opened log (the engine's intended
use in one process). :class:`WorkerPool` keeps worker processes (``spawn``ed, so no lease
thread is forked) that each open their own log once and then run rounds on command, so a
round times sagas, not interpreter start-up or connecting.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from saga_engine import run_sagas

from distributed_saga.log import SagaLog, open_saga_log


def split(total: int, workers: int) -> list[int]:
    """``total`` sagas shared out as evenly as they go."""
    share, extra = divmod(total, workers)
    return [share + (1 if k < extra else 0) for k in range(workers)]


def run_threads(log: SagaLog, prefix: str, total: int, threads: int) -> float:
    """Seconds for ``threads`` threads to run ``total`` sagas on ``log``, all started at once."""
    counts = split(total, threads)
    barrier = threading.Barrier(threads + 1)
    errors: list[Exception] = []

    def work(k: int) -> None:
        barrier.wait()
        try:
            run_sagas(log, f"{prefix}-{k}", counts[k])
        except Exception as exc:  # noqa: BLE001 - re-raised by the caller
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed


def _serve(conn: Connection, url: str, options: dict[str, Any]) -> None:
    """A worker process: open the log, then run ``(prefix, count)`` rounds until ``None``."""
    log = open_saga_log(url, **options)
    conn.send("ready")
    try:
        while (command := conn.recv()) is not None:
            prefix, count = command
            cpu = time.process_time()
            run_sagas(log, prefix, count)
            conn.send(time.process_time() - cpu)
    finally:
        log.close()


@dataclass
class Round:
    seconds: float
    worker_cpu: float
    """CPU seconds the workers spent on the round, all of them together."""


class WorkerPool:
    """``count`` processes, each with its own log opened from ``url`` and ``options``."""

    def __init__(self, count: int, url: str, options: dict[str, Any] | None = None) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipes: list[Connection] = []
        self._processes = []
        for _ in range(count):
            ours, theirs = context.Pipe()
            process = context.Process(target=_serve, args=(theirs, url, options or {}))
            process.daemon = True
            process.start()
            self._pipes.append(ours)
            self._processes.append(process)
        for pipe in self._pipes:
            if pipe.recv() != "ready":
                raise RuntimeError("a saga worker process did not start")

    def run(self, prefix: str, total: int) -> Round:
        """Every worker runs its share of ``total`` sagas at once; the round's time."""
        counts = split(total, len(self._pipes))
        started = time.perf_counter()
        for k, (pipe, count) in enumerate(zip(self._pipes, counts, strict=True)):
            pipe.send((f"{prefix}-{k}", count))
        cpu = sum(pipe.recv() for pipe in self._pipes)
        return Round(time.perf_counter() - started, cpu)

    def close(self) -> None:
        for pipe in self._pipes:
            pipe.send(None)
        for process in self._processes:
            process.join(30)
            if process.is_alive():
                process.kill()
