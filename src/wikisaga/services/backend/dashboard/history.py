"""A project's snapshot history and the diff between two snapshots.

The git service lists snapshots (``GET /snapshots/{project}``) but serves file contents
only as a clone. The dashboard keeps a mirror of each project's repository in
``<data_dir>/dashboard/mirrors/``, fetched over the git service's smart HTTP (the token
and the user travel as ``http.extraHeader`` values in git's environment, never on a
command line), and asks git itself for the diff between the two snapshots' tags.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from urllib.parse import quote

from wikisaga.auth import get_internal_headers
from wikisaga.config import Settings
from wikisaga.errors import ServiceCallError
from wikisaga.ids import validate_project_id, validate_snapshot_id

__all__ = ["SnapshotDiffer"]

_TIMEOUT = 60


class SnapshotDiffer:
    """Diffs between snapshots, from a mirror fetched before each diff."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = Path(settings.data_dir) / "dashboard" / "mirrors"
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, project_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(project_id, threading.Lock())

    def _env(self, user_id: str) -> dict[str, str]:
        headers = get_internal_headers(user_id, settings=self.settings)
        env = {
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "HOME": str(self.root),
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "GIT_CONFIG_COUNT": str(len(headers)),
        }
        for index, (name, value) in enumerate(sorted(headers.items())):
            env[f"GIT_CONFIG_KEY_{index}"] = "http.extraHeader"
            env[f"GIT_CONFIG_VALUE_{index}"] = f"{name}: {value}"
        return env

    def _git(self, args: list[str], env: dict[str, str], url: str = "") -> str:
        try:
            done = subprocess.run(
                ["git", *args],
                env=env,
                capture_output=True,
                timeout=_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ServiceCallError(
                "git", args[2] if len(args) > 2 else "git", url, "timed out"
            ) from exc
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip().splitlines()
            reason = message[-1] if message else f"exit status {done.returncode}"
            raise ServiceCallError("git", args[2] if len(args) > 2 else "git", url, reason)
        return done.stdout.decode("utf-8", "replace")

    def diff(self, project_id: str, user_id: str, old: str, new: str) -> str:
        """``git diff`` from snapshot ``old`` to ``new`` (ids checked first)."""
        project_id = validate_project_id(project_id)
        old, new = validate_snapshot_id(old), validate_snapshot_id(new)
        env = self._env(user_id)
        mirror = self.root / f"{project_id}.git"
        url = f"{self.settings.git_server_url}/git/{quote(project_id, safe='')}.git"
        with self._lock(project_id):
            self.root.mkdir(parents=True, exist_ok=True)
            if not (mirror / "HEAD").exists():
                self._git(["init", "--quiet", "--bare", str(mirror)], env)
            self._git(
                [
                    "--git-dir",
                    str(mirror),
                    "fetch",
                    "--quiet",
                    "--prune",
                    "--prune-tags",
                    "--force",
                    url,
                    "+refs/tags/*:refs/tags/*",
                ],
                env,
                url,
            )
            return self._git(
                [
                    "--git-dir",
                    str(mirror),
                    "diff",
                    "--no-color",
                    "--no-prefix",
                    "--no-ext-diff",
                    "--find-renames",
                    f"refs/tags/{old}",
                    f"refs/tags/{new}",
                    "--",
                ],
                env,
            )
