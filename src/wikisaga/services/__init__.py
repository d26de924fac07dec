"""The wikisaga services, one package each, and their default ports (DESIGN §2).

Each ``wikisaga.services.<name>.main`` module exposes ``create_app(settings) -> FastAPI``;
``wikisaga serve <name>`` imports it lazily. Services never import each other.
"""

from __future__ import annotations

__all__ = ["DEFAULT_PORTS", "SERVICE_NAMES"]

DEFAULT_PORTS: dict[str, int] = {
    "backend": 6000,
    "filesystem": 6001,
    "orchestrator": 6002,
    "git": 6003,
}
"""Where each service listens unless told otherwise."""

SERVICE_NAMES: tuple[str, ...] = tuple(DEFAULT_PORTS)
