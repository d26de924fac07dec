"""The job store contract, bound to SQLite and PostgreSQL: one active job per project,
idempotency keys, exclusive claims, steps and endings."""

from __future__ import annotations

import threading
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


class TestSQLiteJobStore(JobStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[JobStore]:
        with open_job_store(f"sqlite:///{(tmp_path / 'sagas.db').as_posix()}") as opened:
            yield opened


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
