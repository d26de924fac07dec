"""An HTTP proxy that injects faults between a client and a real service.

A :class:`FaultProxy` listens on loopback and forwards every request (method, path, query,
headers except hop-by-hop ones, body) to an upstream URL, then relays the upstream response
(status, headers except hop-by-hop ones, body; ``Content-Length`` recomputed). Point a
client at :attr:`FaultProxy.url` instead of the service and add :class:`FaultRule` objects
while it runs to make chosen requests fail in a chosen way:

=================  ====================  =========================================
kind               upstream sees it?     what the client gets
=================  ====================  =========================================
``ERROR_BEFORE``   no                    ``status`` with an ``injected_fault`` body
``ERROR_AFTER``    yes (applied)         ``status`` instead of the real response
``LATE_AFTER``     yes (applied)         the real response, ``delay`` seconds late
``DROP_BEFORE``    no                    the connection closed, no response
``DROP_AFTER``     yes (applied)         the connection closed, no response
``DELAY_BEFORE``   yes, ``delay`` late   the real response, ``delay`` seconds late
=================  ====================  =========================================

``LATE_AFTER`` with a ``delay`` beyond the client's timeout is the ambiguous success: the
client times out although the service applied the request. ``DELAY_BEFORE`` forwards even
when the client has given up meanwhile: a request applied after its client stopped waiting.
The proxy itself never times out while forwarding, so a slow upstream is always waited for.
Some clients resend a request whose reused keep-alive connection closed without an answer
(the git CLI through curl does), so a ``DROP_*`` fault can be retried out of sight.

:meth:`FaultProxy.set_down` closes the listening socket (and every open connection), so
clients get "connection refused" as from a service that is down, and reopens it on the same
port. Each request is recorded as a :class:`RequestRecord` for assertions, once its fate is
known: at once when it is not forwarded, when the upstream has answered otherwise.

Matching: a rule applies to a request when its ``method`` is ``None`` or equals the
request's method (case-insensitive) and its ``path`` regular expression matches the whole
request path (``re.fullmatch``; the query string is not part of the path, and the path is
matched as sent, percent-encoding included). Every matching rule counts every matching
request; ``after`` skips a rule's first N matching requests and ``times`` bounds how many
requests it fires on. When several rules could fire, the first one added wins.

Without rules the proxy is transparent. An upstream that cannot be reached is answered with
``502`` and an ``upstream_unavailable`` body.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import re
import threading
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, NamedTuple, Self

import h11
import httpx

__all__ = ["FaultKind", "FaultProxy", "FaultRule", "RequestRecord"]

logger = logging.getLogger(__name__)

# RFC 9110 §7.6.1 connection-specific fields, plus the framing fields the proxy recomputes.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)
# Not hop-by-hop, but must not be relayed as received: the upstream client sets Host for the
# upstream, and the proxy has already read the whole body, so there is nothing to continue.
_REQUEST_ONLY = frozenset({"host", "expect"})
_READ_CHUNK = 64 * 1024


class FaultKind(enum.StrEnum):
    """What a firing rule does to a request; see the table in the module docstring."""

    ERROR_BEFORE = "error_before"
    ERROR_AFTER = "error_after"
    LATE_AFTER = "late_after"
    DROP_BEFORE = "drop_before"
    DROP_AFTER = "drop_after"
    DELAY_BEFORE = "delay_before"


# eq=False: two rules with equal fields are still two rules with their own counters.
@dataclass(frozen=True, eq=False)
class FaultRule:
    """Which requests to spoil and how.

    ``method`` ``None`` matches any method; ``path`` is a regular expression that must match
    the whole request path. The rule fires on matching requests after skipping the first
    ``after`` of them, at most ``times`` times (``None``: no limit). ``delay`` (seconds) is
    used by ``LATE_AFTER`` and ``DELAY_BEFORE``; ``status`` by ``ERROR_BEFORE`` and
    ``ERROR_AFTER``.
    """

    method: str | None
    path: str
    kind: FaultKind
    times: int | None = None
    delay: float = 0.0
    status: int = 500
    after: int = 0
    _pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.times is not None and self.times < 0:
            raise ValueError("times must be None or >= 0")
        if self.after < 0 or self.delay < 0:
            raise ValueError("after and delay must be >= 0")
        object.__setattr__(self, "_pattern", re.compile(self.path))

    def matches(self, method: str, path: str) -> bool:
        """Whether a request with this method and path is one this rule is about."""
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self._pattern.fullmatch(path) is not None


class RequestRecord(NamedTuple):
    """One request the proxy received: a tuple ``(method, path, fault, upstream_status)``.

    ``fault`` is the kind of the rule that fired, or ``None``; ``upstream_status`` is the
    status the upstream answered, or ``None`` when the request was not forwarded or the
    upstream could not be reached.
    """

    method: str
    path: str
    fault: FaultKind | None
    upstream_status: int | None


@dataclass
class _RuleState:
    rule: FaultRule
    matched: int = 0
    fired: int = 0


class _Upstream(NamedTuple):
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


class _Dropped(Exception):
    """The connection is to be closed without an answer."""


class FaultProxy:
    """A loopback HTTP/1.1 proxy in front of ``upstream_url`` that injects faults by rule.

    It runs its own event loop in a daemon thread. Every public method may be called from any
    thread other than that loop's; rules, counters and the request log are guarded by a lock.
    """

    def __init__(self, upstream_url: str, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._upstream = httpx.URL(upstream_url)
        self._upstream_prefix = self._upstream.raw_path.split(b"?", 1)[0].rstrip(b"/")
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._rules: list[_RuleState] = []
        self._requests: list[RequestRecord] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._client: httpx.AsyncClient | None = None
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://<host>:<port>`` of the proxy; valid once started."""
        if self._port == 0:
            raise RuntimeError("the proxy has not been started")
        return f"http://{self._host}:{self._port}"

    @property
    def port(self) -> int:
        """The port the proxy listens on (the same one across :meth:`set_down`)."""
        return self._port

    def start(self) -> Self:
        """Start listening; returns once connections are accepted."""
        if self._thread is not None:
            raise RuntimeError("the proxy is already running")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=loop.run_forever, name=f"fault-proxy-{self._upstream}", daemon=True
        )
        thread.start()
        self._loop, self._thread = loop, thread
        try:
            self._call(self._start())
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Close every connection and the listener, and end the proxy's thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            self._call(self._shutdown())
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()
            self._loop = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def set_down(self, down: bool) -> None:
        """Refuse connections (``True``), or accept them again on the same port (``False``).

        Going down also closes every open connection, answered or not, as a crashed service
        would.
        """
        self._call(self._go_down() if down else self._listen())

    @property
    def is_down(self) -> bool:
        """Whether the proxy is refusing connections."""
        return self._server is None

    # -- rules and records -----------------------------------------------------------------

    def add_rule(self, rule: FaultRule) -> FaultRule:
        """Add a rule; it applies to requests that arrive from now on. Returns it."""
        with self._lock:
            self._rules.append(_RuleState(rule))
        return rule

    def remove_rule(self, rule: FaultRule) -> None:
        """Remove one rule (its counters go with it)."""
        with self._lock:
            self._rules = [state for state in self._rules if state.rule is not rule]

    def clear(self) -> None:
        """Remove every rule, so the proxy is transparent again. The request log is kept."""
        with self._lock:
            self._rules.clear()

    def hits(self, rule: FaultRule) -> int:
        """How many requests ``rule`` fired on."""
        return self._state(rule).fired

    def matched(self, rule: FaultRule) -> int:
        """How many requests matched ``rule``, including those it skipped or let through."""
        return self._state(rule).matched

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget the request log."""
        with self._lock:
            self._requests.clear()

    def _state(self, rule: FaultRule) -> _RuleState:
        with self._lock:
            for state in self._rules:
                if state.rule is rule:
                    return state
        raise KeyError(f"rule not added to this proxy: {rule!r}")

    def _select(self, method: str, path: str) -> FaultRule | None:
        chosen: FaultRule | None = None
        with self._lock:
            for state in self._rules:
                if not state.rule.matches(method, path):
                    continue
                state.matched += 1
                rule = state.rule
                eligible = state.matched > rule.after and (
                    rule.times is None or state.fired < rule.times
                )
                if chosen is None and eligible:
                    state.fired += 1
                    chosen = rule
        return chosen

    def _record(self, method: str, path: str, rule: FaultRule | None, status: int | None) -> None:
        with self._lock:
            self._requests.append(RequestRecord(method, path, rule.kind if rule else None, status))

    # -- the event loop side ---------------------------------------------------------------

    def _call(self, coro: Coroutine[Any, Any, None]) -> None:
        if self._loop is None:
            coro.close()
            raise RuntimeError("the proxy is not running")
        asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    async def _start(self) -> None:
        # No timeout: a slow upstream is the client's problem to time out on, not the proxy's.
        self._client = httpx.AsyncClient(
            timeout=None,  # noqa: S113 - deliberate, see above
            limits=httpx.Limits(max_connections=None),
            trust_env=False,
        )
        await self._listen()

    async def _listen(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._serve_connection, self._host, self._port, reuse_address=True
        )
        self._port = self._server.sockets[0].getsockname()[1]

    async def _go_down(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()
        await self._close_connections()

    async def _shutdown(self) -> None:
        await self._go_down()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _close_connections(self) -> None:
        tasks = list(self._connections)
        for writer in list(self._connections.values()):
            writer.transport.abort()
        # Aborting the transport ends each handler's read. Cancelling the handler instead
        # makes asyncio's stream callback log the cancellation as an error (Python 3.11),
        # so a handler is cancelled only if it is stuck elsewhere (e.g. in a LATE delay).
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=1.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        conn = h11.Connection(h11.SERVER)
        graceful = False
        try:
            while True:
                received = await self._read_request(conn, reader, writer)
                if received is None:
                    break
                request, body = received
                await self._answer(conn, writer, request, body)
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    break
                conn.start_next_cycle()
            graceful = True
        except (_Dropped, ConnectionError, h11.ProtocolError):
            pass
        except Exception:
            logger.exception("fault proxy failed serving a connection")
        finally:
            self._connections.pop(task, None)
            if graceful:
                # close() flushes what drain() left buffered; abort() would discard it.
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()
            else:
                writer.transport.abort()

    async def _read_request(
        self, conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[h11.Request, bytes] | None:
        request: h11.Request | None = None
        body = bytearray()
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as e:
                await self._send_bad_request(conn, writer, e)
                return None
            if event is h11.NEED_DATA:
                if request is not None and conn.they_are_waiting_for_100_continue:
                    writer.write(conn.send(h11.InformationalResponse(status_code=100, headers=[])))
                conn.receive_data(await reader.read(_READ_CHUNK))
            elif isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert request is not None
                return request, bytes(body)
            else:  # ConnectionClosed, or PAUSED after a half-read pipeline
                return None

    async def _send_bad_request(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, error: Exception
    ) -> None:
        if conn.our_state is not h11.SEND_RESPONSE:
            return
        payload = json.dumps({"error": "bad_request", "detail": str(error)}).encode()
        await self._send(conn, writer, 400, [(b"content-type", b"application/json")], payload)

    async def _answer(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, request: h11.Request, body: bytes
    ) -> None:
        method = request.method.decode("ascii")
        target = request.target
        path = target.split(b"?", 1)[0].decode("latin-1")
        rule = self._select(method, path)
        if rule is not None:
            logger.info(
                "injecting %s by %r on %s %s",
                rule.kind.value,
                rule,
                method,
                target.decode("latin-1"),
            )
        kind = rule.kind if rule is not None else None

        if kind in (FaultKind.ERROR_BEFORE, FaultKind.DROP_BEFORE):
            self._record(method, path, rule, None)
            if kind is FaultKind.DROP_BEFORE:
                raise _Dropped
            assert rule is not None
            await self._send_injected(conn, writer, rule, "the request was not forwarded")
            return
        if kind is FaultKind.DELAY_BEFORE:
            assert rule is not None
            await asyncio.sleep(rule.delay)

        upstream = await self._forward(request, body)
        self._record(method, path, rule, upstream.status if upstream else None)

        if kind is FaultKind.DROP_AFTER:
            raise _Dropped
        if kind is FaultKind.ERROR_AFTER:
            assert rule is not None
            await self._send_injected(conn, writer, rule, "the request was forwarded")
            return
        if kind is FaultKind.LATE_AFTER:
            assert rule is not None
            await asyncio.sleep(rule.delay)
        if upstream is None:
            payload = json.dumps({"error": "upstream_unavailable", "detail": str(self._upstream)})
            await self._send(
                conn, writer, 502, [(b"content-type", b"application/json")], payload.encode()
            )
            return
        headers = upstream.headers
        if method == "HEAD" or upstream.status in (204, 304):
            # No body to measure: relay the upstream's Content-Length as it stands.
            await self._send(conn, writer, upstream.status, headers, b"", length=False)
        else:
            await self._send(conn, writer, upstream.status, headers, upstream.body)

    async def _forward(self, request: h11.Request, body: bytes) -> _Upstream | None:
        assert self._client is not None
        headers = _forwardable(request.headers, drop=_REQUEST_ONLY)
        url = self._upstream.copy_with(raw_path=self._upstream_prefix + request.target)
        outgoing = httpx.Request(request.method.decode("ascii"), url, headers=headers, content=body)
        try:
            response = await self._client.send(outgoing, stream=True)
            try:
                payload = b"".join([chunk async for chunk in response.aiter_raw()])
            finally:
                await response.aclose()
        except httpx.TransportError as e:
            logger.warning("upstream %s unreachable: %r", self._upstream, e)
            return None
        relayed = _forwardable(response.headers.raw)
        if request.method == b"HEAD" or response.status_code in (204, 304):
            relayed += [(k, v) for k, v in response.headers.raw if k.lower() == b"content-length"]
        return _Upstream(response.status_code, relayed, payload)

    async def _send_injected(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, rule: FaultRule, detail: str
    ) -> None:
        payload = json.dumps(
            {"error": "injected_fault", "detail": f"{rule.kind.value}: {detail}"}
        ).encode()
        await self._send(
            conn, writer, rule.status, [(b"content-type", b"application/json")], payload
        )

    async def _send(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        *,
        length: bool = True,
    ) -> None:
        if length:
            headers = [*headers, (b"content-length", str(len(body)).encode())]
        writer.write(conn.send(h11.Response(status_code=status, headers=headers)))
        if body:
            writer.write(conn.send(h11.Data(data=body)))
        writer.write(conn.send(h11.EndOfMessage()))
        await writer.drain()


def _forwardable(
    headers: Iterable[tuple[bytes, bytes]], *, drop: frozenset[str] = frozenset()
) -> list[tuple[bytes, bytes]]:
    """The headers without hop-by-hop ones, including those the Connection header names."""
    pairs = list(headers)
    named = {
        token.strip().lower()
        for name, value in pairs
        if name.lower() == b"connection"
        for token in value.decode("latin-1").split(",")
    }
    skip = _HOP_BY_HOP | drop | named
    return [(name, value) for name, value in pairs if name.decode("latin-1").lower() not in skip]
