"""A real filesystem service and a real git service on loopback, for the git tests.

Test modules start one :class:`GitStack` per module with :func:`start_stack` and give
every test its own project id, so tests do not see each other's repositories.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from wikisaga.launcher import ServiceProcess

TOKEN = "git-tests-internal-token"
OWNER = "alice"
OTHER = "bob"
ISO_SECONDS = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"


def git_env() -> dict[str, str]:
    """An environment for the git CLI that ignores the machine's git configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_TERMINAL_PROMPT="0")
    return env


def run_git(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run git with the isolated environment; the completed process, whatever its status."""
    return subprocess.run(
        ["git", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=git_env(),
        timeout=60,
        check=False,
    )


def git(*args: str | Path, cwd: Path | None = None, check: bool = True) -> str:
    """Run git and return its stdout; raise with stderr when ``check`` and it fails."""
    result = run_git(*args, cwd=cwd)
    if check and result.returncode != 0:
        raise AssertionError(f"git {' '.join(map(str, args))} failed:\n{result.stderr}")
    return result.stdout


def bare(repo: Path, *args: str) -> str:
    """Run git against a bare repository; stdout, stripped."""
    return git(f"--git-dir={repo}", *args).strip()


def tree_files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` except ``.git``, by ``/``-separated relative path."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }


def new_project() -> str:
    """A project id no other test uses."""
    return f"proj-{uuid.uuid4().hex[:12]}"


@dataclass
class GitStack:
    """The two services and what a test needs to talk to them."""

    fs: ServiceProcess
    git: ServiceProcess
    data_dir: Path
    work_dir: Path

    @property
    def url(self) -> str:
        return self.git.url

    def headers(self, user: str | None = OWNER, token: str | None = TOKEN) -> dict[str, str]:
        headers = {}
        if token is not None:
            headers["X-INTERNAL-TOKEN"] = token
        if user is not None:
            headers["X-User-ID"] = user
        return headers

    def repo(self, project_id: str) -> Path:
        """The project's bare repository on disk."""
        return self.data_dir / "git" / f"{project_id}.git"

    def save_files(self, project_id: str, files: Mapping[str, str], user: str = OWNER) -> None:
        """Write ``files`` through the filesystem service's ``POST /batch``."""
        response = httpx.post(
            f"{self.fs.url}/batch",
            json={
                "project_id": project_id,
                "save": [{"file_path": p, "content": c} for p, c in files.items()],
            },
            headers=self.headers(user),
            timeout=30,
        )
        assert response.status_code == 200, response.text

    def delete_file(self, project_id: str, path: str, user: str = OWNER) -> None:
        """Delete one file through the guide's ``DELETE /file``."""
        response = httpx.delete(
            f"{self.fs.url}/file/{project_id}/{path}", headers=self.headers(user), timeout=30
        )
        assert response.status_code == 200, response.text

    def snapshot(
        self,
        project_id: str,
        message: str = "Auto-generated wiki with 45 files and 128 relationships.",
        snapshot_id: str | None = None,
        user: str = OWNER,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """``POST /snapshot/{project_id}`` with the guide's body."""
        body: dict[str, Any] = {"user_id": user, "message": message}
        if snapshot_id is not None:
            body["snapshot_id"] = snapshot_id
        return httpx.post(
            f"{self.url}/snapshot/{project_id}",
            json=body,
            headers=dict(headers) if headers is not None else self.headers(user),
            timeout=60,
        )

    def delete(self, project_id: str, snapshot_id: str, user: str = OWNER) -> httpx.Response:
        """The guide's ``DELETE /snapshot/{project_id}/{snapshot_id}``."""
        return httpx.delete(
            f"{self.url}/snapshot/{project_id}/{snapshot_id}",
            headers=self.headers(user),
            timeout=60,
        )

    def get(self, path: str, user: str | None = OWNER) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", headers=self.headers(user), timeout=60)

    def clone(
        self,
        project_id: str,
        name: str | None = None,
        user: str = OWNER,
        token: str = TOKEN,
        protocol: str = "2",
        check: bool = True,
    ) -> Path:
        """``git clone`` the project over HTTP into a new directory; return it."""
        dest = self.work_dir / (name or f"clone-{uuid.uuid4().hex[:8]}")
        git(
            "-c",
            f"protocol.version={protocol}",
            "-c",
            f"http.extraHeader=X-INTERNAL-TOKEN: {token}",
            "-c",
            f"http.extraHeader=X-User-ID: {user}",
            "clone",
            "--quiet",
            f"{self.url}/git/{project_id}.git",
            dest,
            check=check,
        )
        return dest


@contextmanager
def start_stack(base: Path, **git_env_overrides: str) -> Iterator[GitStack]:
    """Start a filesystem and a git service sharing a fresh data dir under ``base``."""
    data_dir = base / "data"
    work_dir = base / "work"
    work_dir.mkdir(parents=True)
    env = {"WIKISAGA_INTERNAL_TOKEN": TOKEN, "WIKISAGA_DATA_DIR": str(data_dir)}
    with ServiceProcess("filesystem", env=env, log_dir=base / "logs") as fs:
        git_service_env = {**env, "WIKISAGA_FILESYSTEM_SERVER_URL": fs.url, **git_env_overrides}
        with ServiceProcess("git", env=git_service_env, log_dir=base / "logs") as git_service:
            yield GitStack(fs=fs, git=git_service, data_dir=data_dir, work_dir=work_dir)


def wiki_files(count: int = 45, generation: str = "1") -> dict[str, str]:
    """A generated wiki: ``count`` pages in folders, one with non-ASCII path and content."""
    files = {
        f"wiki/section-{i % 5}/page-{i:02d}.md": f"# Page {i}\n\nGeneration {generation}.\n"
        for i in range(count - 1)
    }
    files["wiki/Zürich café.md"] = f"# Zürich\n\nCafé ☕ — generation {generation}\r\n"
    return files
