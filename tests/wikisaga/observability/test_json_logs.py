"""Log formats: one JSON object per line with the saga, project, job and step when known;
the guide's text lines unchanged; configure_logging installs one handler."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from observability_support import NOTHING, undo_registry

from distributed_saga import Compensation, DistributedSaga, RetryPolicy
from wikisaga.config import Settings
from wikisaga.observability import (
    JsonLogFormatter,
    configure_logging,
    current_log_context,
    log_context,
)
from wikisaga.observability.logs import TEXT_FORMAT


class _Lines(logging.Handler):
    """Formats every record it gets with the JSON formatter, and keeps the lines."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonLogFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]


@pytest.fixture
def json_lines() -> Iterator[_Lines]:
    """JSON lines of every record of the engine and of a test logger."""
    handler = _Lines()
    loggers = [logging.getLogger("distributed_saga"), logging.getLogger("tests.observability")]
    levels = [each.level for each in loggers]
    for each in loggers:
        each.addHandler(handler)
        each.setLevel(logging.DEBUG)
    yield handler
    for each, level in zip(loggers, levels, strict=True):
        each.removeHandler(handler)
        each.setLevel(level)


log = logging.getLogger("tests.observability")


def test_a_line_is_one_json_object_with_time_level_logger_and_message(
    json_lines: _Lines,
) -> None:
    log.warning('two\nlines and a quote " and ✓')
    (line,) = json_lines.lines
    assert "\n" not in line
    entry = json.loads(line)
    assert entry == {
        "timestamp": entry["timestamp"],
        "level": "WARNING",
        "logger": "tests.observability",
        "message": 'two\nlines and a quote " and ✓',
    }
    assert entry["timestamp"].endswith("Z")
    assert len(entry["timestamp"]) == len("2025-05-20T09:14:03.120Z")


def test_the_engines_guide_lines_keep_their_text_and_give_saga_id_and_step(
    json_lines: _Lines,
) -> None:
    saga = DistributedSaga(
        "wiki-proj-123",
        "user-456",
        registry=undo_registry(),
        compensation_retry=RetryPolicy.never(),
    )
    saga.execute_step("Save 45 wiki files to filesystem", lambda: None, Compensation(NOTHING))

    def refused() -> None:
        raise ConnectionError("Connection refused - by peer")

    with pytest.raises(ConnectionError):
        saga.execute_step("Create git snapshot of wiki files", refused, Compensation(NOTHING))

    seen = [(e["level"], e["message"], e.get("step")) for e in json_lines.entries()]
    save, snapshot = "Save 45 wiki files to filesystem", "Create git snapshot of wiki files"
    assert seen == [
        ("INFO", f"[wiki-proj-123] Executing step: {save}", save),
        ("INFO", f"[wiki-proj-123] ✓ Step completed: {save}", save),
        ("INFO", f"[wiki-proj-123] Executing step: {snapshot}", snapshot),
        (
            "ERROR",
            f"[wiki-proj-123] ✗ Step failed: {snapshot} - Connection refused - by peer",
            snapshot,
        ),
        ("WARNING", "[wiki-proj-123] Rolling back 1 completed steps", None),
        ("WARNING", f"[wiki-proj-123] Rolling back: {snapshot}", snapshot),
        ("INFO", f"[wiki-proj-123] ✓ Rollback successful: {snapshot}", snapshot),
        ("WARNING", f"[wiki-proj-123] Rolling back: {save}", save),
        ("INFO", f"[wiki-proj-123] ✓ Rollback successful: {save}", save),
    ]
    assert {e["saga_id"] for e in json_lines.entries()} == {"wiki-proj-123"}


def test_log_context_tags_records_and_nests(json_lines: _Lines) -> None:
    with log_context(project_id="proj-123", job_id="job-7"):
        log.info("outer")
        with log_context(job_id="job-8", saga_id="wiki-proj-123"):
            log.info("inner")
        log.info("outer again")
    log.info("outside")
    entries = json_lines.entries()
    assert [(e.get("project_id"), e.get("job_id"), e.get("saga_id")) for e in entries] == [
        ("proj-123", "job-7", None),
        ("proj-123", "job-8", "wiki-proj-123"),
        ("proj-123", "job-7", None),
        (None, None, None),
    ]
    assert current_log_context() == {}


def test_the_record_wins_over_the_message_and_the_message_over_the_context(
    json_lines: _Lines,
) -> None:
    with log_context(saga_id="from-context", job_id="job-ctx", step="context step"):
        log.info("[from-message] something happened", extra={"job_id": "job-extra"})
        log.info("no prefix here")
    first, second = json_lines.entries()
    assert (first["saga_id"], first["job_id"], first["step"]) == (
        "from-message",
        "job-extra",
        "context step",
    )
    assert second["saga_id"] == "from-context"


def test_a_bracket_that_is_not_a_saga_prefix_is_not_read_as_one(json_lines: _Lines) -> None:
    log.info("[not a saga id] because of the spaces")
    log.info("text [wiki-1] later in the line")
    assert [e.get("saga_id") for e in json_lines.entries()] == [None, None]


def test_an_exception_is_kept_with_its_traceback(json_lines: _Lines) -> None:
    try:
        raise ValueError("bad input")
    except ValueError:
        log.exception("[wiki-1] could not plan")
    (entry,) = json_lines.entries()
    assert entry["message"] == "[wiki-1] could not plan"
    assert entry["exception"].startswith("Traceback")
    assert "ValueError: bad input" in entry["exception"]


def test_the_context_follows_asyncio_tasks(json_lines: _Lines) -> None:
    async def job() -> None:
        with log_context(job_id="job-async"):
            await asyncio.gather(asyncio.to_thread(log.info, "in a thread"), _log_soon())

    async def _log_soon() -> None:
        log.info("in a task")

    asyncio.run(job())
    assert {e["job_id"] for e in json_lines.entries()} == {"job-async"}


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, with its handlers and level put back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


def test_configure_logging_json_writes_json_lines(root_logger: logging.Logger) -> None:
    stream = io.StringIO()
    configure_logging(Settings(log_format="json"), stream=stream)
    logging.getLogger("distributed_saga").info(
        "[wiki-9] ✓ Saga committed successfully with 2 steps"
    )
    entry = json.loads(stream.getvalue())
    assert (entry["saga_id"], entry["level"]) == ("wiki-9", "INFO")


def test_configure_logging_text_keeps_the_guides_lines(root_logger: logging.Logger) -> None:
    stream = io.StringIO()
    handler = configure_logging(Settings(), stream=stream)
    assert handler.formatter is not None
    assert handler.formatter._fmt == TEXT_FORMAT
    logging.getLogger("distributed_saga").info("[wiki-9] Executing step: Save 3 wiki files")
    assert (
        stream.getvalue()
        .rstrip()
        .endswith("INFO distributed_saga: [wiki-9] Executing step: Save 3 wiki files")
    )


def test_configure_logging_again_replaces_its_handler_and_keeps_others(
    root_logger: logging.Logger,
) -> None:
    other = logging.NullHandler()
    root_logger.addHandler(other)
    first = configure_logging(Settings(), stream=io.StringIO())
    second = configure_logging(Settings(log_format="json"), stream=io.StringIO())
    assert first not in root_logger.handlers
    assert second in root_logger.handlers
    assert other in root_logger.handlers
    assert root_logger.level == logging.INFO
