"""``python -m wikisaga`` runs the ``wikisaga`` command."""

from __future__ import annotations

import sys

from wikisaga.cli import main

if __name__ == "__main__":
    sys.exit(main())
