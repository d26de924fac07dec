"""Typed HTTP clients for wikisaga's services, one per service.

A service talks to another only through its client. Errors are
:class:`~wikisaga.errors.ServiceCallError` and its subclasses (drawn in
:mod:`wikisaga.errors`), re-exported here for callers of the clients.
"""

from __future__ import annotations

from wikisaga.clients._http import ServiceClient, is_transient, was_not_applied
from wikisaga.clients.filesystem import FilesystemClient
from wikisaga.clients.git import GitClient
from wikisaga.clients.orchestrator import OrchestratorClient
from wikisaga.errors import (
    ServiceCallError,
    ServiceFailed,
    ServiceRejected,
    ServiceResponseError,
    ServiceTimeout,
    ServiceUnreachable,
)

__all__ = [
    "FilesystemClient",
    "GitClient",
    "OrchestratorClient",
    "ServiceCallError",
    "ServiceClient",
    "ServiceFailed",
    "ServiceRejected",
    "ServiceResponseError",
    "ServiceTimeout",
    "ServiceUnreachable",
    "is_transient",
    "was_not_applied",
]
