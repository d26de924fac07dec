"""The saga log contract as tests, for every backend to pass.

Subclass :class:`SagaLogContract` in a test module (its name has no ``Test`` prefix, so it
is only collected through a subclass) and give it a ``log`` fixture that yields a fresh,
empty :class:`~distributed_saga.log.SagaLog`::

    class TestMySagaLog(SagaLogContract):
        @pytest.fixture
        def log(self, tmp_path):
            with MySagaLog(tmp_path / "sagas") as log:
                yield log

A durable log is reopened through ``open_saga_log(log.url)``; override the ``reopen_log``
fixture (a function returning a new log on the same store) when the URL is not enough,
for example because it had its password removed.

Creation order is compared across sagas created a few milliseconds apart: a backend's
clock may be that coarse (SQLite's is), and ties are broken by saga id.

The tests live in one mixin per area, composed here:

===============  =====================================================================
module           what its mixin checks
===============  =====================================================================
``creation``     ``create_saga``: the pending record, taken ids, lock keys
``first_intent`` ``record_intent(create=...)``: the first intent creates the saga, with its
                 lock; the engine writes nothing before it
``steps``        ``record_intent`` and ``record_step_result``
``compensation`` ``begin_compensation``, ``record_compensation``, ``finish_saga``
``fencing``      writes by the owner only, each renewing its lease; ``renew_leases``
``claims``       ``claim_expired`` (recovery) and ``claim_saga`` (an operator's retry)
``reading``      ``get_saga``, ``list_sagas``, JSON round trips, ``status()``
``counting``     ``count_sagas``: by state, and in-flight sagas whose lease expired
``paging``       ``list_sagas(before=...)``: keyset pages, every saga once, newest first
``retention``    ``prune_batch`` and ``prune_sagas``: old finished sagas only, in batches
``durability``   closing and reopening a durable log, two logs on one store
``transitions``  every fenced write from every state, against the transition table
===============  =====================================================================

:mod:`~distributed_saga.testing.contract.helpers` holds what they share (owners, lease
lengths, :func:`drive` to put a saga in a state, :func:`intent`).
"""

from __future__ import annotations

from distributed_saga.testing.contract.claims import ClaimContract
from distributed_saga.testing.contract.compensation import CompensationContract
from distributed_saga.testing.contract.counting import CountingContract
from distributed_saga.testing.contract.creation import CreationContract
from distributed_saga.testing.contract.durability import DurabilityContract
from distributed_saga.testing.contract.fencing import FencingContract
from distributed_saga.testing.contract.first_intent import FirstIntentContract
from distributed_saga.testing.contract.helpers import (
    EXPIRY,
    LEASE,
    OTHER,
    OWNER,
    SHORT_LEASE,
    TICK,
    create_in_order,
    drive,
    intent,
)
from distributed_saga.testing.contract.paging import PagingContract
from distributed_saga.testing.contract.reading import ReadingContract
from distributed_saga.testing.contract.retention import RetentionContract
from distributed_saga.testing.contract.steps import StepContract
from distributed_saga.testing.contract.transitions import TransitionContract

__all__ = [
    "EXPIRY",
    "LEASE",
    "OTHER",
    "OWNER",
    "SHORT_LEASE",
    "TICK",
    "SagaLogContract",
    "create_in_order",
    "drive",
    "intent",
]


class SagaLogContract(
    CreationContract,
    FirstIntentContract,
    StepContract,
    CompensationContract,
    FencingContract,
    ClaimContract,
    ReadingContract,
    CountingContract,
    PagingContract,
    RetentionContract,
    DurabilityContract,
    TransitionContract,
):
    """Tests every :class:`~distributed_saga.log.SagaLog` backend must pass.

    Composed of one mixin per area, each in its own module of this package.
    """
