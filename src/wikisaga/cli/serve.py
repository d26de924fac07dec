"""``wikisaga serve NAME``: run one service with uvicorn."""

from __future__ import annotations

import importlib
import logging
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from wikisaga.config import Settings
from wikisaga.errors import ConfigError
from wikisaga.services import DEFAULT_PORTS, SERVICE_NAMES

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["register"]

ServiceName = StrEnum("ServiceName", {name: name for name in SERVICE_NAMES})  # type: ignore[misc]


class LogLevel(StrEnum):
    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    DEBUG = "debug"


def _load_service_app(name: str, settings: Settings) -> FastAPI:
    module_name = f"wikisaga.services.{name}.main"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name is not None and module_name.startswith(e.name):
            raise ConfigError(f"the {name} service is not part of this installation") from e
        raise
    app: FastAPI = module.create_app(settings)
    return app


def serve_settings(dev: bool) -> Settings:
    """The settings a service starts with; in development mode a missing token is
    generated and printed, so the other services can be given the same one."""
    settings = Settings.from_env()
    if dev:
        settings = settings.with_changes(dev_mode=True)
    if settings.dev_mode and not settings.token:
        # Imported here: the service stack (FastAPI) is only needed by `serve`.
        from wikisaga.services._common import dev_token  # noqa: PLC0415

        token = dev_token()
        settings = settings.with_changes(internal_token=token)
        print(
            "wikisaga: development mode, generated an internal token; "
            "give the other services the same one:",
            file=sys.stderr,
        )
        print(f"export WIKISAGA_INTERNAL_TOKEN={token}", file=sys.stderr, flush=True)
    return settings


def serve(
    service: Annotated[ServiceName, typer.Argument(help="the service to run")],
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[
        int | None, typer.Option(help="port (default: the service's own)", min=1, max=65535)
    ] = None,
    dev: Annotated[
        bool, typer.Option("--dev", help="development mode: generate an internal token if unset")
    ] = False,
    log_level: Annotated[LogLevel, typer.Option(help="uvicorn's log level")] = LogLevel.INFO,
) -> int:
    """Run one service (default ports: backend 6000, filesystem 6001, orchestrator 6002,
    git 6003)."""
    import uvicorn  # noqa: PLC0415 - only `serve` needs the server

    from wikisaga.observability import configure_logging  # noqa: PLC0415

    name = str(service.value)
    settings = serve_settings(dev)
    # One handler for every logger, uvicorn's included, in WIKISAGA_LOG_FORMAT.
    configure_logging(settings, level=logging.getLevelName(log_level.value.upper()))
    app = _load_service_app(name, settings)
    uvicorn.run(
        app,
        host=host,
        port=port if port is not None else DEFAULT_PORTS[name],
        log_level=log_level.value,
        log_config=None,
        timeout_graceful_shutdown=5,
    )
    return 0


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the command line."""
    app.command()(serve)
