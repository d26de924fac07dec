"""The fault proxy in front of a real HTTP service, driven by real httpx clients.

The upstream is a small FastAPI counter service run by uvicorn in a thread: ``POST /apply``
counts, ``GET /count`` reads the count, so each test can tell whether a request the client
saw fail was in fact applied.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response

from wikisaga.testing import FaultKind, FaultProxy, FaultRule, RequestRecord

TOKEN = "s3cret-token"


def _counter_app() -> FastAPI:
    app = FastAPI()
    state = {"count": 0}

    @app.post("/apply")
    async def apply() -> dict[str, int]:
        state["count"] += 1
        return {"count": state["count"]}

    @app.get("/count")
    async def count() -> dict[str, int]:
        return {"count": state["count"]}

    @app.post("/reset")
    async def reset() -> dict[str, int]:
        state["count"] = 0
        return {"count": 0}

    @app.get("/slow")
    async def slow(seconds: float) -> dict[str, float]:
        await asyncio.sleep(seconds)
        return {"slept": seconds}

    @app.post("/echo")
    async def echo(request: Request) -> Response:
        body = await request.body()
        return Response(
            body,
            media_type="application/octet-stream",
            headers={"X-Body-SHA256": hashlib.sha256(body).hexdigest(), "X-Upstream": "counter"},
        )

    @app.get("/headers")
    async def headers(request: Request) -> dict[str, str]:
        return dict(request.headers)

    @app.delete("/nothing", status_code=204)
    async def nothing() -> Response:
        return Response(status_code=204)

    return app


@pytest.fixture(scope="module")
def upstream_url() -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        _counter_app(), log_level="warning", lifespan="off", ws="none", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the upstream service did not start"
        assert time.monotonic() < deadline, "the upstream service did not start in time"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
def proxy(upstream_url: str) -> Iterator[FaultProxy]:
    httpx.post(f"{upstream_url}/reset").raise_for_status()
    with FaultProxy(upstream_url) as running:
        yield running


@pytest.fixture
def client(proxy: FaultProxy) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=proxy.url, timeout=10) as c:
        yield c


def _count(upstream_url: str) -> int:
    """The count as the service itself reports it, bypassing the proxy."""
    return int(httpx.get(f"{upstream_url}/count").json()["count"])


def test_without_rules_the_proxy_is_transparent(
    proxy: FaultProxy, client: httpx.Client, upstream_url: str
) -> None:
    assert client.post("/apply").json() == {"count": 1}
    assert client.get("/count").json() == {"count": 1}
    assert _count(upstream_url) == 1
    assert proxy.requests == [("POST", "/apply", None, 200), ("GET", "/count", None, 200)]
    assert proxy.url == f"http://127.0.0.1:{proxy.port}"


def test_error_before_answers_without_forwarding(
    proxy: FaultProxy, client: httpx.Client, upstream_url: str
) -> None:
    rule = proxy.add_rule(FaultRule("POST", "/apply", FaultKind.ERROR_BEFORE, status=503))
    response = client.post("/apply")
    assert response.status_code == 503
    assert response.json()["error"] == "injected_fault"
    assert _count(upstream_url) == 0
    assert proxy.hits(rule) == 1
    assert proxy.requests == [RequestRecord("POST", "/apply", FaultKind.ERROR_BEFORE, None)]


def test_error_after_reports_failure_for_an_applied_request(
    proxy: FaultProxy, client: httpx.Client, upstream_url: str
) -> None:
    proxy.add_rule(FaultRule("POST", "/apply", FaultKind.ERROR_AFTER))
    response = client.post("/apply")
    assert response.status_code == 500
    assert response.json()["error"] == "injected_fault"
    assert _count(upstream_url) == 1
    assert proxy.requests == [("POST", "/apply", FaultKind.ERROR_AFTER, 200)]


def test_late_after_times_the_client_out_although_the_request_was_applied(
    proxy: FaultProxy, upstream_url: str
) -> None:
    proxy.add_rule(FaultRule("POST", "/apply", FaultKind.LATE_AFTER, delay=3.0))
    with (
        httpx.Client(base_url=proxy.url, timeout=0.5) as impatient,
        pytest.raises(httpx.ReadTimeout),
    ):
        impatient.post("/apply")
    assert _count(upstream_url) == 1
    assert proxy.requests == [("POST", "/apply", FaultKind.LATE_AFTER, 200)]


def test_late_after_delivers_the_real_response_to_a_patient_client(
    proxy: FaultProxy, client: httpx.Client
) -> None:
    proxy.add_rule(FaultRule("POST", "/apply", FaultKind.LATE_AFTER, delay=0.2))
    assert client.post("/apply").json() == {"count": 1}


def test_drop_before_closes_the_connection_without_forwarding(
    proxy: FaultProxy, client: httpx.Client, upstream_url: str
) -> None:
    proxy.add_rule(FaultRule("POST", "/apply", FaultKind.DROP_BEFORE, times=1))
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/apply")
    assert _count(upstream_url) == 0
    assert client.post("/apply").json() == {"count": 1}, "the client recovers on a new connection"
    assert proxy.requests == [
        ("POST", "/apply", FaultKind.DROP_BEFORE, None),
        ("POST", "/apply", None, 200),
    ]


def test_drop_after_closes_the_connection_after_the_request_was_applied(
    proxy: FaultProxy, client: httpx.Client, upstream_url: str
) -> None:
    proxy.add_rule(FaultRule("POST", "/apply", FaultKind.DROP_AFTER))
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/apply")
    assert _count(upstream_url) == 1
    assert proxy.requests == [("POST", "/apply", FaultKind.DROP_AFTER, 200)]


def test_delay_before_forwards_normally_after_the_delay(
    proxy: FaultProxy, client: httpx.Client, upstream_url: str
) -> None:
    proxy.add_rule(FaultRule("POST", "/apply", FaultKind.DELAY_BEFORE, delay=0.2))
    assert client.post("/apply").json() == {"count": 1}
    assert proxy.requests == [("POST", "/apply", FaultKind.DELAY_BEFORE, 200)]


def test_delay_before_still_applies_a_request_whose_client_gave_up(
    proxy: FaultProxy, upstream_url: str
) -> None:
    proxy.add_rule(FaultRule("POST", "/apply", FaultKind.DELAY_BEFORE, delay=1.5))
    with (
        httpx.Client(base_url=proxy.url, timeout=0.2) as impatient,
        pytest.raises(httpx.ReadTimeout),
    ):
        impatient.post("/apply")
    deadline = time.monotonic() + 30
    while not proxy.requests:
        assert time.monotonic() < deadline, "the delayed request was never forwarded"
        time.sleep(0.05)
    assert _count(upstream_url) == 1


def test_the_proxy_waits_for_an_upstream_slower_than_httpx_default_timeout(
    proxy: FaultProxy,
) -> None:
    with httpx.Client(base_url=proxy.url, timeout=None) as patient:
        response = patient.get("/slow", params={"seconds": 5.5})
    assert response.json() == {"slept": 5.5}


def test_after_skips_and_times_bounds_the_matching_requests(
    proxy: FaultProxy, client: httpx.Client, upstream_url: str
) -> None:
    rule = proxy.add_rule(
        FaultRule("POST", "/apply", FaultKind.ERROR_BEFORE, status=503, after=2, times=2)
    )
    statuses = [client.post("/apply").status_code for _ in range(6)]
    assert statuses == [200, 200, 503, 503, 200, 200]
    assert proxy.hits(rule) == 2
    assert proxy.matched(rule) == 6
    assert _count(upstream_url) == 4


def test_rules_match_by_method_and_whole_path(
    proxy: FaultProxy, client: httpx.Client, upstream_url: str
) -> None:
    proxy.add_rule(FaultRule("GET", "/apply", FaultKind.ERROR_BEFORE))
    proxy.add_rule(FaultRule("POST", "/app", FaultKind.ERROR_BEFORE))
    proxy.add_rule(FaultRule("post", "/ech.*", FaultKind.ERROR_BEFORE, status=418))
    count_rule = proxy.add_rule(FaultRule(None, "/count", FaultKind.ERROR_BEFORE, status=502))

    assert client.post("/apply").status_code == 200, "other method, other prefix: no fault"
    assert client.post("/echo", content=b"x").status_code == 418, "method is case-insensitive"
    response = client.get("/count", params={"q": "the query is not part of the path"})
    assert response.status_code == 502
    assert proxy.hits(count_rule) == 1
    assert _count(upstream_url) == 1


def test_the_first_eligible_rule_fires_and_every_matching_rule_counts(
    proxy: FaultProxy, client: httpx.Client
) -> None:
    first = proxy.add_rule(FaultRule("POST", "/apply", FaultKind.ERROR_BEFORE, status=503, times=1))
    second = proxy.add_rule(FaultRule("POST", "/apply", FaultKind.ERROR_AFTER, status=504))
    assert [client.post("/apply").status_code for _ in range(3)] == [503, 504, 504]
    assert (proxy.hits(first), proxy.hits(second)) == (1, 2)
    assert (proxy.matched(first), proxy.matched(second)) == (3, 3)


def test_clear_and_remove_rule_make_the_proxy_transparent_again(
    proxy: FaultProxy, client: httpx.Client
) -> None:
    kept = proxy.add_rule(FaultRule(None, ".*", FaultKind.ERROR_BEFORE))
    proxy.remove_rule(kept)
    assert client.post("/apply").status_code == 200
    proxy.add_rule(FaultRule(None, ".*", FaultKind.ERROR_BEFORE))
    assert client.post("/apply").status_code == 500
    proxy.clear()
    assert client.post("/apply").status_code == 200
    with pytest.raises(KeyError):
        proxy.hits(kept)
    assert len(proxy.requests) == 3
    proxy.clear_requests()
    assert proxy.requests == []


def test_set_down_refuses_connections_and_comes_back_on_the_same_port(
    proxy: FaultProxy, client: httpx.Client, upstream_url: str
) -> None:
    assert client.post("/apply").status_code == 200
    port = proxy.port

    proxy.set_down(True)
    assert proxy.is_down
    with pytest.raises(httpx.ConnectError):
        client.post("/apply")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{proxy.url}/count")
    assert _count(upstream_url) == 1

    proxy.set_down(False)
    assert proxy.port == port
    assert client.post("/apply").json() == {"count": 2}


def test_five_megabyte_bodies_round_trip_byte_exact(
    proxy: FaultProxy, client: httpx.Client
) -> None:
    body = os.urandom(5 * 1024 * 1024)
    response = client.post("/echo", content=body)
    assert response.status_code == 200
    assert response.headers["x-body-sha256"] == hashlib.sha256(body).hexdigest()
    assert response.headers["content-length"] == str(len(body))
    assert response.content == body


def test_a_chunked_request_body_is_forwarded_whole(proxy: FaultProxy, client: httpx.Client) -> None:
    parts = [os.urandom(256 * 1024) for _ in range(8)]
    response = client.post("/echo", content=iter(parts))
    assert response.content == b"".join(parts)


def test_expect_100_continue_gets_an_interim_response(proxy: FaultProxy) -> None:
    body = b"sent only after 100 Continue"
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
        )
        assert sock.recv(1024).startswith(b"HTTP/1.1 100 ")
        sock.sendall(body)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, payload = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert payload == body


def test_keep_alive_connection_is_reused_across_many_requests(
    proxy: FaultProxy, upstream_url: str
) -> None:
    client_ports = set()
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        for i in range(200):
            response = client.post("/apply")
            assert response.json() == {"count": i + 1}
            stream = response.extensions["network_stream"]
            client_ports.add(stream.get_extra_info("client_addr")[1])
    assert len(client_ports) == 1
    assert _count(upstream_url) == 200


def test_end_to_end_headers_pass_and_hop_by_hop_headers_do_not(
    proxy: FaultProxy, client: httpx.Client, upstream_url: str
) -> None:
    response = client.get(
        "/headers",
        headers={
            "X-INTERNAL-TOKEN": TOKEN,
            "X-User-ID": "alice",
            "Connection": "keep-alive, X-Per-Hop",
            "X-Per-Hop": "must not pass",
            "Keep-Alive": "timeout=5",
        },
    )
    seen = response.json()
    assert seen["x-internal-token"] == TOKEN
    assert seen["x-user-id"] == "alice"
    assert "x-per-hop" not in seen
    assert "keep-alive" not in seen
    assert seen["host"] == upstream_url.removeprefix("http://")

    echoed = client.post("/echo", content=b"abc")
    assert echoed.headers["x-upstream"] == "counter"
    assert echoed.headers["content-type"] == "application/octet-stream"


def test_a_response_without_a_body_is_relayed(proxy: FaultProxy, client: httpx.Client) -> None:
    assert client.delete("/nothing").status_code == 204
    head = client.head("/count")
    assert head.status_code == 405
    assert head.content == b""
    assert client.get("/count").json() == {"count": 0}, "the connection is still usable"


def test_an_unreachable_upstream_is_answered_with_502() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    with FaultProxy(f"http://127.0.0.1:{closed_port}") as proxy:
        response = httpx.get(f"{proxy.url}/count")
        assert response.status_code == 502
        assert response.json()["error"] == "upstream_unavailable"
        assert proxy.requests == [("GET", "/count", None, None)]


def test_each_injected_fault_is_logged_with_its_request_line(
    proxy: FaultProxy, client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    proxy.add_rule(FaultRule("POST", "/apply", FaultKind.ERROR_BEFORE))
    with caplog.at_level(logging.INFO, logger="wikisaga.testing"):
        client.post("/apply", params={"k": "v"})
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("wikisaga.testing")]
    assert len(messages) == 1
    assert "error_before" in messages[0]
    assert "POST /apply?k=v" in messages[0]


def test_stop_ends_listening(upstream_url: str) -> None:
    proxy = FaultProxy(upstream_url).start()
    url = proxy.url
    assert httpx.get(f"{url}/count").status_code == 200
    proxy.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/count")


def test_rule_arguments_are_validated() -> None:
    with pytest.raises(ValueError, match="times"):
        FaultRule(None, "/", FaultKind.ERROR_BEFORE, times=-1)
    with pytest.raises(ValueError, match="after"):
        FaultRule(None, "/", FaultKind.ERROR_BEFORE, after=-1)
