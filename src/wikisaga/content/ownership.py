"""Who owns a project: the one rule every caller applies (DESIGN §3).

Two records name the user of a project:

- the filesystem service's project registry (``GET /projects/{project_id}``,
  :meth:`~wikisaga.clients.FilesystemClient.project_owner`): the user who first wrote
  files to it, or who claimed it to ingest documents;
- the document store: every stored document version records the user whose ingest wrote
  it (:attr:`~wikisaga.content.records.DocumentInfo.user_id`).

**The rule.** A user may act on a project (ingest or upload documents into it, generate
its wiki, read it) only when *neither* record names another user: the registry has no
owner or names this user, and every stored document of the project was written by this
user. Otherwise :class:`~wikisaga.errors.NotProjectOwner` (403 ``forbidden``). So the
owner is the same whichever record is asked first, and a project whose records name two
users is nobody's to use until an operator settles it.

**One record from then on.** An ingest that reaches the filesystem service (an upload,
``wikisaga ingest`` with the internal token) claims the project in the registry before it
stores anything (:func:`claim_project`, ``PUT /projects/{project_id}``): the registry then
names the documents' owner before a generation asks it. Documents stored without a claim
(an ingest with no service to ask, or before claims existed) are still covered by the
document half of the rule.

Callers: :meth:`~wikisaga.services.backend.runner.JobRunner.check_owner` (generation
submits, wiki reads, uploads, the dashboard), the pipeline's ``fetch_documents`` step (a
job queued before the documents changed hands) and :func:`wikisaga.content.ingest.ingest`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from wikisaga.content.records import DocumentInfo
from wikisaga.errors import NotProjectOwner

__all__ = ["OwnerRegistry", "check_project_owner", "claim_project", "document_writers"]


class OwnerRegistry(Protocol):
    """The project registry, as an ingest claims a project in it
    (:class:`~wikisaga.clients.FilesystemClient` is one)."""

    def claim_project(self, project_id: str, *, user_id: str) -> str:
        """Make ``user_id`` the owner of a project nobody owns; raise
        :class:`~wikisaga.errors.NotProjectOwner` for another user's."""
        ...


def document_writers(infos: Iterable[DocumentInfo]) -> set[str]:
    """The users whose ingests wrote these stored documents."""
    return {info.user_id for info in infos}


def check_project_owner(
    project_id: str, user_id: str, *, registry_owner: str | None, writers: Iterable[str]
) -> None:
    """Refuse ``user_id`` on ``project_id`` unless neither record names another user (the
    module docstring's rule): ``registry_owner`` is the registry's owner (``None``: it has
    none), ``writers`` the users who wrote the project's stored documents."""
    if registry_owner is not None and registry_owner != user_id:
        raise NotProjectOwner(f"project {project_id!r} belongs to another user")
    if set(writers) - {user_id}:
        raise NotProjectOwner(
            f"project {project_id!r} belongs to another user: another user's documents "
            "are stored in it"
        )


def claim_project(
    project_id: str, user_id: str, *, registry: OwnerRegistry | None, writers: Iterable[str]
) -> None:
    """Check the rule for a user about to store documents, then claim the project for them
    in ``registry`` (when there is one to ask), before anything is stored: the documents'
    half first (nothing is claimed for a user the documents refuse), then the registry's,
    which refuses another user's project and changes nothing."""
    check_project_owner(project_id, user_id, registry_owner=None, writers=writers)
    if registry is not None:
        registry.claim_project(project_id, user_id=user_id)
