"""Settings, read once from ``WIKISAGA_*`` environment variables.

The variable names are fixed (other tools rely on them); the README lists them all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = ["ConfigError", "Settings"]


class ConfigError(ValueError):
    """A setting has a value that cannot be used."""


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number of seconds") from None
    if not value > 0:
        raise ConfigError(f"{name}={raw!r} must be a positive number of seconds")
    return value


def _url(environ: Mapping[str, str], name: str, default: str) -> str:
    value = environ.get(name, "").strip() or default
    if value and not value.startswith(("http://", "https://")):
        raise ConfigError(f"{name}={value!r} must be an http:// or https:// URL")
    return value.rstrip("/")


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting wikisaga reads, with the defaults of DESIGN §7."""

    data_dir: Path = Path(".wikisaga")
    internal_token: str | None = None
    saga_log_url: str = ""
    """Empty means ``sqlite:///<data_dir>/sagas.db``; see :attr:`effective_saga_log_url`."""
    filesystem_server_url: str = "http://127.0.0.1:6001"
    git_server_url: str = "http://127.0.0.1:6003"
    orchestrator_url: str = "http://127.0.0.1:6002"
    backend_url: str = "http://127.0.0.1:6000"
    chroma_url: str = ""
    neo4j_uri: str = ""
    neo4j_user: str = "neo4j"
    neo4j_password: str = field(default="", repr=False)
    filesystem_timeout: float = 10.0
    git_timeout: float = 15.0
    network_timeout: float = 30.0
    dev_mode: bool = False
    """Development mode: a missing internal token is generated instead of refused."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from ``environ`` (default: the process environment)."""
        env = os.environ if environ is None else environ
        token = env.get("WIKISAGA_INTERNAL_TOKEN", "").strip() or None
        return cls(
            data_dir=Path(env.get("WIKISAGA_DATA_DIR", "").strip() or ".wikisaga"),
            internal_token=token,
            saga_log_url=env.get("WIKISAGA_SAGA_LOG_URL", "").strip(),
            filesystem_server_url=_url(
                env, "WIKISAGA_FILESYSTEM_SERVER_URL", "http://127.0.0.1:6001"
            ),
            git_server_url=_url(env, "WIKISAGA_GIT_SERVER_URL", "http://127.0.0.1:6003"),
            orchestrator_url=_url(env, "WIKISAGA_ORCHESTRATOR_URL", "http://127.0.0.1:6002"),
            backend_url=_url(env, "WIKISAGA_BACKEND_URL", "http://127.0.0.1:6000"),
            chroma_url=_url(env, "WIKISAGA_CHROMA_URL", ""),
            neo4j_uri=env.get("WIKISAGA_NEO4J_URI", "").strip(),
            neo4j_user=env.get("WIKISAGA_NEO4J_USER", "").strip() or "neo4j",
            neo4j_password=env.get("WIKISAGA_NEO4J_PASSWORD", ""),
            filesystem_timeout=_seconds(env, "WIKISAGA_FILESYSTEM_TIMEOUT", 10.0),
            git_timeout=_seconds(env, "WIKISAGA_GIT_TIMEOUT", 15.0),
            network_timeout=_seconds(env, "WIKISAGA_NETWORK_TIMEOUT", 30.0),
            dev_mode=env.get("WIKISAGA_DEV_MODE", "").strip().lower() in ("1", "true", "yes"),
        )

    @property
    def effective_saga_log_url(self) -> str:
        """The saga log URL, defaulting to a SQLite file in the data directory."""
        if self.saga_log_url:
            return self.saga_log_url
        return f"sqlite:///{(self.data_dir / 'sagas.db').as_posix()}"

    def with_changes(self, **changes: object) -> Settings:
        """A copy with some settings replaced (for tests and command-line options)."""
        return replace(self, **changes)  # type: ignore[arg-type]
