"""Property-based API tests of the git service, generated from its own /openapi.json."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from git_fixtures import OWNER, TOKEN, GitStack, start_stack
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

OPERATIONS = [
    "GET /health",
    "GET /metrics",
    "POST /snapshot/{project_id}",
    "GET /snapshot/{project_id}/{snapshot_id}",
    "DELETE /snapshot/{project_id}/{snapshot_id}",
    "GET /snapshots/{project_id}",
    "GET /git/{project_id}.git/info/refs",
    "POST /git/{project_id}.git/git-upload-pack",
    "POST /git/{project_id}.git/git-receive-pack",
]


# Upload-pack bodies are raw bytes, sent as they are.
schemathesis.serializer.alias("application/x-git-upload-pack-request", "application/octet-stream")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitStack]:
    with start_stack(tmp_path_factory.mktemp("git-schemathesis")) as running:
        running.save_files("seeded", {"a.md": "a"})
        assert running.snapshot("seeded", snapshot_id="seed").status_code == 201
        yield running


@pytest.fixture(scope="module")
def operations(stack: GitStack) -> dict[str, schemathesis.APIOperation]:
    schema = schemathesis.openapi.from_url(f"{stack.url}/openapi.json")
    return {op.label: op for op in (r.ok() for r in schema.get_all_operations())}


def test_every_operation_is_covered(operations: dict[str, schemathesis.APIOperation]) -> None:
    """The schema's operations are exactly the ones fuzzed below (a new route must be added)."""
    assert sorted(operations) == sorted(OPERATIONS)


@pytest.mark.parametrize("label", OPERATIONS)
def test_generated_requests_never_get_a_server_error(
    stack: GitStack, operations: dict[str, schemathesis.APIOperation], label: str
) -> None:
    """With the right token and the owner as user, generated requests answer without a 5xx, with a
    documented status, content type and body shape."""

    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=operations[label].as_strategy())
    def check(case: schemathesis.Case) -> None:
        headers = dict(case.headers or {})
        headers["X-INTERNAL-TOKEN"] = TOKEN
        # POST /snapshot names its user in the body (as the guide's client does).
        if not isinstance(case.body, dict):
            headers["X-User-ID"] = OWNER
        case.headers = headers
        case.call_and_validate(base_url=stack.url, checks=CHECKS, timeout=30)

    check()
