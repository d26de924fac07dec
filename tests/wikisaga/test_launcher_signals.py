"""A service being spawned is never orphaned by Ctrl-C or SIGTERM.

A signal whose Python handler raises (the default ``KeyboardInterrupt``, ``wikisaga up``'s
stop) used to be able to land inside ``Popen``, after the child was forked and before it
was recorded, so that nothing stopped it. ``signals_held`` notes such signals for the
duration of the spawn and delivers them after, to the handler in place before.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from wikisaga.launcher import ServiceProcess, signals_held


class Stopped(Exception):
    """What the test's handlers raise."""


@pytest.fixture
def raising_handlers() -> Iterator[list[int]]:
    """SIGINT and SIGTERM raise :class:`Stopped`; the list says which came, in order."""
    came: list[int] = []

    def handler(signum: int, _frame: object) -> None:
        came.append(signum)
        raise Stopped(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield came
    for sig, old in previous.items():
        signal.signal(sig, old)


def signalled(*signums: int) -> None:
    for signum in signums:
        os.kill(os.getpid(), signum)
    time.sleep(0.3)  # a handler runs at once; this sleep is never slept out if one raises


def test_signals_in_the_block_are_delivered_after_it_once_each(
    raising_handlers: list[int],
) -> None:
    done = []

    def held_block() -> None:
        with signals_held():
            signalled(signal.SIGINT, signal.SIGINT, signal.SIGTERM)
            done.append("block ran to its end")

    with pytest.raises(Stopped):
        held_block()
    assert done == ["block ran to its end"]
    assert raising_handlers[0] == signal.SIGINT
    assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    with pytest.raises(Stopped):
        signalled(signal.SIGTERM)  # outside the block: raised where it lands


class SignalledWhileSpawning(ServiceProcess):
    """A service whose command line is built, inside :meth:`spawn`, as Ctrl-C arrives."""

    def command(self) -> list[str]:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.1)  # the handler has run by now
        return super().command()


def test_a_spawn_interrupted_has_recorded_its_child_when_the_stop_is_raised(
    raising_handlers: list[int], tmp_path: Path
) -> None:
    service = SignalledWhileSpawning(
        "filesystem", env={"WIKISAGA_INTERNAL_TOKEN": "t" * 32}, log_dir=tmp_path
    )
    try:
        with pytest.raises(Stopped):
            service.spawn()
        assert raising_handlers == [signal.SIGINT]
        assert service.pid is not None
        assert service.alive
    finally:
        service.kill()
    assert not service.alive


def test_outside_the_main_thread_nothing_is_held() -> None:
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    seen: list[object] = []

    def in_a_thread() -> None:
        with signals_held():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join()
    assert seen == [handlers[signal.SIGINT]]
    assert {sig: signal.getsignal(sig) for sig in handlers} == handlers
