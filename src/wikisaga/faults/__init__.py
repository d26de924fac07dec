"""Fault injection at the network seam: a proxy in front of a real service.

See :mod:`wikisaga.faults.proxy` for the faults it can inject and how rules match.
"""

from wikisaga.faults.proxy import FaultKind, FaultProxy, FaultRule, RequestRecord

__all__ = ["FaultKind", "FaultProxy", "FaultRule", "RequestRecord"]
