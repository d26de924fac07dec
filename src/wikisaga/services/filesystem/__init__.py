"""The filesystem service: versioned wiki files per project (DESIGN §2, §3, §5).

Build it with :func:`wikisaga.services.filesystem.main.create_app`; run it with
``wikisaga serve filesystem``.
"""

from __future__ import annotations

__all__: list[str] = []
