"""The ``wikisaga`` command.

Each subcommand is a ``_register_<name>(subparsers)`` function that adds its parser and
sets ``handler`` to a function taking the parsed arguments and returning an exit code;
:data:`COMMANDS` lists the registrations. A :class:`~wikisaga.config.ConfigError` from
any handler becomes a one-line error and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from distributed_saga import SagaError
from wikisaga.clients import ServiceCallError
from wikisaga.config import ConfigError, Settings
from wikisaga.services import DEFAULT_PORTS, SERVICE_NAMES

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["COMMANDS", "build_parser", "main"]

Handler = Callable[[argparse.Namespace], int]


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


def _serve_settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    if args.dev:
        settings = settings.with_changes(dev_mode=True)
    if settings.dev_mode and not settings.internal_token:
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


def _serve(args: argparse.Namespace) -> int:
    import uvicorn  # noqa: PLC0415 - only `serve` needs the server

    settings = _serve_settings(args)
    app = _load_service_app(args.service, settings)
    port = args.port if args.port is not None else DEFAULT_PORTS[args.service]
    uvicorn.run(
        app,
        host=args.host,
        port=port,
        log_level=args.log_level,
        timeout_graceful_shutdown=5,
    )
    return 0


def _register_serve(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run one service",
        description="Run one service with uvicorn (default ports: "
        + ", ".join(f"{name} {port}" for name, port in DEFAULT_PORTS.items())
        + ").",
    )
    parser.add_argument("service", choices=SERVICE_NAMES)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=None, help="port (default: per service)")
    parser.add_argument(
        "--dev",
        action="store_true",
        help="development mode: generate a random internal token if none is set",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
    )
    parser.set_defaults(handler=_serve)


def _demo(args: argparse.Namespace) -> int:
    from wikisaga.cli import demo  # noqa: PLC0415 - each command imports only what it needs

    return demo.main([])


def _register_demo(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="watch a publishing saga get killed half-way and recovery undo it",
        description="Publish a new generation of a small wiki in a child process that is "
        "killed with SIGKILL half-way; show recovery restoring the previous wiki byte for "
        "byte; then publish for real. Uses WIKISAGA_DATA_DIR (default ./.wikisaga).",
    )
    parser.set_defaults(handler=_demo)


def _register_admin(subparsers: Any) -> None:
    from wikisaga.cli.sagas import register_recover, register_sagas  # noqa: PLC0415

    register_sagas(subparsers)
    register_recover(subparsers)


def _register_chaos(subparsers: Any) -> None:
    from wikisaga.testing.chaos import register_chaos  # noqa: PLC0415

    register_chaos(subparsers)


COMMANDS: list[Callable[[Any], None]] = [
    _register_serve,
    _register_demo,
    _register_admin,
    _register_chaos,
]
"""Registration functions, one per subcommand, called in order by :func:`build_parser`."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="wikisaga",
        description="Publish a project's wiki, graph and git history all or nothing.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in COMMANDS:
        register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except ConfigError as e:
        print(f"wikisaga: error: {e}", file=sys.stderr)
        return 2
    except (SagaError, ServiceCallError) as e:
        # What went wrong is the message; a traceback would only bury it.
        print(f"wikisaga: error: {e}", file=sys.stderr)
        return 1
