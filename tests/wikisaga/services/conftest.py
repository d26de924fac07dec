"""Fixtures for service tests: real service processes on loopback, and clients for them."""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from service_support import OWNER, TOKEN, ClientFactory, headers, service_env

from wikisaga.launcher import ServiceProcess


@pytest.fixture(scope="session")
def filesystem_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """One filesystem service shared by the session; tests isolate by project id."""
    base = tmp_path_factory.mktemp("filesystem-shared")
    service = ServiceProcess("filesystem", env=service_env(base / "data"), log_dir=base / "logs")
    with service:
        yield service


@pytest.fixture(scope="session")
def filesystem_data_dir(filesystem_service: ServiceProcess) -> Path:
    """The shared service's storage root (``<data_dir>/filesystem``)."""
    return Path(filesystem_service.env["WIKISAGA_DATA_DIR"]) / "filesystem"


@pytest.fixture
def fresh_filesystem(tmp_path: Path) -> Iterator[ServiceProcess]:
    """A filesystem service of this test's own, for tests that kill or restart it."""
    service = ServiceProcess(
        "filesystem", env=service_env(tmp_path / "data"), log_dir=tmp_path / "logs"
    )
    with service:
        yield service


@pytest.fixture
def project_id() -> str:
    """A project id no other test uses."""
    return f"proj-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def ssl_context() -> ssl.SSLContext:
    """One TLS context for every client: building one per client costs ~50 ms."""
    return ssl.create_default_context()


@pytest.fixture
def make_client(
    filesystem_service: ServiceProcess, ssl_context: ssl.SSLContext
) -> Iterator[ClientFactory]:
    """Make clients of the shared service: ``make_client(user=..., token=...)``."""
    clients: list[httpx.Client] = []

    def make(
        user: str | None = OWNER, token: str | None = TOKEN, service: ServiceProcess | None = None
    ) -> httpx.Client:
        target = service or filesystem_service
        client = httpx.Client(
            base_url=target.url, headers=headers(user, token), timeout=60, verify=ssl_context
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: ClientFactory) -> httpx.Client:
    """A client of the shared service acting as the project owner."""
    return make_client()
