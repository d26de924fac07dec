"""The git service's routers: snapshots, and read-only clone over smart HTTP."""
