"""Log formats: the guide's text lines, or one JSON object per line
(``WIKISAGA_LOG_FORMAT=json``).

The engine logs the guide's lines (``[wiki-proj-123] ✓ Step completed: Save 45 wiki files
to filesystem``) in either format; the text of a message is never changed. In JSON, each
record is one line::

    {"timestamp": "2025-05-20T09:14:03.120Z", "level": "INFO",
     "logger": "distributed_saga",
     "message": "[wiki-proj-123] ✓ Step completed: Save 45 wiki files to filesystem",
     "saga_id": "wiki-proj-123", "project_id": "proj-123", "job_id": "job-7",
     "step": "Save 45 wiki files to filesystem"}

``saga_id``, ``project_id``, ``job_id`` and ``step`` appear only when known, taken first
from the record (``logger.info(..., extra={"job_id": ...})``), then from the message (the
``[saga_id]`` prefix; the step of the engine's step and rollback lines), then from
:func:`log_context`, which the pipeline sets around a job. ``exception`` holds the
traceback of ``logger.exception``.

:func:`log_context` lives in a :mod:`contextvars` variable: asyncio tasks and
``anyio.to_thread`` (FastAPI's thread pool) inherit it; a bare ``threading.Thread`` does not
(start it with ``contextvars.copy_context().run``).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

from wikisaga.config import Settings

__all__ = [
    "CONTEXT_FIELDS",
    "TEXT_FORMAT",
    "JsonLogFormatter",
    "configure_logging",
    "current_log_context",
    "log_context",
]

CONTEXT_FIELDS = ("saga_id", "project_id", "job_id", "step")
"""The fields a JSON line carries when they are known, in this order."""

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
"""The text format: the guide's lines, after a time, a level and the logger's name."""

_SAGA_PREFIX = re.compile(r"\[(?P<saga_id>[^\]\s]+)\] ")

# The engine's lines whose second argument is a step name ("[%s] Executing step: %s").
# Matched on the template, not the text, so a step name containing " - " or ": " is
# still read whole. A template missing here only loses the ``step`` field.
_STEP_TEMPLATES = frozenset(
    {
        "[%s] Executing step: %s",
        "[%s] ✓ Step completed: %s",
        "[%s] ✗ Step failed: %s - %s",
        "[%s] Step %s failed (attempt %d), retrying in %.2fs: %s",
        "[%s] Rolling back: %s",
        "[%s] ✓ Rollback successful: %s",
        "[%s] ✗ Rollback failed: %s - %s",
        "[%s] rollback of %s failed (attempt %d), retrying in %.2fs: %s",
        "[%s] Resolved by hand: %s (%s)",
        "[%s] lease lost during %s; undoing the step again",
    }
)

_CONTEXT: ContextVar[Mapping[str, str] | None] = ContextVar("wikisaga_log_context", default=None)


@contextmanager
def log_context(
    *,
    project_id: str | None = None,
    job_id: str | None = None,
    saga_id: str | None = None,
    step: str | None = None,
) -> Iterator[None]:
    """Tag every log record made inside the block (in this context) with these fields.

    Blocks nest: an inner block adds to, or overrides, the outer one's fields.
    """
    given = {"project_id": project_id, "job_id": job_id, "saga_id": saga_id, "step": step}
    fields = {**current_log_context(), **{k: v for k, v in given.items() if v is not None}}
    token = _CONTEXT.set(fields)
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def current_log_context() -> Mapping[str, str]:
    """The fields :func:`log_context` set for this context (empty outside any block)."""
    return _CONTEXT.get() or {}


def _from_message(record: logging.LogRecord, message: str) -> dict[str, str]:
    """The saga id of a ``[saga_id] ...`` line, and the step of the engine's step lines."""
    found: dict[str, str] = {}
    match = _SAGA_PREFIX.match(message)
    if match is None:
        return found
    found["saga_id"] = match["saga_id"]
    args = record.args
    if record.msg in _STEP_TEMPLATES and isinstance(args, tuple) and len(args) >= 2:
        found["step"] = str(args[1])
    return found


class JsonLogFormatter(logging.Formatter):
    """One JSON object per record, on one line (see the module for its fields)."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        entry: dict[str, Any] = {
            "timestamp": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        parsed = _from_message(record, message)
        context = current_log_context()
        for field in CONTEXT_FIELDS:
            value = getattr(record, field, None)
            if value is None:
                value = parsed.get(field) or context.get(field)
            if value is not None:
                entry[field] = str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _timestamp(created: float) -> str:
    moment = datetime.fromtimestamp(created, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _InstalledHandler(logging.StreamHandler[IO[str]]):
    """The handler :func:`configure_logging` installs (and replaces when called again)."""


def configure_logging(
    settings: Settings, *, level: int = logging.INFO, stream: IO[str] | None = None
) -> logging.Handler:
    """Send every log record to ``stream`` (default: stderr) in ``settings.log_format``.

    Installs one handler on the root logger, replacing the one an earlier call installed
    and leaving others alone, and sets the root level. Returns the handler. A server that
    runs uvicorn should pass ``log_config=None`` to it afterwards, so that uvicorn's
    loggers reach this handler instead of uvicorn's own text handlers.
    """
    handler = _InstalledHandler(stream if stream is not None else sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if isinstance(existing, _InstalledHandler):
            root.removeHandler(existing)
            existing.close()
    root.addHandler(handler)
    root.setLevel(level)
    return handler
