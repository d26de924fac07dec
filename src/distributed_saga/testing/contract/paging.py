"""Keyset paging of ``list_sagas``: page after page, every saga once, newest first."""

from __future__ import annotations

import time
from typing import Any

from distributed_saga._records import SagaRecord, SagaState, StepState
from distributed_saga.log import SagaLog
from distributed_saga.testing.contract.helpers import (
    LEASE,
    OWNER,
    TICK,
    create_in_order,
    drive,
    intent,
)

__all__ = ["PagingContract"]


def walk(log: SagaLog, size: int, **filters: Any) -> list[list[str]]:
    """The ids of every page of ``size`` sagas, following ``before`` from the newest."""
    pages: list[list[str]] = []
    before: tuple[float, str] | None = None
    while True:
        page = log.list_sagas(limit=size, before=before, **filters)
        if not page:
            return pages
        assert len(page) <= size
        pages.append([saga.saga_id for saga in page])
        before = position(page[-1])


def position(saga: SagaRecord) -> tuple[float, str]:
    assert saga.created_at is not None
    return (saga.created_at, saga.saga_id)


class PagingContract:
    """``list_sagas(before=...)``: strictly older than the position, in the same order."""

    def test_pages_walk_the_log_newest_first_each_saga_once(self, log: SagaLog) -> None:
        create_in_order(log, [f"s{n}" for n in (3, 0, 6, 1, 5, 2, 4)])
        everything = [saga.saga_id for saga in log.list_sagas()]
        assert everything == ["s4", "s2", "s5", "s1", "s6", "s0", "s3"]
        assert walk(log, 3) == [["s4", "s2", "s5"], ["s1", "s6", "s0"], ["s3"]]

    def test_pages_match_the_listing_when_creation_times_tie(self, log: SagaLog) -> None:
        """Sagas created within one tick of the log's clock share ``created_at``; the id
        orders them, in the listing and across a page boundary alike."""
        for n in range(12):
            log.create_saga(f"t{n:02d}", None, owner=OWNER, lease_seconds=LEASE)
        everything = [saga.saga_id for saga in log.list_sagas()]
        assert sorted(everything) == [f"t{n:02d}" for n in range(12)]
        for size in (1, 2, 5):
            assert [saga_id for page in walk(log, size) for saga_id in page] == everything

    def test_before_a_saga_excludes_it_and_everything_newer(self, log: SagaLog) -> None:
        create_in_order(log, ["a", "b", "c", "d"])
        c = log.get_saga("c")
        assert [s.saga_id for s in log.list_sagas(before=position(c))] == ["b", "a"]
        assert log.list_sagas(before=position(log.get_saga("a"))) == []
        assert [s.saga_id for s in log.list_sagas(before=(position(c)[0], "~"))][:1] == ["c"]

    def test_pages_keep_their_place_while_new_sagas_arrive(self, log: SagaLog) -> None:
        create_in_order(log, ["a", "b", "c", "d"])
        first = log.list_sagas(limit=2)
        create_in_order(log, ["e", "f"])
        rest = log.list_sagas(limit=10, before=position(first[-1]))
        assert [s.saga_id for s in first + rest] == ["d", "c", "b", "a"]

    def test_pages_of_a_filtered_listing_hold_only_matching_sagas(self, log: SagaLog) -> None:
        states = [SagaState.FAILED, SagaState.COMMITTED, SagaState.EXECUTING]
        for n in range(9):
            # Committed sagas share lock keys; the last saga, unfinished, holds one too.
            lock_key = f"k{n % 2}" if n % 3 == 1 else "k0" if n == 8 else None
            drive(log, f"s{n}", states[n % 3], lock_key=lock_key)
        for filters in (
            {"states": {SagaState.FAILED}},
            {"states": {SagaState.EXECUTING, SagaState.PENDING}},
            {"states": {SagaState.COMMITTED, SagaState.FAILED}},
            {"lock_key": "k1"},
            {"states": {SagaState.EXECUTING}, "lock_key": "k0"},
        ):
            everything = [saga.saga_id for saga in log.list_sagas(**filters)]
            assert everything, filters
            paged = [saga_id for page in walk(log, 2, **filters) for saga_id in page]
            assert paged == everything, filters

    def test_a_users_listing_holds_only_their_sagas_page_after_page(self, log: SagaLog) -> None:
        """``user_id`` alone, with a state, with a lock key and across ``before`` pages:
        the user's sagas in the log's order, and no one else's (nor those of no user)."""
        users = ["ann", "bob", None, "ann", "ann", "bob", None, "ann", "ann", "bob", "ann"]
        for n, user in enumerate(users):
            # Every third saga commits, holding the lock key "doc" while it runs.
            lock_key = "doc" if n % 3 == 0 else None
            log.create_saga(f"s{n:02d}", user, owner=OWNER, lease_seconds=LEASE, lock_key=lock_key)
            intent(log, f"s{n:02d}")
            if lock_key is not None:
                log.record_step_result(
                    f"s{n:02d}", OWNER, index=0, state=StepState.COMPLETED, attempts=1
                )
                log.finish_saga(f"s{n:02d}", OWNER, SagaState.COMMITTED)
            time.sleep(TICK)
        anns = ["s10", "s08", "s07", "s04", "s03", "s00"]
        executing = {SagaState.EXECUTING}
        for filters, expected in (
            ({"user_id": "ann"}, anns),
            ({"user_id": "bob"}, ["s09", "s05", "s01"]),
            ({"user_id": "nobody"}, []),
            ({"user_id": "ann", "states": executing}, ["s10", "s08", "s07", "s04"]),
            ({"user_id": "ann", "states": {SagaState.COMMITTED}}, ["s03", "s00"]),
            ({"user_id": "bob", "lock_key": "doc"}, ["s09"]),
            ({"user_id": "ann", "lock_key": "doc", "states": executing}, []),
        ):
            listed = [saga.saga_id for saga in log.list_sagas(**filters)]
            assert listed == expected, filters
            for size in (1, 2, 4):
                paged = [saga_id for page in walk(log, size, **filters) for saga_id in page]
                assert paged == expected, (filters, size)
        assert {saga.user_id for saga in log.list_sagas(user_id="ann")} == {"ann"}
        # Paging from a position within ann's sagas: strictly older, and only hers.
        s07 = log.get_saga("s07")
        after = log.list_sagas(user_id="ann", limit=2, before=position(s07))
        assert [saga.saga_id for saga in after] == ["s04", "s03"]
        # Her sagas that hold "doc" too.
        assert [s.saga_id for s in log.list_sagas(user_id="ann", lock_key="doc")] == anns[4:]
