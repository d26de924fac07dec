"""The backend service (port 6000): wiki generation jobs, the read API of the last
committed generation, saga recovery and metrics. See ``docs/backend.md``."""
