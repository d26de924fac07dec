"""Fault injection at the network seam: a proxy in front of a real service.

See :mod:`wikisaga.testing.proxy` for the faults it can inject and how rules match.
"""

from wikisaga.testing.proxy import FaultKind, FaultProxy, FaultRule, RequestRecord

__all__ = ["FaultKind", "FaultProxy", "FaultRule", "RequestRecord"]
