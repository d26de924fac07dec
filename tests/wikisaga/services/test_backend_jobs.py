"""The job store contract, bound to SQLite and PostgreSQL: one active job per project,
idempotency keys, exclusive claims, claim leases and their fence, steps and endings,
retention, and the migration of a table made before claim leases."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from wikisaga.errors import IdempotencyKeyReused, JobConflict, JobNotFound
from wikisaga.jobs import JobStatus, JobStore, open_job_store
from wikisaga.jobs.postgres import PostgresJobStore


class JobStoreContract:
    """Every backend; bound below with a ``store`` fixture."""

    def test_create_then_claim_then_finish(self, store: JobStore) -> None:
        """A job goes queued → running → succeeded, with its result."""
        job, created = store.create("p1", "alice", saga_id="wiki-p1-1")
        assert created
        assert job.status is JobStatus.QUEUED
        claimed = store.claim(job.job_id)
        assert claimed is not None
        assert claimed.status is JobStatus.RUNNING
        assert store.claim(job.job_id) is None
        done = store.finish(job.job_id, JobStatus.SUCCEEDED, result={"files_created": 3})
        assert done.status is JobStatus.SUCCEEDED
        assert done.result == {"files_created": 3}
        again = store.finish(job.job_id, JobStatus.FAILED, error="late")
        assert again.status is JobStatus.SUCCEEDED
        assert store.last_succeeded("p1") == done

    def test_one_active_job_per_project(self, store: JobStore) -> None:
        """A second job of a project in flight is refused, naming the first and its saga."""
        first, _ = store.create("p2", "alice", saga_id="wiki-p2-1")
        with pytest.raises(JobConflict, match=first.job_id) as refused:
            store.create("p2", "alice", saga_id="wiki-p2-2")
        assert refused.value.saga_id == "wiki-p2-1"
        store.finish(first.job_id, JobStatus.FAILED, error="x")
        second, created = store.create("p2", "alice", saga_id="wiki-p2-3")
        assert created
        assert second.job_id != first.job_id

    def test_idempotency_key_returns_the_same_job(self, store: JobStore) -> None:
        """Same user and key: the same job, even after it finished; another project: refused."""
        job, _ = store.create("p3", "alice", saga_id="wiki-p3-1", idempotency_key="k")
        replay, created = store.create("p3", "alice", saga_id="wiki-p3-2", idempotency_key="k")
        assert not created
        assert replay.job_id == job.job_id
        store.finish(job.job_id, JobStatus.SUCCEEDED)
        replay, created = store.create("p3", "alice", saga_id="wiki-p3-3", idempotency_key="k")
        assert (replay.job_id, created) == (job.job_id, False)
        with pytest.raises(IdempotencyKeyReused):
            store.create("p4", "alice", saga_id="wiki-p4-1", idempotency_key="k")

    def test_steps_are_recorded(self, store: JobStore) -> None:
        """A step's state, times and details are kept, merged as it goes."""
        job, _ = store.create("p5", "alice", saga_id="wiki-p5-1")
        store.record_step(job.job_id, "fetch_documents", "running")
        store.record_step(job.job_id, "fetch_documents", "succeeded", {"documents": 4})
        step = store.get(job.job_id).steps["fetch_documents"]
        assert step["state"] == "succeeded"
        assert step["documents"] == 4
        assert step["finished_at"] >= step["started_at"]

    def test_concurrent_claims_give_one_winner(self, store: JobStore) -> None:
        """Eight threads claim one job: exactly one gets it."""
        job, _ = store.create("p6", "alice", saga_id="wiki-p6-1")
        won: list[object] = []
        barrier = threading.Barrier(8)

        def claim() -> None:
            barrier.wait()
            won.append(store.claim(job.job_id))

        threads = [threading.Thread(target=claim) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len([claimed for claimed in won if claimed is not None]) == 1

    def test_lookups(self, store: JobStore) -> None:
        """By id, by saga, by project; an unknown id is JobNotFound."""
        job, _ = store.create("p7", "bob", saga_id="wiki-p7-1")
        assert store.find_by_saga("wiki-p7-1") == job
        assert store.find_by_saga("nope") is None
        assert [j.job_id for j in store.list_jobs(project_id="p7")] == [job.job_id]
        with pytest.raises(JobNotFound):
            store.get("job-missing")

    def test_a_claim_names_its_owner_and_holds_a_lease_it_renews(self, store: JobStore) -> None:
        """The claim records who and until when; only the owner renews it; a lapsed lease
        is listed as expired, a live one never is."""
        job, _ = store.create("p8", "alice", saga_id="wiki-p8-1")
        claimed = store.claim(job.job_id, owner="backend-a", lease_seconds=0.3)
        assert claimed is not None
        assert claimed.claimed_by == "backend-a"
        assert claimed.lease_expires_at is not None
        assert claimed.to_json()["claimed_by"] == "backend-a"
        assert store.renew("backend-b", [job.job_id], 60) == set()
        assert store.list_expired(stale_seconds=300) == []
        time.sleep(0.4)
        assert [j.job_id for j in store.list_expired(stale_seconds=300)] == [job.job_id]
        assert store.renew("backend-a", [job.job_id], 60) == {job.job_id}
        assert store.list_expired(stale_seconds=300) == []
        store.finish(job.job_id, JobStatus.FAILED, error="x")
        assert store.renew("backend-a", [job.job_id], 60) == set()

    def test_a_queued_job_is_never_expired_and_an_unleased_one_only_when_stale(
        self, store: JobStore
    ) -> None:
        """Queued jobs wait for a worker however old; a running job with no lease (an
        older backend's claim) counts as expired once it is older than ``stale_seconds``."""
        store.create("p9", "alice", saga_id="wiki-p9-1")
        assert store.list_expired(stale_seconds=0) == []
        other, _ = store.create("p10", "alice", saga_id="wiki-p10-1")
        assert store.claim(other.job_id, owner="backend-a", lease_seconds=60) is not None
        assert store.list_expired(stale_seconds=0) == []

    def test_record_step_with_an_owner_is_fenced(self, store: JobStore) -> None:
        """A worker that no longer holds its job writes nothing and is told so."""
        job, _ = store.create("p11", "alice", saga_id="wiki-p11-1")
        store.claim(job.job_id, owner="backend-a")
        assert store.record_step(job.job_id, "fetch_documents", "running", owner="backend-a")
        assert not store.record_step(job.job_id, "generate_pages", "running", owner="backend-b")
        store.finish(job.job_id, JobStatus.FAILED, error="ended by another backend")
        assert not store.record_step(job.job_id, "generate_pages", "running", owner="backend-a")
        assert set(store.get(job.job_id).steps) == {"fetch_documents"}

    def test_claim_without_an_id_takes_the_oldest_queued_job(self, store: JobStore) -> None:
        """``claim(None)`` serves the shared queue in order, then finds nothing."""
        first, _ = store.create("p12", "alice", saga_id="wiki-p12-1")
        second, _ = store.create("p13", "alice", saga_id="wiki-p13-1")
        taken = [store.claim(None, owner="b"), store.claim(None, owner="b")]
        assert [j.job_id if j else None for j in taken] == [first.job_id, second.job_id]
        assert store.claim(None, owner="b") is None
        with pytest.raises(ValueError, match="lease"):
            store.claim(None, owner="b", lease_seconds=0)

    def test_prune_removes_old_finished_jobs_and_never_active_ones(self, store: JobStore) -> None:
        """Finished jobs older than the age go; queued and running ones stay whatever their
        age, so does each project's newest succeeded job (the committed wiki's), and so do
        the jobs of the sagas asked to be kept."""
        old_ok, _ = store.create("r1", "alice", saga_id="wiki-r1-1")
        store.finish(old_ok.job_id, JobStatus.SUCCEEDED, result={"snapshot_id": "s1"})
        newest_ok, _ = store.create("r1", "alice", saga_id="wiki-r1-2")
        store.finish(newest_ok.job_id, JobStatus.SUCCEEDED, result={"snapshot_id": "s2"})
        failed, _ = store.create("r1", "alice", saga_id="wiki-r1-3")
        store.finish(failed.job_id, JobStatus.FAILED, error="x")
        kept_failed, _ = store.create("r2", "alice", saga_id="wiki-r2-1")
        store.finish(kept_failed.job_id, JobStatus.FAILED, error="needs an operator")
        running, _ = store.create("r2", "alice", saga_id="wiki-r2-2")
        store.claim(running.job_id, owner="b")
        queued, _ = store.create("r3", "alice", saga_id="wiki-r3-1")
        time.sleep(0.02)

        assert store.prune(3600) == 0
        assert store.prune(0, keep_sagas={"wiki-r2-1"}, batch_size=1) == 2
        left = {j.job_id for j in store.list_jobs(limit=100) if j.project_id.startswith("r")}
        assert left == {newest_ok.job_id, kept_failed.job_id, running.job_id, queued.job_id}
        assert store.last_succeeded("r1") == store.get(newest_ok.job_id)
        with pytest.raises(ValueError, match="negative"):
            store.prune(-1)


class TestSQLiteJobStore(JobStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[JobStore]:
        with open_job_store(f"sqlite:///{(tmp_path / 'sagas.db').as_posix()}") as opened:
            yield opened

    def test_a_table_made_before_claim_leases_gets_their_columns(self, tmp_path: Path) -> None:
        """Opening a database whose job table lacks the lease columns adds them, keeping
        its jobs; an old running job then counts as expired only once stale."""
        path = tmp_path / "old.db"
        with sqlite3.connect(path) as conn:
            conn.execute(
                "CREATE TABLE wiki_job (job_id TEXT NOT NULL PRIMARY KEY, project_id TEXT "
                "NOT NULL, user_id TEXT NOT NULL, saga_id TEXT NOT NULL UNIQUE, status TEXT "
                "NOT NULL, force INTEGER NOT NULL DEFAULT 0, idempotency_key TEXT, steps TEXT "
                "NOT NULL DEFAULT '{}', result TEXT, error TEXT, saga_status TEXT, created_at "
                "DOUBLE PRECISION NOT NULL, started_at DOUBLE PRECISION, finished_at DOUBLE "
                "PRECISION, updated_at DOUBLE PRECISION NOT NULL, UNIQUE (user_id, "
                "idempotency_key))"
            )
            conn.execute(
                "INSERT INTO wiki_job (job_id, project_id, user_id, saga_id, status, "
                "created_at, updated_at) VALUES ('job-0a', 'old', 'alice', 'wiki-old-1', "
                "'running', 1.0, 1.0)"
            )
        conn.close()
        with open_job_store(f"sqlite:///{path.as_posix()}") as store:
            old = store.get("job-0a")
            assert (old.claimed_by, old.lease_expires_at) == (None, None)
            assert [j.job_id for j in store.list_expired(stale_seconds=60)] == ["job-0a"]
            assert store.list_expired(stale_seconds=time.time()) == []


@pytest.mark.postgres
class TestPostgresJobStore(JobStoreContract):
    @pytest.fixture
    def store(self, postgres_url: str, postgres_schema: str) -> Iterator[JobStore]:
        with PostgresJobStore(postgres_url, schema=postgres_schema) as opened:
            yield opened

    def test_claims_from_two_connections_skip_each_other(
        self, postgres_url: str, postgres_schema: str
    ) -> None:
        """Two stores on one database: each claim_next gets a different queued job."""
        with (
            PostgresJobStore(postgres_url, schema=postgres_schema) as one,
            PostgresJobStore(postgres_url, schema=postgres_schema) as two,
        ):
            one.create("q1", "alice", saga_id="wiki-q1-1")
            one.create("q2", "alice", saga_id="wiki-q2-1")
            first, second = one.claim(), two.claim()
            assert first is not None
            assert second is not None
            assert first.job_id != second.job_id
            assert one.claim() is None
