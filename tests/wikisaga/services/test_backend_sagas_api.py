"""The backend's saga admin API as a real process on a real saga log, with real filesystem
and git services behind fault proxies: listing by state and project in keyset pages, one
saga with its steps, retry of a saga whose rollback failed, resolve, and each user kept to
their own sagas."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from distributed_saga import DistributedSaga, SagaLog, SagaRecord, SagaState, open_saga_log
from wikisaga.clients.backend import BackendClient
from wikisaga.config import Settings
from wikisaga.content.documents import document_store_for
from wikisaga.content.ingest import ingest
from wikisaga.errors import ServiceRejected
from wikisaga.launcher import ServiceProcess
from wikisaga.testing.proxy import FaultKind, FaultRule
from wikisaga.testing.stack import ServiceStack

USER = "alice"
OTHER = "bob"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


class Backend:
    def __init__(self, stack: ServiceStack, process: ServiceProcess) -> None:
        self.stack = stack
        self.process = process
        self.client = httpx.Client(base_url=process.url, timeout=60)
        self.settings = Settings(data_dir=stack.data_dir, internal_token=SecretStr(stack.token))

    def call(
        self, method: str, path: str, *, user: str | None = USER, token: bool = True, **kw: Any
    ) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if token:
            headers["X-INTERNAL-TOKEN"] = self.stack.token
        if user is not None:
            headers["X-User-ID"] = user
        return self.client.request(method, path, headers=headers, **kw)

    def wait(self, job_id: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.call("GET", f"/jobs/{job_id}").json()
            if job["status"] in ("succeeded", "failed"):
                return dict(job)
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} did not finish")


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with ServiceStack(tmp_path_factory.mktemp("sagas-stack")) as stack:
        env = {
            **stack.env,
            "WIKISAGA_FILESYSTEM_SERVER_URL": stack.filesystem_proxy.url,
            "WIKISAGA_GIT_SERVER_URL": stack.git_proxy.url,
            "WIKISAGA_PAGE_GENERATOR": "local",
            "WIKISAGA_FILESYSTEM_TIMEOUT": "3",
            "WIKISAGA_GIT_TIMEOUT": "3",
        }
        with ServiceProcess("backend", env=env, log_dir=stack.root, startup_timeout=60) as proc:
            running = Backend(stack, proc)
            yield running
            running.client.close()


@pytest.fixture
def log(backend: Backend) -> Iterator[SagaLog]:
    """The backend's own saga log, opened by the test."""
    opened = open_saga_log(backend.settings.effective_saga_log_url)
    yield opened
    opened.close()


@pytest.fixture(autouse=True)
def _no_faults_left(backend: Backend) -> Iterator[None]:
    yield
    backend.stack.clear_faults()


def _project() -> str:
    return f"sg-{uuid.uuid4().hex[:10]}"


def position_key(record: SagaRecord) -> tuple[float, str]:
    return (record.created_at or 0.0, record.saga_id)


def committed_saga(log: SagaLog, project: str, user: str) -> str:
    """A one-step saga of ``project`` run by ``user``, committed."""
    saga_id = f"wiki-{project}-{uuid.uuid4().hex[:8]}"
    saga = DistributedSaga(saga_id, user, log=log, lock_key=f"wiki:{project}")
    saga.execute_step(name="Touch", action=lambda: None)
    saga.commit()
    return saga_id


def failed_generation(backend: Backend, project: str) -> dict[str, Any]:
    """A generation job whose snapshot fails and whose undo of the saved files fails too:
    the job fails and its saga is left ``failed``, for an operator."""
    folder = backend.stack.root / f"docs-{project}"
    folder.mkdir()
    (folder / "chroma.md").write_text("# Chroma\n\nChroma is a vector database.\n")
    with document_store_for(backend.settings) as store:
        ingest(store, project_id=project, user_id=USER, paths=[folder])
    backend.stack.git_proxy.add_rule(FaultRule("POST", r"/snapshot/.+", FaultKind.ERROR_BEFORE))
    backend.stack.filesystem_proxy.add_rule(FaultRule("POST", r"/restore", FaultKind.ERROR_BEFORE))
    accepted = backend.call("POST", "/generate_wiki", json={"project_id": project}).json()
    job = backend.wait(accepted["job_id"])
    backend.stack.clear_faults()
    assert job["status"] == "failed", job
    assert job["saga_status"]["state"] == "failed", job
    return job


def test_retry_of_a_failed_generation_rolls_it_back(backend: Backend) -> None:
    """The failed saga is listed by state and project, shown with what is left to undo,
    and retried with the backend's token: rolled back, its pages gone."""
    project = _project()
    job = failed_generation(backend, project)
    saga_id = job["saga_id"]
    with backend.stack.direct_filesystem() as filesystem:
        assert filesystem.list_files(project, user_id=USER)  # the pages the undo left

    listed = backend.call("GET", "/sagas", params={"state": "failed", "project_id": project}).json()
    assert [saga["saga_id"] for saga in listed["sagas"]] == [saga_id]
    shown = backend.call("GET", f"/sagas/{saga_id}").json()
    assert shown["state"] == "failed"
    assert shown["user_id"] == USER
    assert shown["lock_key"] == f"wiki:{project}"
    assert shown["remaining_compensations"]
    assert [step["index"] for step in shown["steps"]] == list(range(len(shown["steps"])))

    retried = backend.call("POST", f"/sagas/{saga_id}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["state"] == "rolled_back"
    assert retried.json()["remaining"] == 0
    assert backend.call("GET", f"/sagas/{saga_id}").json()["remaining_compensations"] == []
    with backend.stack.direct_filesystem() as filesystem:
        assert filesystem.list_files(project, user_id=USER) == []
    # The job failed, and stays failed; its saga status and error now say it was undone.
    after = backend.call("GET", f"/jobs/{job['job_id']}").json()
    assert after["status"] == "failed"
    assert after["saga_status"]["state"] == "rolled_back", after
    assert after["saga_status"]["saga_id"] == saga_id
    assert after["error"].startswith("Wiki generation failed and was rolled back: ")
    assert after["error"].endswith("(user alice's retry through the backend undid the rest)")
    assert (after["steps"], after["finished_at"]) == (job["steps"], job["finished_at"])

    again = backend.call("POST", f"/sagas/{saga_id}/retry")
    assert (again.status_code, again.json()["error"]) == (409, "saga_state")
    assert (
        backend.call("GET", "/sagas", params={"state": "failed", "project_id": project}).json()[
            "sagas"
        ]
        == []
    )


def test_a_retry_that_fails_again_stays_failed(backend: Backend) -> None:
    """With the filesystem still refusing, the retry answers ``failed`` with what is left."""
    project = _project()
    job = failed_generation(backend, project)
    saga_id = job["saga_id"]
    backend.stack.filesystem_proxy.add_rule(FaultRule("POST", r"/restore", FaultKind.ERROR_BEFORE))
    retried = backend.call("POST", f"/sagas/{saga_id}/retry", user=None)
    assert retried.status_code == 200, retried.text
    assert retried.json()["state"] == "failed"
    assert retried.json()["remaining"] >= 1
    after = backend.call("GET", f"/jobs/{job['job_id']}").json()
    assert after["saga_status"]["state"] == "failed"
    assert after["error"] == job["error"]


def test_resolve_needs_a_reason_and_ends_the_saga(backend: Backend) -> None:
    """Without a reason (or a blank one) resolve is 422 and changes nothing; with one the
    saga is rolled back, its undone steps marked compensated; a committed saga is 409."""
    project = _project()
    job = failed_generation(backend, project)
    saga_id = job["saga_id"]
    forged = "done\n2026-12-01 12:00:00,000 WARNING distributed_saga: [other] forged"
    for body in (
        {},
        {"reason": "   "},
        {"reason": "x", "extra": 1},
        {"reason": forged},  # a line break would forge an entry of the backend's log
        {"reason": "undone\x00by hand"},
        {"reason": "undone\u2028by hand"},
    ):
        refused = backend.call("POST", f"/sagas/{saga_id}/resolve", json=body)
        assert refused.status_code == 422, (body, refused.text)
    assert backend.call("POST", f"/sagas/{saga_id}/resolve").status_code == 422
    assert backend.call("GET", f"/sagas/{saga_id}").json()["state"] == "failed"

    resolved = backend.call(
        "POST", f"/sagas/{saga_id}/resolve", json={"reason": "deleted the pages by hand"}
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["state"] == "rolled_back"
    assert resolved.json()["undone"] >= 1
    shown = backend.call("GET", f"/sagas/{saga_id}").json()
    assert shown["state"] == "rolled_back"
    assert shown["remaining_compensations"] == []
    after = backend.call("GET", f"/jobs/{job['job_id']}").json()
    assert (after["status"], after["saga_status"]["state"]) == ("failed", "rolled_back")
    said = "(resolved by hand by user alice: deleted the pages by hand)"
    assert after["error"].endswith(said), after["error"]

    again = backend.call("POST", f"/sagas/{saga_id}/resolve", json={"reason": "twice"})
    assert (again.status_code, again.json()["error"]) == (409, "saga_state")
    unknown = backend.call("POST", "/sagas/wiki-nope-1/resolve", json={"reason": "x"})
    assert (unknown.status_code, unknown.json()["error"]) == (404, "saga_not_found")


def test_two_retries_of_one_saga_at_once_fence_each_other(backend: Backend) -> None:
    """A second retry while the first is still undoing (its restore held 2 s by the proxy)
    is refused, 409 ``saga_state``: each operation claims the saga under an owner of its
    own, as two processes would (under the process's one name the second took over the
    first's claim and ran the same compensations beside it)."""
    job = failed_generation(backend, _project())
    saga_id = job["saga_id"]
    backend.stack.filesystem_proxy.add_rule(
        FaultRule("POST", r"/restore", FaultKind.DELAY_BEFORE, delay=2.0, times=1)
    )
    answers: list[httpx.Response] = []
    first = threading.Thread(
        target=lambda: answers.append(backend.call("POST", f"/sagas/{saga_id}/retry"))
    )
    first.start()
    deadline = time.monotonic() + 10
    while backend.call("GET", f"/sagas/{saga_id}").json()["state"] != "compensating":
        assert time.monotonic() < deadline, "the first retry never claimed the saga"
        time.sleep(0.05)
    second = backend.call("POST", f"/sagas/{saga_id}/retry")
    first.join()
    assert second.status_code == 409, second.text
    assert second.json()["error"] == "saga_state"
    assert "still leased" in second.json()["detail"]
    assert answers[0].status_code == 200, answers[0].text
    assert answers[0].json()["state"] == "rolled_back"
    assert backend.call("GET", f"/sagas/{saga_id}").json()["state"] == "rolled_back"


def test_a_retry_of_a_generation_this_backend_is_running_is_refused(
    backend: Backend,
) -> None:
    """The saga of a generation in flight on this backend (its snapshot held 3 s by the
    proxy) is leased by the backend's process: a retry or a resolve through the same
    backend is 409 and undoes nothing, and the generation then commits. Under the
    process's one owner name the retry took the live saga over and rolled it back."""
    project = _project()
    folder = backend.stack.root / f"docs-{project}"
    folder.mkdir()
    (folder / "chroma.md").write_text("# Chroma\n\nChroma is a vector database.\n")
    with document_store_for(backend.settings) as store:
        ingest(store, project_id=project, user_id=USER, paths=[folder])
    backend.stack.git_proxy.add_rule(
        FaultRule("POST", r"/snapshot/.+", FaultKind.DELAY_BEFORE, delay=3.0, times=1)
    )
    accepted = backend.call("POST", "/generate_wiki", json={"project_id": project}).json()
    saga_id = accepted["saga_id"]
    deadline = time.monotonic() + 30
    while True:
        shown = backend.call("GET", f"/sagas/{saga_id}")
        if shown.status_code == 200 and shown.json()["state"] == "executing":
            break
        assert time.monotonic() < deadline, "the generation's saga never started"
        time.sleep(0.05)
    retried = backend.call("POST", f"/sagas/{saga_id}/retry")
    assert retried.status_code == 409, retried.text
    assert retried.json()["error"] == "saga_state"
    resolved = backend.call("POST", f"/sagas/{saga_id}/resolve", json={"reason": "no"})
    assert resolved.status_code == 409, resolved.text
    job = backend.wait(accepted["job_id"])
    assert job["status"] == "succeeded", job
    assert backend.call("GET", f"/sagas/{saga_id}").json()["state"] == "committed"


def test_a_retry_from_the_command_line_updates_the_job(backend: Backend) -> None:
    """``wikisaga sagas retry`` on the backend's log (not through the backend) rolls the
    saga back, and the backend's job of it then says so too."""
    job = failed_generation(backend, _project())
    env = {
        **os.environ,
        "WIKISAGA_INTERNAL_TOKEN": backend.stack.token,
        "WIKISAGA_DATA_DIR": str(backend.stack.data_dir),
    }
    env.pop("WIKISAGA_SAGA_LOG_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "wikisaga", "sagas", "retry", job["saga_id"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{job['saga_id']}: rolled_back" in done.stdout
    after = backend.call("GET", f"/jobs/{job['job_id']}").json()
    assert (after["status"], after["saga_status"]["state"]) == ("failed", "rolled_back")
    assert after["error"].endswith("(an operator's `wikisaga sagas retry` undid the rest)")


def test_listing_pages_through_a_project_newest_first(backend: Backend, log: SagaLog) -> None:
    """Pages of ``limit`` sagas, each continuing at the last one's ``next_before``, give
    every saga of the project once, newest first; the state filter keeps only its state."""
    project = _project()
    made = [committed_saga(log, project, USER) for _ in range(5)]
    committed_saga(log, _project(), USER)  # another project: never listed
    # Newest first, and by id among sagas of the same millisecond (the SQLite log's clock).
    records = sorted((log.get_saga(saga_id) for saga_id in made), key=position_key, reverse=True)
    newest_first = [record.saga_id for record in records]

    for user in (USER, None):  # the project's owner, and the operator
        seen: list[str] = []
        before = None
        pages = 0
        while True:
            params: dict[str, Any] = {"project_id": project, "limit": 2}
            if before is not None:
                params["before"] = before
            page = backend.call("GET", "/sagas", params=params, user=user).json()
            seen += [saga["saga_id"] for saga in page["sagas"]]
            pages += 1
            before = page["next_before"]
            if before is None:
                break
        assert seen == newest_first
        assert pages == 3

    assert (
        backend.call("GET", "/sagas", params={"project_id": project, "state": "failed"}).json()[
            "sagas"
        ]
        == []
    )
    states = backend.call(
        "GET", "/sagas", params={"project_id": project, "state": ["committed", "failed"]}
    ).json()["sagas"]
    assert {saga["state"] for saga in states} == {"committed"}
    assert len(states) == 5

    for before in ("yesterday", "1.5," + "x" * 290, "1.5,a\x00b", "nan,wiki-x"):
        bad = backend.call("GET", "/sagas", params={"before": before})
        assert (bad.status_code, bad.json()["error"]) == (400, "invalid_before"), before
    assert backend.call("GET", "/sagas", params={"state": "sleeping"}).status_code == 422
    assert backend.call("GET", "/sagas", params={"limit": 0}).status_code == 422


def test_a_user_sees_and_acts_on_only_their_own_sagas(backend: Backend, log: SagaLog) -> None:
    """Bob's listing leaves Alice's sagas out; her saga is 404 to him for show, retry and
    resolve; her project is 403 to him; the operator (no X-User-ID) sees both."""
    project = _project()
    failed = failed_generation(backend, project)["saga_id"]  # alice's; she owns the project
    theirs = committed_saga(log, _project(), OTHER)

    mine = backend.call("GET", "/sagas", params={"limit": 1000}, user=OTHER).json()["sagas"]
    assert theirs in [saga["saga_id"] for saga in mine]
    assert {saga["user_id"] for saga in mine} == {OTHER}
    for method, path, body in (
        ("GET", f"/sagas/{failed}", None),
        ("POST", f"/sagas/{failed}/retry", None),
        ("POST", f"/sagas/{failed}/resolve", {"reason": "not mine"}),
    ):
        answer = backend.call(method, path, user=OTHER, json=body)
        assert (answer.status_code, answer.json()["error"]) == (404, "saga_not_found"), path
    forbidden = backend.call("GET", "/sagas", params={"project_id": project}, user=OTHER)
    assert forbidden.status_code == 403
    assert backend.call("GET", f"/sagas/{failed}").json()["state"] == "failed"

    everyone = backend.call("GET", "/sagas", params={"limit": 1000}, user=None).json()["sagas"]
    assert {failed, theirs} <= {saga["saga_id"] for saga in everyone}


def test_a_refusal_of_the_saga_engine_is_an_answer_not_a_crash(
    backend: Backend, log: SagaLog
) -> None:
    """The saga engine's errors (unknown saga, wrong state) are answered like every other
    error: the connection stays open and the server logs no traceback. They are not
    WikisagaErrors, and were answered by the catch-all handler, which the server then
    reported as "Exception in ASGI application" and closed the connection after."""
    saga_id = committed_saga(log, _project(), USER)
    before = backend.process.log_path.read_bytes().count(b"Exception in ASGI application")
    for method, path, status in (
        ("GET", "/sagas/wiki-nobody-1", 404),
        ("POST", f"/sagas/{saga_id}/retry", 409),
        ("POST", "/sagas/wiki-nobody-1/resolve", 404),
    ):
        answer = backend.call(method, path, json={"reason": "x"} if "resolve" in path else None)
        assert answer.status_code == status, answer.text
        assert answer.headers.get("connection") != "close", path
    time.sleep(0.2)  # the server writes its log after it answers
    after = backend.process.log_path.read_bytes().count(b"Exception in ASGI application")
    assert after == before


def test_the_saga_api_needs_the_token(backend: Backend, log: SagaLog) -> None:
    """401 without the token on every saga route, 400 with two X-User-ID headers, and
    nothing changed."""
    saga_id = committed_saga(log, _project(), USER)
    for method, path in (
        ("GET", "/sagas"),
        ("GET", f"/sagas/{saga_id}"),
        ("POST", f"/sagas/{saga_id}/retry"),
        ("POST", f"/sagas/{saga_id}/resolve"),
    ):
        assert backend.call(method, path, token=False).status_code == 401, path
        # Two users named: neither acts.
        two = backend.client.send(
            backend.client.build_request(
                method,
                path,
                headers=[
                    ("X-INTERNAL-TOKEN", backend.stack.token),
                    ("X-User-ID", OTHER),
                    ("X-User-ID", USER),
                ],
            )
        )
        assert (two.status_code, two.json()["error"]) == (400, "invalid_user_id"), path
    assert log.get_saga(saga_id).state is SagaState.COMMITTED


SAGA_OPERATIONS = [
    "GET /sagas",
    "GET /sagas/{saga_id}",
    "POST /sagas/{saga_id}/retry",
    "POST /sagas/{saga_id}/resolve",
]


@pytest.mark.parametrize("label", SAGA_OPERATIONS)
def test_generated_requests_never_get_a_server_error(
    backend: Backend, log: SagaLog, label: str
) -> None:
    """Requests generated from the backend's own /openapi.json, with the token and a user
    (or none: the operator), answer without a 5xx, with a documented status, content type
    and body shape."""
    committed_saga(log, _project(), USER)
    schema = schemathesis.openapi.from_url(f"{backend.client.base_url}/openapi.json")
    operations = {op.label: op for op in (r.ok() for r in schema.get_all_operations())}

    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=operations[label].as_strategy(), operator=st.booleans())
    def check(case: schemathesis.Case, operator: bool) -> None:
        headers = dict(case.headers or {})
        headers["X-INTERNAL-TOKEN"] = backend.stack.token
        if operator:
            headers.pop("X-User-ID", None)
        else:
            headers["X-User-ID"] = USER
        case.headers = headers
        case.call_and_validate(base_url=str(backend.client.base_url), checks=CHECKS, timeout=30)

    check()


def test_the_client_sends_an_id_as_one_path_segment(backend: Backend) -> None:
    """An id holding '/' or '..' stays one segment of the request's path: the backend is
    asked for that job or saga, and says there is none (before, '../sagas' as a job id
    was sent as /sagas and answered the listing)."""
    base = str(backend.client.base_url)
    with BackendClient(base, headers=backend.stack.headers, timeout=30) as client:
        for job_id in ("../sagas", "x/../../sagas", "?limit=1"):
            with pytest.raises(ServiceRejected) as refused:
                client.get_job(job_id, user_id=USER)
            assert refused.value.status in (404, 422), job_id
        with pytest.raises(ServiceRejected) as refused:
            client.get_saga("../sagas", user_id=USER)
        assert refused.value.status == 404
