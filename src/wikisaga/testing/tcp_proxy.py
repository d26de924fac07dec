"""A TCP proxy that injects faults into a byte stream it does not parse (Neo4j's Bolt).

:class:`TcpFaultProxy` listens on loopback and relays every connection, both ways, to an
upstream ``host:port``. Point a client at :attr:`TcpFaultProxy.address` (or
:meth:`TcpFaultProxy.url` for a scheme) instead of the server, and while it runs:

- :meth:`TcpFaultProxy.set_down` ``(True)`` closes the listening socket and cuts every open
  connection, so clients get "connection refused" (and their pooled connections die), as
  from a server that is down; ``(False)`` listens again on the same port;
- :meth:`TcpFaultProxy.drop_after` ``(times)`` arms a cut: the next ``times`` chunks a
  client sends are forwarded, then their connection is closed before the server's answer
  is relayed — a request that may have been applied, whose answer never came.

Without faults the proxy is transparent. It relays bytes, never interprets them, so it
fits any protocol; the HTTP proxy (:mod:`wikisaga.testing.proxy`) is the one that answers
requests itself.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType
from typing import Self

__all__ = ["TcpFaultProxy"]

_CHUNK = 64 * 1024
_ACCEPT_POLL = 0.05


class TcpFaultProxy:
    """Relay ``127.0.0.1:<port>`` to ``upstream_host:upstream_port``; see the module."""

    def __init__(
        self, upstream_host: str, upstream_port: int, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.host = host
        self._port = port
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._muted: set[tuple[socket.socket, socket.socket]] = set()
        self._down = False
        self._drops = 0
        self._stopped = threading.Event()

    @property
    def port(self) -> int:
        """The port the proxy listens on (fixed once started, kept across downs)."""
        return self._port

    @property
    def address(self) -> str:
        """``host:port`` of the proxy."""
        return f"{self.host}:{self._port}"

    def url(self, scheme: str) -> str:
        """``scheme://host:port`` of the proxy (``bolt`` for a Neo4j driver)."""
        return f"{scheme}://{self.address}"

    def start(self) -> Self:
        """Listen and start relaying."""
        self._stopped.clear()
        self._listen()
        return self

    def stop(self) -> None:
        """Stop listening and cut every connection."""
        self._stopped.set()
        self._close_listener()
        self._cut_all()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- faults -------------------------------------------------------------------------

    def set_down(self, down: bool) -> None:
        """``True``: refuse connections and cut the open ones; ``False``: serve again."""
        with self._lock:
            if down == self._down:
                return
            self._down = down
        if down:
            self._close_listener()
            self._cut_all()
        else:
            self._listen()

    @property
    def is_down(self) -> bool:
        """Whether the proxy refuses connections."""
        return self._down

    def drop_after(self, times: int = 1) -> None:
        """Cut the connection of each of the next ``times`` client chunks once forwarded."""
        if times < 0:
            raise ValueError("times must be >= 0")
        with self._lock:
            self._drops = times

    def clear(self) -> None:
        """Disarm every cut and serve again."""
        with self._lock:
            self._drops = 0
        self.set_down(False)

    # -- internals ----------------------------------------------------------------------

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self._port))
        listener.listen(64)
        listener.settimeout(_ACCEPT_POLL)
        self._port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener
        self._acceptor = threading.Thread(
            target=self._accept_loop, args=(listener,), name="tcp-proxy-accept", daemon=True
        )
        self._acceptor.start()

    def _close_listener(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
        acceptor, self._acceptor = self._acceptor, None
        if listener is not None:
            listener.close()
        if acceptor is not None:
            acceptor.join(timeout=2)

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            with self._lock:
                if self._listener is not listener:
                    return
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            pair = (client, upstream)
            with self._lock:
                if self._down or self._stopped.is_set():
                    client.close()
                    upstream.close()
                    continue
                self._pairs.add(pair)
            for source, target, counted in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(
                    target=self._pump,
                    args=(pair, source, target, counted),
                    name="tcp-proxy-pump",
                    daemon=True,
                ).start()

    def _pump(
        self,
        pair: tuple[socket.socket, socket.socket],
        source: socket.socket,
        target: socket.socket,
        from_client: bool,
    ) -> None:
        try:
            while True:
                chunk = source.recv(_CHUNK)
                if not chunk:
                    break
                # A cut is decided before the chunk goes on, and mutes the way back first,
                # so that no answer to it can slip through before the connection is cut.
                dropping = from_client and self._take_drop(pair)
                with self._lock:
                    muted = not from_client and pair in self._muted
                if not muted:
                    target.sendall(chunk)
                if dropping:
                    break
        except OSError:
            pass
        self._cut(pair)

    def _take_drop(self, pair: tuple[socket.socket, socket.socket]) -> bool:
        with self._lock:
            if self._drops <= 0:
                return False
            self._drops -= 1
            self._muted.add(pair)
            return True

    def _cut(self, pair: tuple[socket.socket, socket.socket]) -> None:
        with self._lock:
            self._pairs.discard(pair)
            self._muted.discard(pair)
        for sock in pair:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _cut_all(self) -> None:
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            self._cut(pair)
