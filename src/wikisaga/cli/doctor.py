"""``wikisaga doctor``: check every configured service and store, say what is wrong and how
to fix it.

The checks, in order, each one line ``ok`` / ``warn`` / ``FAIL`` with a ``fix:`` line
under a problem:

- each service (filesystem, git, orchestrator, backend, at their ``WIKISAGA_*_URL``):
  ``/health`` answers as that service within ``--timeout``; ``/metrics``, which needs
  ``X-INTERNAL-TOKEN``, accepts the settings' token; the version in its ``/openapi.json``
  is this command's (a mismatch is a warning);
- the saga log (``WIKISAGA_SAGA_LOG_URL``): it exists and its schema version is the one
  this code writes (older needs the upgrade that opening it does; newer needs newer code);
- sagas needing intervention, counted in the log: ``failed`` ones, and in-flight ones whose
  lease expired more than two recovery intervals ago;
- the jobs store (in the saga log's database);
- the document store: the Chroma server at ``WIKISAGA_CHROMA_URL`` answers its heartbeat,
  or the embedded store's directory in the data dir;
- the graph: Neo4j reachable and accepting the credentials, or the SQLite graph's schema;
- the data directory exists and its disk has more than ``--min-free`` free.

Nothing is written: files are opened read-only, a missing data directory or log is
reported, not created, and the saga log is opened through the engine only once its schema
is known to be current (opening an older one would upgrade it). Exit status 0 when nothing
failed (warnings allowed), 1 when a check failed, 2 for a usage or setting error.
``--json`` prints ``{"ok": ..., "next_step": ..., "checks": [{"check", "status",
"message", "fix"}]}``.

When the failures come down to one cause, a last ``next:`` line (``next_step``) says what
to do first: with no service running (a new user with nothing configured), start them
with ``wikisaga up``; with services but no token, export the one it printed.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote, unquote, urlsplit

import httpx
import typer

import wikisaga
from distributed_saga import SagaError, SagaState, open_saga_log
from distributed_saga.log import SCHEMA_VERSION, read_schema_version
from wikisaga.auth import INTERNAL_TOKEN_HEADER
from wikisaga.config import ENV_PREFIX, Settings
from wikisaga.graph import NEO4J_SCHEMES, default_graph_url

__all__ = ["Finding", "doctor_command", "next_step", "parse_size", "register", "run_checks"]

Status = Literal["ok", "warn", "fail"]

_SERVICES = ("filesystem_server_url", "git_server_url", "orchestrator_url", "backend_url")
"""The settings naming each service's URL: the service is the first word."""
_HOW_TO_AUTHENTICATE = (
    "set WIKISAGA_INTERNAL_TOKEN to the services' token (`wikisaga up` prints it)"
)
_SAME_DIRS = (
    "set WIKISAGA_DATA_DIR (and WIKISAGA_SAGA_LOG_URL) to the services' values, or start "
    "them with `wikisaga up`, which creates them"
)


@dataclass(frozen=True, slots=True)
class Finding:
    """The result of one check."""

    check: str
    status: Status
    message: str
    fix: str | None = None


def _ok(check: str, message: str) -> Finding:
    return Finding(check, "ok", message)


def _warn(check: str, message: str, fix: str) -> Finding:
    return Finding(check, "warn", message, fix)


def _fail(check: str, message: str, fix: str) -> Finding:
    return Finding(check, "fail", message, fix)


# -- services -------------------------------------------------------------------------


def _check_service(field: str, settings: Settings, client: httpx.Client) -> Iterator[Finding]:
    name = field.partition("_")[0]
    url: str = getattr(settings, field)
    env = ENV_PREFIX + field.upper()
    check = f"{name} service"
    try:
        health = client.get(f"{url}/health")
    except httpx.HTTPError as exc:
        yield _fail(
            check,
            f"not reachable at {url}: {type(exc).__name__}",
            f"start it (`wikisaga up` starts every service) or set {env} to where it runs",
        )
        return
    said = _json(health).get("service")
    if health.status_code != 200 or said != name:
        yield _fail(
            check,
            f"{url}/health answered {health.status_code} as {said or 'something else'!r}, "
            f"not as the {name} service",
            f"set {env} to the {name} service's URL",
        )
        return
    try:
        yield from _token_and_version(check, url, settings, client)
    except httpx.HTTPError as exc:
        yield _fail(
            check,
            f"{url} answered /health, then stopped answering: {type(exc).__name__}",
            f"look at the {name} service's log, and restart it",
        )


def _token_and_version(
    check: str, url: str, settings: Settings, client: httpx.Client
) -> Iterator[Finding]:
    """The checks of a service that answers: the token, then its version."""
    problems = 0
    token = settings.token
    if token is None:
        problems += 1
        yield _fail(
            check,
            "WIKISAGA_INTERNAL_TOKEN is not set: no request is accepted",
            _HOW_TO_AUTHENTICATE,
        )
    else:
        answer = client.get(f"{url}/metrics", headers={INTERNAL_TOKEN_HEADER: token})
        if answer.status_code in (401, 403):
            problems += 1
            yield _fail(
                check,
                f"{url} refused the internal token ({answer.status_code})",
                _HOW_TO_AUTHENTICATE,
            )
    info = _json(client.get(f"{url}/openapi.json")).get("info")
    version = info.get("version") if isinstance(info, dict) else None
    if version != wikisaga.__version__:
        problems += 1
        yield _warn(
            check,
            f"runs version {version or 'unknown'}, this command is {wikisaga.__version__}",
            "run one wikisaga version everywhere: restart the service after an upgrade",
        )
    if not problems:
        yield _ok(check, f"{url} answers, token accepted, version {version}")


def _json(response: httpx.Response) -> dict[str, object]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


# -- the saga log, its sagas and the jobs ------------------------------------------------


def _sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL, or ``None`` for another scheme."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "sqlite" or parts.netloc or not parts.path.startswith("/"):
        return None
    return Path(unquote(parts.path[1:]))


def _check_saga_log(settings: Settings, timeout: float) -> Iterator[Finding]:
    url = settings.effective_saga_log_url
    check = "saga log"
    if url.partition("://")[0].lower() == "memory":
        yield _warn(
            check,
            "memory:// lives in the backend's process: nothing survives it, nothing to check",
            "set WIKISAGA_SAGA_LOG_URL to a sqlite:/// or postgresql:// log",
        )
        return
    path = _sqlite_path(url)
    if path is not None and not path.is_file():
        yield _fail(check, f"{path} does not exist", _SAME_DIRS)
        return
    try:
        version = read_schema_version(url, timeout=timeout)
    except SagaError as exc:
        yield _fail(
            check,
            str(exc),
            "check WIKISAGA_SAGA_LOG_URL, and that its database server is running",
        )
        return
    problem = _schema_problem(url, version)
    if problem is not None:
        yield problem
        return
    try:
        with open_saga_log(url) as log:
            total = log.count_sagas()
            failed = log.count_sagas(states={SagaState.FAILED})
            # Recovery claims an expired saga within its interval; twice that is no recovery.
            stuck = log.count_sagas(lease_expired_for=2 * settings.recovery_interval)
    except SagaError as exc:
        yield _fail(check, str(exc), "check WIKISAGA_SAGA_LOG_URL and its database")
        return
    yield _ok(check, f"{_shown(url)}, schema version {version}, {total} saga(s)")
    yield from _intervention(failed, stuck)
    yield _check_jobs(url, path, timeout)


def _schema_problem(url: str, version: int) -> Finding | None:
    """What is wrong with a log of schema ``version``; ``None`` when it is current."""
    check = "saga log"
    if version == 0:
        return _fail(check, f"{_shown(url)} holds no saga log", _SAME_DIRS)
    if version < SCHEMA_VERSION:
        return _fail(
            check,
            f"schema version {version}, older than this code's {SCHEMA_VERSION}",
            "back the log up, then start the backend (or run `wikisaga sagas list`): opening "
            "the log upgrades it in place",
        )
    if version > SCHEMA_VERSION:
        return _fail(
            check,
            f"schema version {version} is newer than this code's {SCHEMA_VERSION}",
            "upgrade wikisaga here to the version that wrote the log",
        )
    return None


def _intervention(failed: int, stuck: int) -> Iterator[Finding]:
    check = "sagas needing intervention"
    if failed:
        yield _fail(
            check,
            f"{failed} failed saga(s): a compensation ran out of retries, something is left "
            "to undo",
            "`wikisaga sagas list --state failed`, then `wikisaga sagas retry <id>`, or undo "
            "by hand and `wikisaga sagas resolve <id> --note ...`",
        )
    if stuck:
        yield _fail(
            check,
            f"{stuck} saga(s) in flight whose owner's lease expired: no recovery is running",
            "start the backend (it recovers sagas) or run `wikisaga recover`; "
            "`wikisaga sagas retry <id>` for one",
        )
    if not failed and not stuck:
        yield _ok(check, "none: no failed saga, no expired lease")


def _check_jobs(url: str, path: Path | None, timeout: float) -> Finding:
    check = "jobs store"
    query = "SELECT status, count(*) FROM wiki_job GROUP BY status ORDER BY status"
    try:
        if path is not None:
            target = f"file:{quote(str(path))}?mode=ro"
            with closing(sqlite3.connect(target, uri=True, timeout=timeout)) as conn:
                rows = conn.execute(query).fetchall()
        else:
            import psycopg  # noqa: PLC0415 - a PostgreSQL log has the driver

            with psycopg.connect(url, connect_timeout=max(1, round(timeout))) as pg:
                pg.read_only = True
                rows = pg.execute(query).fetchall()
    except Exception as exc:  # noqa: BLE001 - sqlite3 and psycopg errors alike
        if "wiki_job" in str(exc):
            return _warn(
                check,
                "no jobs table yet in the saga log's database",
                "start the backend once: it creates the table",
            )
        return _fail(check, f"cannot read the jobs: {type(exc).__name__}", _SAME_DIRS)
    counts = ", ".join(f"{count} {status}" for status, count in rows) or "no jobs"
    return _ok(check, counts)


def _shown(url: str) -> str:
    """A URL without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


# -- documents and the graph --------------------------------------------------------------


def _check_documents(settings: Settings, client: httpx.Client) -> Finding:
    check = "document store"
    url = settings.chroma_url
    if url:
        fix = (
            "start it (`chroma run --path DIR --host HOST --port PORT`) or set "
            "WIKISAGA_CHROMA_URL to where it runs (empty: the embedded store)"
        )
        try:
            beat = client.get(f"{url}/api/v2/heartbeat")
            version = client.get(f"{url}/api/v2/version").text.strip().strip('"')
        except httpx.HTTPError as exc:
            return _fail(check, f"Chroma server {url} is not reachable: {type(exc).__name__}", fix)
        if beat.status_code != 200:
            return _fail(check, f"{url} is not a Chroma server ({beat.status_code})", fix)
        return _ok(check, f"Chroma server {url}, version {version}")
    directory = settings.data_dir / "chroma"
    if not directory.exists():
        return _warn(
            check,
            f"no embedded store yet at {directory}",
            "`wikisaga ingest` creates it with the first documents",
        )
    if not directory.is_dir():
        return _fail(check, f"{directory} is not a directory", f"move {directory} away")
    return _ok(check, f"embedded Chroma at {directory}")


def _check_graph(settings: Settings, timeout: float) -> Finding:
    url = settings.graph_url or default_graph_url(settings)
    scheme = url.partition("://")[0].lower()
    if scheme in NEO4J_SCHEMES:
        return _check_neo4j(url, settings, timeout)
    check = "graph"
    path = _sqlite_path(url)
    if path is None:
        return _fail(check, f"unsupported graph URL {url!r}", "use sqlite:///, neo4j:// or bolt://")
    if not path.is_file():
        return _warn(check, f"no graph yet at {path}", "the first wiki generation creates it")
    from wikisaga.graph._sql import SCHEMA_VERSION as GRAPH_SCHEMA  # noqa: PLC0415

    try:
        with closing(sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)) as conn:
            (version,) = conn.execute("SELECT version FROM graph_schema_version").fetchone()
    except (sqlite3.Error, TypeError) as exc:
        return _fail(check, f"{path} is not a graph: {exc}", f"move {path} away")
    if version > GRAPH_SCHEMA:
        return _fail(
            check,
            f"graph schema version {version} is newer than this code's {GRAPH_SCHEMA}",
            "upgrade wikisaga here to the version that wrote the graph",
        )
    return _ok(check, f"SQLite graph {path}, schema version {version}")


def _check_neo4j(url: str, settings: Settings, timeout: float) -> Finding:
    import neo4j  # noqa: PLC0415 - only for a Neo4j graph
    import neo4j.exceptions  # noqa: PLC0415

    check = "graph"
    password = settings.neo4j_password.get_secret_value()
    auth = (settings.neo4j_user, password) if password else None
    shown = _shown(url)
    try:
        with neo4j.GraphDatabase.driver(
            url, auth=auth, connection_timeout=timeout, connection_acquisition_timeout=timeout
        ) as driver:
            driver.verify_connectivity()
            info = driver.get_server_info()
    except neo4j.exceptions.AuthError:
        return _fail(
            check,
            f"Neo4j at {shown} refused the credentials",
            "set WIKISAGA_NEO4J_USER and WIKISAGA_NEO4J_PASSWORD to a Neo4j user's",
        )
    except (neo4j.exceptions.DriverError, neo4j.exceptions.Neo4jError, OSError) as exc:
        return _fail(
            check,
            f"Neo4j at {shown} is not reachable: {type(exc).__name__}",
            "start Neo4j, or set WIKISAGA_GRAPH_URL (or WIKISAGA_NEO4J_URI) to where it runs; "
            "empty means the SQLite graph in the data dir",
        )
    return _ok(check, f"Neo4j at {shown}, {info.agent}")


# -- disk ---------------------------------------------------------------------------------


_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3}
_UNITS |= {"gb": 1000**3, "t": 1000**4, "tb": 1000**4, "kib": 1024, "mib": 1024**2}
_UNITS |= {"gib": 1024**3, "tib": 1024**4}


def parse_size(text: str) -> tuple[float, bool]:
    """``1GiB``, ``500MB``, ``2000000`` (bytes) or ``5%``: ``(amount, is_percent)``."""
    value = text.strip().lower().replace(" ", "")
    if value.endswith("%"):
        number, unit, percent = value[:-1], "", True
    else:
        digits = value.rstrip("abcdefghijklmnopqrstuvwxyz")
        number, unit, percent = digits, value[len(digits) :], False
    try:
        amount = float(number) * _UNITS[unit]
    except (KeyError, ValueError):
        raise typer.BadParameter(
            f"{text!r} is not a size: use bytes, a unit (500MB, 1GiB) or a percentage (5%)"
        ) from None
    if not amount >= 0 or (percent and amount > 100):
        raise typer.BadParameter(f"{text!r}: a size is 0 or more, a percentage at most 100")
    return amount, percent


def _gib(size: float) -> str:
    return f"{size / 1024**3:.1f} GiB"


def _check_disk(settings: Settings, min_free: str) -> Finding:
    check = "data dir"
    directory = settings.data_dir
    if not directory.is_dir():
        return _fail(check, f"{directory.absolute()} does not exist", _SAME_DIRS)
    usage = shutil.disk_usage(directory)
    amount, percent = parse_size(min_free)
    needed = usage.total * amount / 100 if percent else amount
    free = f"{_gib(usage.free)} free of {_gib(usage.total)} ({usage.free / usage.total:.0%})"
    if usage.free < needed:
        return _fail(
            check,
            f"{directory}: only {free}, below --min-free {min_free}",
            "free some space, or move WIKISAGA_DATA_DIR to a larger disk; "
            "`wikisaga sagas prune --older-than 30d` forgets old sagas",
        )
    return _ok(check, f"{directory}: {free}")


# -- the command --------------------------------------------------------------------------


def run_checks(
    settings: Settings, *, timeout: float = 3.0, min_free: str = "1GiB"
) -> list[Finding]:
    """Every check against ``settings``; writes nothing."""
    parse_size(min_free)  # a bad threshold is refused before anything is checked
    findings: list[Finding] = []
    with httpx.Client(timeout=timeout) as client:
        for field in _SERVICES:
            findings.extend(_check_service(field, settings, client))
        findings.extend(_check_saga_log(settings, timeout))
        findings.append(_check_documents(settings, client))
    findings.append(_check_graph(settings, timeout))
    findings.append(_check_disk(settings, min_free))
    return findings


def next_step(findings: list[Finding], settings: Settings) -> str | None:
    """What to do first, when the findings come down to one cause: no service running (a
    new user, nothing configured yet: ``wikisaga up``), or services without the token."""
    services = [f for f in findings if f.check.endswith(" service")]
    if services and all(f.message.startswith("not reachable") for f in services):
        where = settings.data_dir.absolute()
        nothing = "" if where.is_dir() else f" and {where} does not exist yet"
        return (
            f"no service is running{nothing}: start them all with `wikisaga up` (in another "
            "terminal; it creates the data directory and prints the WIKISAGA_INTERNAL_TOKEN, "
            "WIKISAGA_DATA_DIR and WIKISAGA_BACKEND_URL to export here), then run "
            "`wikisaga doctor` again"
        )
    if settings.token is None and any(f.status == "fail" for f in services):
        return (
            "export WIKISAGA_INTERNAL_TOKEN (`wikisaga up` prints it, with WIKISAGA_DATA_DIR), "
            "then run `wikisaga doctor` again"
        )
    return None


_STYLES = {"ok": "[green]ok  [/]", "warn": "[yellow]warn[/]", "fail": "[bold red]FAIL[/]"}


def _print(findings: list[Finding], first: str | None) -> None:
    from rich.console import Console  # noqa: PLC0415 - only for the table
    from rich.markup import escape  # noqa: PLC0415

    console = Console(file=sys.stdout, highlight=False, soft_wrap=True)
    width = max(len(finding.check) for finding in findings)
    for finding in findings:
        console.print(
            f"{_STYLES[finding.status]} {escape(finding.check):<{width}}  {escape(finding.message)}"
        )
        if finding.fix:
            console.print(f"     {'':<{width}}  [dim]fix:[/] {escape(finding.fix)}")
    failed = sum(1 for finding in findings if finding.status == "fail")
    warned = sum(1 for finding in findings if finding.status == "warn")
    if failed:
        console.print(f"[bold red]{failed} check(s) failed[/], {warned} warning(s)")
    else:
        console.print(f"[green]all checks passed[/], {warned} warning(s)")
    if first is not None:
        console.print(f"[bold]next:[/] {escape(first)}")


def doctor_command(
    timeout: Annotated[
        float, typer.Option(min=0.1, help="seconds to wait for each service or store")
    ] = 3.0,
    min_free: Annotated[
        str,
        typer.Option(
            "--min-free", help="fail below this much free disk in the data dir (1GiB, 5%)"
        ),
    ] = "1GiB",
    json_output: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> int:
    """Check every configured service and store; exit 1 if any check failed.

    Each line is `ok`, `warn` or `FAIL` with what was found, and a `fix:` under a
    problem. Nothing is written. Exit status: 0 when no check failed (warnings allowed),
    1 when one did, 2 for a bad option or setting.
    """
    settings = Settings.from_env()
    findings = run_checks(settings, timeout=timeout, min_free=min_free)
    healthy = all(finding.status != "fail" for finding in findings)
    first = next_step(findings, settings)
    if json_output:
        body = {
            "ok": healthy,
            "next_step": first,
            "checks": [asdict(finding) for finding in findings],
        }
        print(json.dumps(body, indent=2))
    else:
        _print(findings, first)
    return 0 if healthy else 1


def register(app: typer.Typer) -> None:
    """Add ``doctor`` to the command line."""
    app.command("doctor")(doctor_command)
