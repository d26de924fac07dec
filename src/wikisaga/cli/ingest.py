"""``wikisaga ingest``: put a project's documents (files and folders) into the document store.

The store is the one the settings name: a Chroma server at ``WIKISAGA_CHROMA_URL``, else
the embedded store in ``<data_dir>/chroma``. Files over ``WIKISAGA_INGEST_MAX_BYTES`` are
skipped. On a terminal a progress bar runs on standard error; the summary (added, updated,
unchanged, removed, skipped with the reason) goes to standard output, or as one JSON
object with ``--json``. Exit status 0 when the ingest ran (whatever it skipped); an error
(a bad project id, a missing path, Chroma down, another user's project) is one line and a
non-zero status.

With the internal token set (``WIKISAGA_INTERNAL_TOKEN``: the services are there to ask),
the ingest first claims the project in the filesystem service's registry at
``WIKISAGA_FILESYSTEM_SERVER_URL`` (:mod:`wikisaga.content.ownership`): another user's
project is refused and nothing is stored, and an unreachable service is an error, not a
skipped check. Without the token there is no service to ask, and only the stored
documents' owners are checked; a generation still refuses the project if the registry
names another user.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from wikisaga.config import Settings
from wikisaga.ids import validate_project_id, validate_user_id

if TYPE_CHECKING:
    from wikisaga.content.ingest import IngestReport, Progress

__all__ = ["ingest_command", "register"]


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[Progress | None]:
    """A rich progress bar on standard error, or nothing (not a terminal, or ``--json``)."""
    if not enabled:
        yield None
        return
    from rich.console import Console  # noqa: PLC0415 - only on a terminal
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.progress import Progress as Bar  # noqa: PLC0415

    with Bar(
        TextColumn("ingesting"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("", total=None)

        def advance(done: int, total: int, source_path: str) -> None:
            bar.update(task, completed=done, total=total, description=source_path[-60:])

        yield advance


def _print_summary(report: IngestReport) -> None:
    counts = report.as_json()["counts"]
    print(
        f"{report.project_id}: {counts['added']} added, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged, {counts['removed']} removed, "
        f"{counts['skipped']} skipped"
    )
    for label, paths in (
        ("added", report.added),
        ("updated", report.updated),
        ("removed", report.removed),
    ):
        for path in paths:
            print(f"  {label:<8} {path}")
    for skipped in report.skipped:
        print(f"  skipped  {skipped.path}: {skipped.reason}")
    if report.repaired:
        print(f"  repaired {report.repaired} record(s) left by an interrupted ingest")


def ingest_command(
    paths: Annotated[list[Path], typer.Argument(help="files and folders to ingest")],
    project: Annotated[str, typer.Option("--project", help="the project the documents go to")],
    user: Annotated[str, typer.Option("--user", help="the user ingesting them")],
    prune: Annotated[
        bool, typer.Option("--prune", help="remove the project's documents not found in PATHS")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> int:
    """Parse Markdown, reStructuredText, HTML and text files into the document store."""
    project_id = validate_project_id(project)
    user_id = validate_user_id(user)
    settings = Settings.from_env()
    # Parsers and Chroma are imported only here: other commands start without them.
    from wikisaga.auth import get_internal_headers  # noqa: PLC0415
    from wikisaga.clients import FilesystemClient  # noqa: PLC0415
    from wikisaga.content.documents import document_store_for  # noqa: PLC0415
    from wikisaga.content.ingest import ingest  # noqa: PLC0415

    show_bar = not json_output and sys.stderr.isatty()
    with ExitStack() as stack:
        registry = None
        if settings.token:
            registry = stack.enter_context(
                FilesystemClient(
                    settings.filesystem_server_url,
                    headers=get_internal_headers(settings=settings),
                    timeout=settings.filesystem_timeout,
                )
            )
        store = stack.enter_context(document_store_for(settings))
        progress = stack.enter_context(_progress_bar(show_bar))
        report = ingest(
            store,
            project_id=project_id,
            user_id=user_id,
            paths=paths,
            prune=prune,
            max_bytes=settings.ingest_max_bytes,
            progress=progress,
            registry=registry,
        )
    if json_output:
        print(json.dumps(report.as_json(), indent=2, ensure_ascii=False))
    else:
        _print_summary(report)
    return 0


def register(app: typer.Typer) -> None:
    """Add ``ingest`` to the command line."""
    app.command("ingest")(ingest_command)
