"""Settings, read once from ``WIKISAGA_*`` environment variables (pydantic-settings).

The variable names are fixed (other tools rely on them); the README lists them all. Each
field ``name`` is read from ``WIKISAGA_<NAME>``; empty values mean the default, and
surrounding spaces are ignored. Secrets (the internal token, the Neo4j password, the LLM
API key) are :class:`~pydantic.SecretStr`, so they never show in a repr, a log line or an
error.

A value that cannot be used raises :class:`~wikisaga.errors.ConfigError` naming the
variable::

    WIKISAGA_GIT_TIMEOUT='soon': must be a positive number of seconds

``Settings(...)`` with keyword arguments reads no environment at all (tests and callers
that know what they want); :meth:`Settings.from_env` is what a process starts from.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from wikisaga.errors import ConfigError

__all__ = ["ENV_PREFIX", "ConfigError", "Settings"]

ENV_PREFIX = "WIKISAGA_"

Seconds = Annotated[float, Field(gt=0)]

_URL_FIELDS = (
    "filesystem_server_url",
    "git_server_url",
    "orchestrator_url",
    "backend_url",
    "chroma_url",
    "llm_base_url",
)
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("settings_environ", default=None)


class _EnvironSource(PydanticBaseSettingsSource):
    """``WIKISAGA_<FIELD>`` values of one environment mapping; empty ones are left out."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self._environ = environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        name = ENV_PREFIX + field_name.upper()
        return self._environ.get(name), name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for field_name, field in self.settings_cls.model_fields.items():
            value, _, _ = self.get_field_value(field, field_name)
            if value is not None and value.strip():
                values[field_name] = value
        return values


class Settings(BaseSettings):
    """Every setting wikisaga reads, with the defaults of DESIGN §7."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid")

    data_dir: Path = Path(".wikisaga")
    internal_token: SecretStr | None = None
    saga_log_url: str = ""
    """Empty means ``sqlite:///<data_dir>/sagas.db``; see :attr:`effective_saga_log_url`."""
    filesystem_server_url: str = "http://127.0.0.1:6001"
    git_server_url: str = "http://127.0.0.1:6003"
    orchestrator_url: str = "http://127.0.0.1:6002"
    backend_url: str = "http://127.0.0.1:6000"
    chroma_url: str = ""
    neo4j_uri: str = ""
    neo4j_user: str = "neo4j"
    neo4j_password: SecretStr = SecretStr("")
    filesystem_timeout: Seconds = 10.0
    git_timeout: Seconds = 15.0
    network_timeout: Seconds = 30.0
    ingest_max_bytes: Annotated[int, Field(gt=0)] = 1_048_576
    """Files larger than this many bytes are skipped by ``wikisaga ingest`` (1 MiB), and
    refused by the backend's document upload."""
    backend_upload_max_bytes: Annotated[int, Field(gt=0)] = 32 * 1024 * 1024
    """The largest request body of the backend's ``POST /projects/{id}/documents`` (32 MiB);
    every other backend route keeps 64 KiB."""
    embedding: Literal["lexical", "semantic"] = "lexical"
    """How documents are embedded: ``semantic`` needs the ``semantic`` extra (WordLlama)."""
    graph_url: str = ""
    """The knowledge graph's URL (``sqlite:///...``, ``neo4j://...``); empty means
    ``WIKISAGA_NEO4J_URI``, else SQLite in the data directory."""
    page_generator: Literal["orchestrator", "local"] = "orchestrator"
    """Who makes the pages of a generation: the orchestrator service (over HTTP), or
    ``local``: the same offline generator inside the backend's process."""
    backend_workers: Annotated[int, Field(gt=0, le=64)] = 2
    """Wiki generations the backend runs at once (its worker threads)."""
    recovery_interval: Seconds = 10.0
    """Seconds between the backend's saga recovery passes."""
    saga_lease_seconds: Seconds = 30.0
    """How long a backend may go silent before another takes over its work: the lease on
    each saga it runs or recovers and on each job it claims (renewed every third of it)."""
    job_poll_interval: Seconds = 2.0
    """Seconds an idle backend worker waits before looking for queued jobs again (a job
    queued on this backend wakes one at once)."""
    dev_mode: bool = False
    """Development mode: a missing internal token is generated instead of refused."""
    log_format: Literal["text", "json"] = "text"
    """``json``: one JSON object per log line (see :mod:`wikisaga.observability.logs`)."""
    llm_base_url: str = ""
    """An OpenAI-compatible endpoint (``.../v1``) the orchestrator asks to rephrase page
    summaries; empty (the default) means no rewriting: pages are extractive only."""
    llm_model: str = ""
    """The model named in each request; required when ``llm_base_url`` is set."""
    llm_api_key: SecretStr | None = None
    """Sent as ``Authorization: Bearer ...`` when set; never logged."""
    llm_timeout: Seconds = 20.0
    """Seconds one page's rewriting may take; past them the page keeps its offline text."""
    llm_budget: Seconds = 300.0
    """Seconds all rewriting of one generation may take; pages not started by then keep
    their offline text."""
    llm_concurrency: Annotated[int, Field(gt=0, le=32)] = 4
    """Pages rewritten at once."""
    dashboard_secret: SecretStr | None = None
    """Signs the dashboard's session cookies; empty means a random one kept in
    ``<data_dir>/dashboard-secret`` (set it when several backends serve one dashboard)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only from_env reads an environment, and only the one it was given: keyword
        # arguments alone never pick up whatever the process happens to have set.
        environ = _ENVIRON.get()
        if environ is None:
            return (init_settings,)
        return (init_settings, _EnvironSource(settings_cls, environ))

    @field_validator("*", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    @field_validator("internal_token", "llm_api_key", mode="before")
    @classmethod
    def _no_empty_token(cls, value: Any) -> Any:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return value or None

    @field_validator("neo4j_user", mode="after")
    @classmethod
    def _default_user(cls, value: str) -> str:
        return value or "neo4j"

    @field_validator(*_URL_FIELDS, mode="after")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from ``environ`` (default: the process environment).

        Raises :class:`~wikisaga.errors.ConfigError` naming the first unusable variable.
        Settings are read only from the ``WIKISAGA_<FIELD>`` variables, so the same values
        give back the same (frozen) settings without validating them again: code that
        builds a ``WikiGenerationSaga`` per publication reads them once per change.
        """
        source = os.environ if environ is None else environ
        return _settings_of(cls, tuple(source.get(name) for name in _env_names(cls)))

    @classmethod
    def _build(cls, values: Mapping[str, Any], environ: Mapping[str, str] | None) -> Settings:
        marker = _ENVIRON.set(environ)
        try:
            return cls(**values)
        except ValidationError as exc:
            raise _config_error(exc, environ) from None
        finally:
            _ENVIRON.reset(marker)

    @property
    def effective_saga_log_url(self) -> str:
        """The saga log URL, defaulting to a SQLite file in the data directory."""
        if self.saga_log_url:
            return self.saga_log_url
        return f"sqlite:///{(self.data_dir / 'sagas.db').as_posix()}"

    @property
    def token(self) -> str | None:
        """The internal token in plain text, for the one place that sends or checks it."""
        return None if self.internal_token is None else self.internal_token.get_secret_value()

    def with_changes(self, **changes: Any) -> Settings:
        """A copy with some settings replaced (for tests and command-line options)."""
        return self._build({**dict(self), **changes}, None)


_SECRET_FIELDS = frozenset({"internal_token", "neo4j_password", "dashboard_secret", "llm_api_key"})


@functools.cache
def _env_names(cls: type[Settings]) -> tuple[str, ...]:
    """The variable each field of ``cls`` is read from, in field order."""
    return tuple(ENV_PREFIX + name.upper() for name in cls.model_fields)


@functools.lru_cache(maxsize=16)
def _settings_of(cls: type[Settings], values: tuple[str | None, ...]) -> Settings:
    """``cls`` read from an environment whose variables (``_env_names``) hold ``values``."""
    environ = {
        name: value
        for name, value in zip(_env_names(cls), values, strict=True)
        if value is not None
    }
    return cls._build({}, environ)


def _config_error(exc: ValidationError, environ: Mapping[str, str] | None) -> ConfigError:
    error = exc.errors()[0]
    field = str(error["loc"][0]) if error["loc"] else "?"
    name = ENV_PREFIX + field.upper()
    reason = error["msg"].removeprefix("Value error, ")
    if field.endswith("_timeout"):
        reason = "must be a positive number of seconds"
    if field in _SECRET_FIELDS:
        return ConfigError(f"{name}: {reason}")
    given = environ.get(name) if environ is not None else None
    shown = given if given is not None else error.get("input")
    return ConfigError(f"{name}={shown!r}: {reason}")
