"""Typed HTTP clients for wikisaga's services; errors are :class:`ServiceCallError`."""

from __future__ import annotations

from wikisaga.clients._http import (
    ServiceCallError,
    ServiceClient,
    ServiceFailed,
    ServiceRejected,
    ServiceResponseError,
    ServiceTimeout,
    ServiceUnavailable,
    is_transient,
    was_not_applied,
)
from wikisaga.clients.filesystem import FilesystemClient
from wikisaga.clients.git import GitClient

__all__ = [
    "FilesystemClient",
    "GitClient",
    "ServiceCallError",
    "ServiceClient",
    "ServiceFailed",
    "ServiceRejected",
    "ServiceResponseError",
    "ServiceTimeout",
    "ServiceUnavailable",
    "is_transient",
    "was_not_applied",
]
