"""``python -m distributed_saga.testing.crashing``: the child process a crash test kills."""

from __future__ import annotations

import sys

from distributed_saga.testing.crashing import main

if __name__ == "__main__":
    sys.exit(main())
