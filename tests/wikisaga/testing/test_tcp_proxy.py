"""The TCP fault proxy, in front of a real TCP server that records what reaches it."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest

from wikisaga.testing.tcp_proxy import TcpFaultProxy


class _Echo(socketserver.BaseRequestHandler):
    """Answers each chunk with the chunk upper-cased, after recording it."""

    def handle(self) -> None:
        while chunk := self.request.recv(4096):
            self.server.received.append(chunk)  # type: ignore[attr-defined]
            self.request.sendall(chunk.upper())


@pytest.fixture
def upstream() -> Iterator[socketserver.ThreadingTCPServer]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(upstream: socketserver.ThreadingTCPServer) -> Iterator[TcpFaultProxy]:
    with TcpFaultProxy("127.0.0.1", upstream.server_address[1]) as running:
        yield running


def _connect(proxy: TcpFaultProxy) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=5)


def test_relays_both_ways_without_faults(proxy: TcpFaultProxy) -> None:
    with _connect(proxy) as client:
        client.sendall(b"hello")
        assert client.recv(100) == b"HELLO"
    assert proxy.url("bolt") == f"bolt://127.0.0.1:{proxy.port}"


def test_down_refuses_connections_cuts_open_ones_and_comes_back_on_the_same_port(
    proxy: TcpFaultProxy,
) -> None:
    port = proxy.port
    with _connect(proxy) as open_before:
        open_before.sendall(b"a")
        assert open_before.recv(10) == b"A"
        proxy.set_down(True)
        assert proxy.is_down
        assert open_before.recv(10) == b""  # cut: the server's end is closed
        with pytest.raises(ConnectionRefusedError):
            _connect(proxy)
    proxy.set_down(False)
    assert proxy.port == port
    with _connect(proxy) as client:
        client.sendall(b"b")
        assert client.recv(10) == b"B"


def test_drop_after_forwards_the_request_then_cuts_before_the_answer(
    proxy: TcpFaultProxy, upstream: socketserver.ThreadingTCPServer
) -> None:
    proxy.drop_after(1)
    with _connect(proxy) as client:
        client.sendall(b"applied")
        assert client.recv(100) == b""  # no answer: the connection was cut
    deadline = threading.Event()
    for _ in range(50):
        if upstream.received:  # type: ignore[attr-defined]
            break
        deadline.wait(0.02)
    assert upstream.received == [b"applied"]  # type: ignore[attr-defined]
    with _connect(proxy) as client:  # only once
        client.sendall(b"again")
        assert client.recv(100) == b"AGAIN"
