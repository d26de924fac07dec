"""Who may call what: every endpoint x {no, wrong, right token} x {owner, other, no user}."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from service_support import OTHER, OWNER, TOKEN, ClientFactory, headers


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    url: str
    body: dict[str, Any] | None = None
    project_scoped: bool = True

    def call(
        self, client: httpx.Client, project: str, request_headers: dict[str, str]
    ) -> httpx.Response:
        url = self.url.format(project=project)
        body = None
        if self.body is not None:
            body = {k: (project if v == "{project}" else v) for k, v in self.body.items()}
        return client.request(self.method, url, json=body, headers=request_headers)


ENDPOINTS = [
    Endpoint(
        "save_file",
        "POST",
        "/save_file",
        {"project_id": "{project}", "file_path": "wiki/page.md", "content": "new"},
    ),
    Endpoint("get_file", "GET", "/file/{project}/wiki/page.md"),
    Endpoint("delete_file", "DELETE", "/file/{project}/wiki/page.md"),
    Endpoint("list_files", "GET", "/files/{project}?prefix=wiki/"),
    Endpoint(
        "batch",
        "POST",
        "/batch",
        {
            "project_id": "{project}",
            "save": [{"file_path": "wiki/other.md", "content": "x"}],
            "delete": ["wiki/page.md"],
        },
    ),
    Endpoint("get_versions", "GET", "/versions/{project}?paths=wiki/page.md"),
    Endpoint("post_versions", "POST", "/versions/{project}", {"paths": ["wiki/page.md"]}),
    Endpoint(
        "restore",
        "POST",
        "/restore",
        {"project_id": "{project}", "files": [{"path": "wiki/page.md", "version": None}]},
    ),
    Endpoint("export", "GET", "/export/{project}"),
    Endpoint("metrics", "GET", "/metrics", project_scoped=False),
]

TOKENS = {"no token": None, "wrong token": "wrong-token", "right token": TOKEN}
USERS = {"owner": OWNER, "other user": OTHER, "no user": None}


def _expected(endpoint: Endpoint, token: str, user: str) -> tuple[int, str | None]:
    if token != "right token":
        return 401, "unauthorized"
    if not endpoint.project_scoped:
        return 200, None
    if user == "no user":
        return 400, "missing_user_id"
    if user == "other user":
        return 403, "forbidden"
    return 200, None


@pytest.fixture
def bare(make_client: ClientFactory) -> httpx.Client:
    """A client of the shared service that sends only the headers of each request."""
    return make_client(user=None, token=None)


@pytest.fixture
def owned_project(bare: httpx.Client, project_id: str) -> str:
    """A project of OWNER holding wiki/page.md."""
    response = bare.post(
        "/save_file",
        json={"project_id": project_id, "file_path": "wiki/page.md", "content": "secret"},
        headers=headers(OWNER),
    )
    assert response.status_code == 200
    return project_id


@pytest.mark.parametrize(
    ("endpoint", "token", "user"),
    list(itertools.product(ENDPOINTS, TOKENS, USERS)),
    ids=[f"{e.name}-{t}-{u}" for e, t, u in itertools.product(ENDPOINTS, TOKENS, USERS)],
)
def test_access_matrix(
    bare: httpx.Client,
    owned_project: str,
    endpoint: Endpoint,
    token: str,
    user: str,
) -> None:
    """Only the right token gets past the gate; only the owner gets the project's data."""
    response = endpoint.call(bare, owned_project, headers(USERS[user], TOKENS[token]))
    status, code = _expected(endpoint, token, user)
    assert response.status_code == status, response.text
    if code is not None:
        assert response.json()["error"] == code
        assert "secret" not in response.text


@pytest.mark.parametrize("user", list(USERS))
def test_refused_requests_change_nothing(bare: httpx.Client, owned_project: str, user: str) -> None:
    """After every refused call of every endpoint, the owner's file is as it was."""
    before = bare.get(f"/export/{owned_project}", headers=headers(OWNER)).json()
    refused = 0
    for endpoint, token in itertools.product(ENDPOINTS, TOKENS):
        if _expected(endpoint, token, user)[0] != 200:
            response = endpoint.call(bare, owned_project, headers(USERS[user], TOKENS[token]))
            assert response.status_code >= 400
            refused += 1
    assert refused >= len(ENDPOINTS) * 2
    after = bare.get(f"/export/{owned_project}", headers=headers(OWNER)).json()
    assert after == before


def test_health_needs_no_token(bare: httpx.Client) -> None:
    for token in TOKENS.values():
        response = bare.get("/health", headers=headers(None, token))
        assert response.status_code == 200


@pytest.mark.parametrize(
    "token",
    [
        TOKEN[:-1],
        TOKEN + "x",
        TOKEN.upper(),
        "",
        "tökén",
    ],
    ids=["prefix", "longer", "case", "empty", "non-ascii"],
)
def test_near_miss_tokens_are_401(bare: httpx.Client, owned_project: str, token: str) -> None:
    response = bare.get(
        f"/export/{owned_project}",
        headers={"X-INTERNAL-TOKEN": token.encode(), "X-User-ID": OWNER.encode()},
    )
    assert response.status_code == 401


def test_the_first_writer_owns_a_new_project(bare: httpx.Client, project_id: str) -> None:
    body = {"project_id": project_id, "file_path": "a.md", "content": "x"}
    assert bare.post("/save_file", json=body, headers=headers(OTHER)).status_code == 200
    assert bare.post("/save_file", json=body, headers=headers(OWNER)).status_code == 403


def test_reading_or_deleting_in_an_unowned_project_claims_nothing(
    bare: httpx.Client, project_id: str
) -> None:
    """Only a change makes a user the owner; a no-op delete or a read does not."""
    assert bare.get(f"/files/{project_id}", headers=headers(OTHER)).status_code == 200
    assert bare.delete(f"/file/{project_id}/a.md", headers=headers(OTHER)).status_code == 200
    body = {"project_id": project_id, "file_path": "a.md", "content": "x"}
    assert bare.post("/save_file", json=body, headers=headers(OWNER)).status_code == 200
    assert bare.get(f"/files/{project_id}", headers=headers(OTHER)).status_code == 403


@pytest.mark.parametrize("user_id", ["x" * 257, "tab\there"], ids=["too long", "control"])
def test_malformed_user_ids_are_400(bare: httpx.Client, project_id: str, user_id: str) -> None:
    response = bare.get(
        f"/files/{project_id}",
        headers={"X-INTERNAL-TOKEN": TOKEN, "X-User-ID": user_id},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_user_id"
