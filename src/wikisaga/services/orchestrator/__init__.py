"""The orchestrator service: a project's documents in, wiki pages and relations out
(DESIGN §1 step 2, §2, §11).

Build it with :func:`wikisaga.services.orchestrator.main.create_app`; run it with
``wikisaga serve orchestrator`` (port 6002). It keeps no state: every request carries
the documents, and, for an incremental generation, the previous source map and
relations.
"""

from __future__ import annotations

__all__: list[str] = []
