"""A tiny OpenAI-compatible chat server on loopback, for the tests of summary rewriting.

``POST /chat/completions`` (also under ``/v1``) answers as :attr:`LlmServer.behaviour`
says, unless a rule in :attr:`LlmServer.rules` (a substring of the request's last message
→ a behaviour) matches first::

    faithful       a rephrasing that keeps every citation link ("In short, ...")
    drop_citation  the same, without its first citation link
    add_link       the same, with a Markdown link to a web page in the middle
    script         the same, with a <script> element in the middle
    empty          an empty answer
    error          HTTP 500
    late           the faithful answer after ``delay`` seconds
    malformed      HTTP 200 with a body that is not JSON

Every request is kept in :attr:`LlmServer.requests` (its JSON body and headers).
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

__all__ = ["BEHAVIOURS", "LlmServer", "ReceivedRequest"]

BEHAVIOURS = (
    "faithful",
    "drop_citation",
    "add_link",
    "script",
    "empty",
    "error",
    "late",
    "malformed",
)

_CITATION = re.compile(r"\[\d+\]\([^()\s]+\)")


@dataclass(frozen=True)
class ReceivedRequest:
    """One request the server was sent."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def prompt(self) -> str:
        """The last message's text: what the page's summary was sent as."""
        return str(self.body["messages"][-1]["content"])


def faithful(prompt: str) -> str:
    """A rephrasing of ``prompt`` that changes words but keeps every citation link."""
    first, rest = prompt[:1], prompt[1:]
    return f"In short, {first.lower() if rest[:1].islower() else first}{rest}"


def _answer(behaviour: str, prompt: str) -> str:
    text = faithful(prompt)
    if behaviour == "drop_citation":
        return _CITATION.sub("", text, count=1)
    if behaviour in ("add_link", "script"):
        extra = (
            "See [the manual](https://example.com/manual) for more."
            if behaviour == "add_link"
            else "<script>alert(1)</script>"
        )
        cut = _CITATION.search(text)
        end = cut.end() if cut else len(text)
        return f"{text[:end]} {extra} {text[end:]}".strip()
    if behaviour == "empty":
        return ""
    return text


class LlmServer:
    """Start with :meth:`start` (or ``with``); :attr:`url` is the ``/v1`` base URL."""

    def __init__(self, behaviour: str = "faithful", *, delay: float = 5.0) -> None:
        self.behaviour = behaviour
        self.rules: list[tuple[str, str]] = []
        self.delay = delay
        self.requests: list[ReceivedRequest] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the server is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def behave(self, behaviour: str, *, rules: list[tuple[str, str]] | None = None) -> None:
        """Answer every request as ``behaviour`` (``rules`` first); forget past requests."""
        if behaviour not in BEHAVIOURS or any(b not in BEHAVIOURS for _, b in rules or []):
            raise ValueError(f"a behaviour is one of {', '.join(BEHAVIOURS)}")
        with self._lock:
            self.behaviour = behaviour
            self.rules = list(rules or [])
            self.requests.clear()

    def _choose(self, prompt: str) -> str:
        with self._lock:
            for needle, behaviour in self.rules:
                if needle in prompt:
                    return behaviour
            return self.behaviour

    def _record(self, request: ReceivedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def start(self) -> Self:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the tests read :attr:`LlmServer.requests` instead."""

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path.rstrip("/") not in ("/chat/completions", "/v1/chat/completions"):
                    self._send(404, b'{"error": "not found"}')
                    return
                try:
                    body = json.loads(raw)
                    received = ReceivedRequest(self.path, dict(self.headers.items()), body)
                    prompt = received.prompt
                except (ValueError, KeyError, IndexError, TypeError):
                    self._send(400, b'{"error": "not a chat request"}')
                    return
                server._record(received)
                behaviour = server._choose(prompt)
                if behaviour == "error":
                    self._send(500, b'{"error": "internal error"}')
                    return
                if behaviour == "malformed":
                    self._send(200, b'{"choices": [{"message": {"content": "trunc')
                    return
                if behaviour == "late":
                    time.sleep(server.delay)
                answer = {
                    "id": f"chatcmpl-{len(server.requests)}",
                    "object": "chat.completion",
                    "model": body.get("model", ""),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": _answer(behaviour, prompt)},
                            "finish_reason": "stop",
                        }
                    ],
                }
                self._send(200, json.dumps(answer).encode())

            def _send(self, status: int, data: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (a time-out under test): nothing to answer

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="llm-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
