"""``wikisaga users add|list|remove``: the dashboard's users and their API keys.

``add`` prints the user's new key once, on standard output alone (so it can be piped);
only its salted hash is stored (``<data_dir>/users.db``). There is one key per user: to
give a new one, remove the user and add it again (its sessions end with the old key).
"""

from __future__ import annotations

import datetime
import json
from typing import Annotated

import typer

from wikisaga.config import Settings
from wikisaga.users import UserStore

__all__ = ["register"]

users_app = typer.Typer(
    name="users",
    help="The dashboard's users and their API keys (stored hashed).",
    no_args_is_help=True,
)


def _store() -> UserStore:
    return UserStore.in_data_dir(Settings.from_env().data_dir)


@users_app.command("add")
def add_command(user: Annotated[str, typer.Argument(help="the new user's id")]) -> int:
    """Add USER and print its API key, once: it is not stored, only its hash is."""
    key = _store().add(user)
    typer.echo(key)
    typer.echo(f"user {user!r} added; the key above is shown only now", err=True)
    return 0


@users_app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of lines")] = False,
) -> int:
    """List the users (never their keys)."""
    users = _store().list_users()
    if as_json:
        rows = [
            {"user_id": u.user_id, "key_id": u.key_id, "created_at": u.created_at} for u in users
        ]
        typer.echo(json.dumps(rows))
        return 0
    for user in users:
        created = datetime.datetime.fromtimestamp(user.created_at, datetime.UTC)
        typer.echo(f"{user.user_id}\tkey {user.key_id}\tadded {created:%Y-%m-%d %H:%M}Z")
    return 0


@users_app.command("remove")
def remove_command(user: Annotated[str, typer.Argument(help="the user to remove")]) -> int:
    """Remove USER and its key; its dashboard sessions end."""
    _store().remove(user)
    typer.echo(f"user {user!r} removed", err=True)
    return 0


def register(app: typer.Typer) -> None:
    """Add ``users`` to the command line."""
    app.add_typer(users_app)
