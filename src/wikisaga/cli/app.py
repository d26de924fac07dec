"""The ``wikisaga`` command: one Typer app, one module per command group.

Each group module has ``register(app)``, which adds its commands; a command returns its
exit status. Every error of the application is a :class:`~wikisaga.errors.WikisagaError`:
:func:`main` prints it as one line (``wikisaga: error: ...``), without a traceback, and
exits 2 for a setting that cannot be used, 1 for anything else. Usage errors exit 2.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

import typer

from wikisaga.cli import (
    chaos,
    demo,
    doctor,
    generate,
    graph,
    ingest,
    relations,
    sagas,
    serve,
    up,
    users,
)
from wikisaga.errors import ConfigError, WikisagaError

__all__ = ["GROUPS", "app", "build_app", "main"]

GROUPS: tuple[Callable[[typer.Typer], None], ...] = (
    serve.register,
    demo.register,
    ingest.register,
    sagas.register,
    graph.register,
    chaos.register,
    relations.register,
    up.register,
    generate.register,
    doctor.register,
    users.register,
)
"""Registration functions, one per command group, called in order by :func:`build_app`."""


def build_app() -> typer.Typer:
    """The Typer app with every command group registered."""
    application = typer.Typer(
        name="wikisaga",
        help="Publish a project's wiki, graph and git history all or nothing.",
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
        rich_markup_mode="markdown",
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    for register in GROUPS:
        register(application)
    return application


app = build_app()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    command = typer.main.get_command(app)
    try:
        result = command.main(
            args=list(argv) if argv is not None else None,
            prog_name="wikisaga",
            standalone_mode=False,
        )
    except typer.Exit as stop:
        return int(stop.exit_code)
    except typer.TyperException as usage:  # a usage error: what is wrong, and how to ask
        show = getattr(usage, "show", None)
        if callable(show):
            show()
        else:
            print(f"wikisaga: error: {usage.format_message()}", file=sys.stderr)
        return usage.exit_code
    except typer.Abort:
        print("wikisaga: aborted", file=sys.stderr)
        return 130
    except ConfigError as error:
        print(f"wikisaga: error: {error}", file=sys.stderr)
        return 2
    except WikisagaError as error:
        # What went wrong is the message; a traceback would only bury it.
        print(f"wikisaga: error: {error}", file=sys.stderr)
        return 1
    return result if isinstance(result, int) else 0
