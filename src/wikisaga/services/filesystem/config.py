"""Limits of the filesystem service; every one is a clear 4xx when exceeded."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FilesystemLimits"]


@dataclass(frozen=True, slots=True)
class FilesystemLimits:
    """How much one request may carry.

    - ``max_file_bytes``: UTF-8 size of one file's content (413 ``file_too_large``);
    - ``max_files_per_request``: saves + deletes of a batch, files of a restore, paths of a
      versions query (413 ``too_many_files``);
    - ``max_body_bytes``: the whole request body (413 ``payload_too_large``).

    Path length and depth limits are those of the shared path validator.
    """

    max_file_bytes: int = 1024 * 1024
    max_files_per_request: int = 5000
    max_body_bytes: int = 256 * 1024 * 1024
