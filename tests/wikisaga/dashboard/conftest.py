"""One real stack for the dashboard's tests: filesystem and git services behind fault
proxies, and a backend process serving the dashboard, with two users."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dashboard_support import UPLOAD_LIMIT, Dashboard, DashboardClient

from wikisaga.launcher import ServiceProcess
from wikisaga.testing.stack import ServiceStack
from wikisaga.users import UserStore


@pytest.fixture(scope="package")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    root = tmp_path_factory.mktemp("dashboard")
    with ServiceStack(root) as stack:
        users = UserStore.in_data_dir(stack.data_dir)
        keys = {name: users.add(name) for name in ("alice", "bob")}
        env = {
            **stack.env,
            "WIKISAGA_FILESYSTEM_SERVER_URL": stack.filesystem_proxy.url,
            "WIKISAGA_GIT_SERVER_URL": stack.git_proxy.url,
            "WIKISAGA_PAGE_GENERATOR": "local",
            "WIKISAGA_FILESYSTEM_TIMEOUT": "5",
            "WIKISAGA_GIT_TIMEOUT": "5",
            "WIKISAGA_BACKEND_UPLOAD_MAX_BYTES": str(UPLOAD_LIMIT),
        }
        with ServiceProcess("backend", env=env, log_dir=root, startup_timeout=90) as process:
            yield Dashboard(stack, process, keys)


@pytest.fixture(autouse=True)
def _no_faults_left(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "dashboard" in request.fixturenames:
        request.getfixturevalue("dashboard").stack.clear_faults()


@pytest.fixture
def alice(dashboard: Dashboard) -> Iterator[DashboardClient]:
    client = dashboard.client()
    client.sign_in(dashboard.keys["alice"])
    yield client
    client.close()


@pytest.fixture
def bob(dashboard: Dashboard) -> Iterator[DashboardClient]:
    client = dashboard.client()
    client.sign_in(dashboard.keys["bob"])
    yield client
    client.close()
