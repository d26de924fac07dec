"""Helpers of the dashboard's tests: the running dashboard, and a browser-like client."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from wikisaga.launcher import ServiceProcess
from wikisaga.testing.stack import ServiceStack

UPLOAD_LIMIT = 2 * 1024 * 1024
"""The test backend's WIKISAGA_BACKEND_UPLOAD_MAX_BYTES."""

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Dashboard:
    """The running backend with its dashboard, and the keys of its users."""

    stack: ServiceStack
    process: ServiceProcess
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.process.url

    def client(self) -> DashboardClient:
        return DashboardClient(self.url)


class DashboardClient:
    """A browser-like HTTP client: keeps the cookie and the last page's CSRF token."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=60, follow_redirects=False)
        self.csrf = ""

    def get(self, path: str, **kw: Any) -> httpx.Response:
        answer = self.http.get(path, **kw)
        found = _CSRF.search(answer.text)
        if found:
            self.csrf = found.group(1)
        return answer

    def post(self, path: str, data: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        headers = {"Origin": self.url, **kw.pop("headers", {})}
        body = {"csrf": self.csrf, **(data or {})}
        return self.http.post(path, data=body, headers=headers, **kw)

    def sign_in(self, key: str) -> httpx.Response:
        self.get("/ui/signin")
        answer = self.post("/ui/signin", {"key": key, "next": "/"})
        self.get("/")
        return answer

    def new_project(self, project_id: str, docs: dict[str, str]) -> None:
        created = self.post("/ui/projects", {"project_id": project_id})
        assert created.status_code == 303, created.text
        files = [("documents", (name, text.encode())) for name, text in docs.items()]
        uploaded = self.post(f"/ui/p/{project_id}/documents", files=files)
        assert uploaded.status_code == 303, uploaded.text

    def generate(self, project_id: str, *, force: bool = False) -> str:
        """Start a generation; the job page's path."""
        self.get(f"/ui/p/{project_id}")
        answer = self.post(f"/ui/p/{project_id}/generate", {"force": "on"} if force else {})
        assert answer.status_code == 303, answer.text
        return answer.headers["location"]

    def wait(self, job_path: str, timeout: float = 60) -> str:
        """Follow the job's timeline fragment until it ends; its final status."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            fragment = self.get(f"{job_path}/timeline").text
            found = re.search(r'data-status="(\w+)" id="job-status"', fragment)
            assert found is not None, fragment
            if found.group(1) in ("succeeded", "failed"):
                return found.group(1)
            time.sleep(0.2)
        raise AssertionError(f"{job_path} did not finish")

    def close(self) -> None:
        self.http.close()


def sample_docs() -> dict[str, str]:
    """Three small documents with typed relations (so pages have diagrams)."""
    return {
        "chroma.md": "# Chroma\n\nChroma is a vector database. Chroma uses SQLite.\n",
        "neo4j.md": "# Neo4j\n\nNeo4j is a graph database. Neo4j uses Java.\n",
        "git.md": "# Git\n\nGit is a version control system. Git uses SHA-1.\n",
    }
