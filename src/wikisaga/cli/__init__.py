"""The ``wikisaga`` command line: one module per command group (``serve``, ``demo``,
``sagas``, ``chaos``), put together in ``app``."""

from __future__ import annotations

from wikisaga.cli.app import app, main

__all__ = ["app", "main"]
