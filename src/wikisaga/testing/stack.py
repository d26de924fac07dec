"""A real filesystem and git service, each behind a fault proxy, for fault tests and chaos.

The saga talks to the services through the proxies; the git service reads the filesystem
service directly (a fault between those two is the git service's own error handling, tested
with the services). Everything listens on loopback.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from pydantic import SecretStr

from wikisaga.auth import get_internal_headers
from wikisaga.clients import FilesystemClient, GitClient
from wikisaga.config import Settings
from wikisaga.launcher import ServiceProcess, free_port
from wikisaga.services.filesystem._faults import FAULT_ENV
from wikisaga.testing.proxy import FaultProxy

__all__ = ["ServiceStack"]


@dataclass
class ServiceStack:
    """Start with :meth:`start` (or ``with``); every part is reachable as an attribute."""

    root: Path
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    filesystem: ServiceProcess = field(init=False)
    git: ServiceProcess = field(init=False)
    filesystem_proxy: FaultProxy = field(init=False)
    git_proxy: FaultProxy = field(init=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.data_dir = self.root / "data"
        fs_port = free_port()
        env = {
            "WIKISAGA_INTERNAL_TOKEN": self.token,
            "WIKISAGA_DATA_DIR": str(self.data_dir),
            "WIKISAGA_FILESYSTEM_SERVER_URL": f"http://127.0.0.1:{fs_port}",
        }
        self.env = env
        self._timers: list[threading.Timer] = []
        self.filesystem = ServiceProcess("filesystem", port=fs_port, env=env, log_dir=self.root)
        self.git = ServiceProcess("git", env=env, log_dir=self.root)

    def start(self) -> Self:
        """Start both services and both proxies."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.filesystem.start()
        self.git.start()
        self.filesystem_proxy = FaultProxy(self.filesystem.url).start()
        self.git_proxy = FaultProxy(self.git.url).start()
        return self

    def stop(self) -> None:
        """Stop everything that was started."""
        for timer in self._timers:
            timer.cancel()
        for proxy in (getattr(self, "filesystem_proxy", None), getattr(self, "git_proxy", None)):
            if proxy is not None:
                proxy.stop()
        self.git.stop()
        self.filesystem.stop()

    def later(self, seconds: float, action: Callable[[], None]) -> None:
        """Run ``action`` after ``seconds`` unless the faults are cleared first."""
        timer = threading.Timer(seconds, action)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def set_filesystem_fault(self, spec: str | None) -> None:
        """Restart the filesystem service with its in-process fault hook set to ``spec``
        (``kill_at_file:N`` or ``fail_at_file:N``), or without one for ``None``."""
        if spec is None:
            self.filesystem.env.pop(FAULT_ENV, None)
        else:
            self.filesystem.env[FAULT_ENV] = spec
        self.filesystem.restart()

    def clear_faults(self) -> None:
        """Cancel pending fault actions, remove every proxy rule, bring both proxies up,
        and bring the filesystem service back without a fault hook if it had one or died."""
        while self._timers:
            timer = self._timers.pop()
            timer.cancel()
            timer.join()
        if FAULT_ENV in self.filesystem.env or not self.filesystem.alive:
            self.set_filesystem_fault(None)
        for proxy in (self.filesystem_proxy, self.git_proxy):
            proxy.clear()
            proxy.set_down(False)

    @property
    def headers(self) -> dict[str, str]:
        """The internal headers every client of this stack sends."""
        return get_internal_headers(settings=Settings(internal_token=SecretStr(self.token)))

    def direct_filesystem(self) -> FilesystemClient:
        """A client that bypasses the proxy (for checks)."""
        return FilesystemClient(self.filesystem.url, headers=self.headers, timeout=30)

    def direct_git(self) -> GitClient:
        """A client that bypasses the proxy (for checks)."""
        return GitClient(self.git.url, headers=self.headers, timeout=30)

    def repository(self, project_id: str) -> Path:
        """The project's bare git repository."""
        return self.data_dir / "git" / f"{project_id}.git"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
