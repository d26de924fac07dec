"""The shared service app: token refusal, error mapping, body limit, per-project locks."""

from __future__ import annotations

import asyncio
import linecache
import sys
import threading
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from wikisaga.config import ConfigError, Settings
from wikisaga.services._common import (
    AsyncProjectLocks,
    Conflict,
    Forbidden,
    NotFound,
    ProjectLocks,
    ServiceError,
    UserId,
    create_service_app,
    dev_token,
)
from wikisaga.services._common.errors import to_service_error

TOKEN = "unit-token"


def test_app_refuses_to_build_without_a_token_and_says_how_to_fix_it() -> None:
    with pytest.raises(ConfigError) as caught:
        create_service_app("demo", Settings())
    message = str(caught.value)
    assert "WIKISAGA_INTERNAL_TOKEN" in message
    assert "--dev" in message


def test_dev_mode_builds_with_a_generated_token() -> None:
    first = create_service_app("demo", Settings(dev_mode=True))
    second = create_service_app("demo", Settings(dev_mode=True))
    assert len(first.state.internal_token) >= 32
    assert first.state.internal_token != second.state.internal_token
    assert first.state.settings.token == first.state.internal_token


def test_dev_tokens_are_random_and_long() -> None:
    tokens = {dev_token() for _ in range(20)}
    assert len(tokens) == 20
    assert all(len(token) >= 32 for token in tokens)


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (NotFound("x"), 404, "not_found"),
        (Forbidden("x"), 403, "forbidden"),
        (Conflict("x"), 409, "conflict"),
        (
            RequestValidationError([{"loc": ("body", "a"), "msg": "bad", "type": "t"}]),
            422,
            "validation_error",
        ),
        (HTTPException(404), 404, "not_found"),
        (HTTPException(405, headers={"Allow": "GET"}), 405, "method_not_allowed"),
        (HTTPException(418), 418, "http_error"),
        (RuntimeError("secret internals"), 500, "internal_error"),
    ],
)
def test_every_error_maps_to_a_status_and_short_code(
    exc: Exception, status: int, code: str
) -> None:
    error = to_service_error(exc)
    assert isinstance(error, ServiceError)
    assert (error.status_code, error.error_code) == (status, code)


def test_unexpected_errors_do_not_leak_their_message() -> None:
    assert "secret" not in to_service_error(RuntimeError("secret internals")).detail


def test_method_not_allowed_keeps_the_allow_header() -> None:
    error = to_service_error(HTTPException(405, headers={"Allow": "GET"}))
    assert error.headers == {"Allow": "GET"}


class _Body(BaseModel):
    text: str


def _app(limit: int = 64) -> FastAPI:
    app = create_service_app("demo", Settings(internal_token=TOKEN), max_body_bytes=limit)

    @app.post("/echo")
    def echo(body: _Body, user: UserId) -> dict[str, str]:
        return {"text": body.text, "user": user}

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    return app


def _call(app: FastAPI, method: str, url: str, **kwargs: object) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return await client.request(method, url, **kwargs)  # type: ignore[arg-type]

    return asyncio.run(go())


AUTH = {"X-INTERNAL-TOKEN": TOKEN, "X-User-ID": "u"}


def test_a_body_over_the_limit_is_refused_with_413_json() -> None:
    response = _call(_app(), "POST", "/echo", json={"text": "x" * 100}, headers=AUTH)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_a_streamed_body_over_the_limit_is_refused_with_413_json() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"text": "'
        for _ in range(10):
            yield b"x" * 20
        yield b'"}'

    response = _call(_app(), "POST", "/echo", content=chunks(), headers=AUTH)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_a_body_under_the_limit_reaches_the_route() -> None:
    response = _call(_app(), "POST", "/echo", json={"text": "hi"}, headers=AUTH)
    assert response.json() == {"text": "hi", "user": "u"}


def test_without_the_token_a_malformed_body_is_401_not_422() -> None:
    """The token is checked before the body is parsed: strangers learn nothing of the schema."""
    response = _call(
        _app(), "POST", "/echo", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401
    assert response.json() == {
        "error": "unauthorized",
        "detail": "missing or wrong X-INTERNAL-TOKEN",
    }


def test_an_unexpected_exception_is_a_500_json_without_internals() -> None:
    response = _call(_app(), "GET", "/boom", headers=AUTH)
    assert response.status_code == 500
    assert response.json() == {"error": "internal_error", "detail": "internal error"}


def test_metrics_accept_a_bearer_token_as_prometheus_sends_it() -> None:
    app = _app()
    assert (
        _call(app, "GET", "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code
        == 200
    )
    assert (
        _call(app, "GET", "/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    )


def test_a_bearer_token_is_not_accepted_outside_metrics() -> None:
    response = _call(
        _app(),
        "POST",
        "/echo",
        json={"text": "hi"},
        headers={"Authorization": f"Bearer {TOKEN}", "X-User-ID": "u"},
    )
    assert response.status_code == 401


def _wait_until_it_waits_for_the_lock(thread: threading.Thread, entered: threading.Event) -> None:
    """Return once ``thread`` is blocked acquiring a project's lock in ``ProjectLocks.hold``
    (its innermost frame is ``hold``, on the ``with lock`` line); fail if it got into its
    ``with`` block instead, which a lock held by another thread must not allow."""
    hold = ProjectLocks.hold.__wrapped__.__code__  # type: ignore[attr-defined]
    seen = "not started"
    for _ in range(10_000):
        if entered.is_set():
            pytest.fail("the second holder got in while the first still held the lock")
        frame = sys._current_frames().get(thread.ident or -1)
        if frame is not None:
            line = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
            seen = f"{frame.f_code.co_name}: {line}"
            if frame.f_code is hold and line.startswith("with lock"):
                return
        entered.wait(0.001)  # gives the thread the interpreter; returns early if it got in
    pytest.fail(f"the second holder never waited for the lock; last seen in {seen}")


def test_one_project_lock_excludes_a_second_holder() -> None:
    """While one thread holds a project's lock, a second one waits in ``hold`` and gets in
    only after the first has left."""
    locks = ProjectLocks()
    order: list[str] = []
    entered = threading.Event()

    def second() -> None:
        with locks.hold("p"):
            order.append("second in")
            entered.set()

    thread = threading.Thread(target=second)
    with locks.hold("p"):
        thread.start()
        _wait_until_it_waits_for_the_lock(thread, entered)
        assert len(locks) == 1
        order.append("first out")
    assert entered.wait(10), "the second holder never got the lock"
    thread.join(10)
    assert not thread.is_alive()
    assert order == ["first out", "second in"]
    assert len(locks) == 0


def test_different_projects_hold_their_locks_at_the_same_time() -> None:
    locks = ProjectLocks()
    other_entered = threading.Event()

    def other() -> None:
        with locks.hold("q"):
            other_entered.set()

    with locks.hold("p"):
        thread = threading.Thread(target=other)
        thread.start()
        assert other_entered.wait(10), "project q waited for project p"
    thread.join(10)
    assert not thread.is_alive()
    assert len(locks) == 0


async def _yield_to_every_task() -> None:
    """Let every task that can run take its steps (no time passes: each is one turn)."""
    for _ in range(10):
        await asyncio.sleep(0)


def test_async_project_locks_serialise_one_project_and_not_others() -> None:
    """A coroutine that holds project p keeps a second one for p out until it leaves,
    while one for project q goes in and out meanwhile."""

    async def scenario() -> None:
        locks = AsyncProjectLocks()
        events: list[str] = []
        release_first = asyncio.Event()

        async def hold(project: str, label: str, until: asyncio.Event | None = None) -> None:
            async with locks.hold(project):
                events.append(f"{label} in")
                if until is not None:
                    await until.wait()
                events.append(f"{label} out")

        first = asyncio.create_task(hold("p", "p1", release_first))
        await _yield_to_every_task()
        assert events == ["p1 in"]
        second = asyncio.create_task(hold("p", "p2"))
        other = asyncio.create_task(hold("q", "q1"))
        await _yield_to_every_task()
        assert events == ["p1 in", "q1 in", "q1 out"], "p2 got in while p1 held p"
        assert len(locks) == 1  # p, with its holder and a waiter; q is gone
        release_first.set()
        await asyncio.gather(first, second, other)
        assert events == ["p1 in", "q1 in", "q1 out", "p1 out", "p2 in", "p2 out"]
        assert len(locks) == 0

    asyncio.run(scenario())
