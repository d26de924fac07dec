"""Concurrent writers: one project serialised without lost updates, projects independent.

The tests hold the service's metadata database (``held_database``) to catch requests at
an observable point: every write stops at its commit, so a test can see that several
were under way at once (the service's in-progress gauge, blob files on disk) before it
lets them go. Nothing waits for time to pass.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from service_support import (
    OTHER,
    OWNER,
    ClientFactory,
    blob_file,
    held_database,
    requests_in_progress,
    wait_until,
)

LARGE = 300 * 1024
"""Bytes of a content stored as a blob file (over the 256 KiB kept inline)."""


def _save(client: httpx.Client, project: str, path: str, content: str) -> httpx.Response:
    return client.post(
        "/save_file", json={"project_id": project, "file_path": path, "content": content}
    )


def _large(tag: str) -> str:
    return tag + "\n" + "x" * (LARGE - len(tag) - 1)


def _all_at_once(
    client: httpx.Client, storage_root: Path, calls: list[Callable[[], httpx.Response]]
) -> list[httpx.Response]:
    """Start ``calls`` together and answer none before all of them are being handled."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], httpx.Response]) -> httpx.Response:
        start.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool, held_database(storage_root):
        futures = [pool.submit(run, call) for call in calls]
        wait_until(
            lambda: requests_in_progress(client) >= len(calls),
            f"all {len(calls)} requests are being handled at once",
        )
        assert not any(f.done() for f in futures), "a write finished with the database held"
    return [f.result() for f in futures]


def test_concurrent_saves_of_different_files_all_land(
    make_client: ClientFactory, project_id: str, filesystem_data_dir: Path
) -> None:
    """Sixteen saves of different files, all under way at once, all land."""
    clients = [make_client() for _ in range(16)]
    _save(clients[0], project_id, "seed.md", "seed")
    calls = [
        lambda i=i: _save(clients[i], project_id, f"f{i:02d}.md", f"content {i}") for i in range(16)
    ]
    responses = _all_at_once(clients[0], filesystem_data_dir, calls)

    assert [r.status_code for r in responses] == [200] * 16
    exported = clients[0].get(f"/export/{project_id}").json()["files"]
    contents = {f["path"]: f["content"] for f in exported}
    assert contents == {"seed.md": "seed", **{f"f{i:02d}.md": f"content {i}" for i in range(16)}}


def test_concurrent_saves_of_one_file_lose_no_update(
    make_client: ClientFactory, project_id: str, filesystem_data_dir: Path
) -> None:
    """Sixteen saves of one file, all under way at once, each replace a different version:
    the saves form one chain, none overwrote another blind."""
    clients = [make_client() for _ in range(16)]
    calls = [lambda i=i: _save(clients[i], project_id, "hot.md", f"writer {i}") for i in range(16)]
    responses = _all_at_once(clients[0], filesystem_data_dir, calls)

    assert [r.status_code for r in responses] == [200] * 16
    results = [r.json() for r in responses]
    previous = [r["previous_version"] for r in results]
    versions = {r["version"] for r in results}
    assert previous.count(None) == 1
    assert len(set(previous)) == len(previous), "two saves replaced the same version"
    assert set(previous) - {None} < versions
    (last,) = versions - set(previous)
    current = clients[0].get(f"/file/{project_id}/hot.md").json()
    assert current["version"] == last
    assert current["content"] == next(
        f"writer {i}" for i, r in enumerate(results) if r["version"] == last
    )


def test_a_second_batch_of_one_project_stores_nothing_until_the_first_committed(
    make_client: ClientFactory, project_id: str, filesystem_data_dir: Path
) -> None:
    """Writes to one project are serialised: while one batch waits at its commit, a second
    batch of the project stores none of its contents, though a batch of another project,
    sent after it, gets as far as its commit meanwhile."""
    client = make_client()
    other_project = f"{project_id}-other"
    first, second, other = _large("first"), _large("second"), _large("other")

    def batch(project: str, content: str) -> Callable[[], httpx.Response]:
        body = {"project_id": project, "save": [{"file_path": "big.md", "content": content}]}
        return lambda: make_client().post("/batch", json=body)

    with ThreadPoolExecutor(3) as pool, held_database(filesystem_data_dir):
        sent = [pool.submit(batch(project_id, first))]
        wait_until(
            lambda: blob_file(filesystem_data_dir, project_id, first).exists(),
            "the first batch stored its content",
        )
        sent.append(pool.submit(batch(project_id, second)))
        wait_until(lambda: requests_in_progress(client) >= 2, "the second batch is being handled")
        sent.append(pool.submit(batch(other_project, other)))
        wait_until(
            lambda: blob_file(filesystem_data_dir, other_project, other).exists(),
            "the other project's batch stored its content",
        )
        assert not blob_file(filesystem_data_dir, project_id, second).exists(), (
            "the second batch wrote while the first held the project"
        )
        assert not any(f.done() for f in sent)
    responses = [f.result() for f in sent]

    assert [r.status_code for r in responses] == [200] * 3
    first_version = responses[0].json()["results"][0]["version"]
    assert responses[1].json()["results"][0]["previous_version"] == first_version
    assert client.get(f"/file/{project_id}/big.md").json()["content"] == second


def test_different_projects_write_concurrently_without_mixing(
    make_client: ClientFactory, project_id: str, filesystem_data_dir: Path
) -> None:
    """Six projects' batches get past their checks and store their contents at the same
    time (none waits for another's commit), and each lands whole in its own project."""
    projects = [f"{project_id}-{n}" for n in range(6)]
    clients = {p: make_client() for p in projects}

    def body(project: str) -> dict[str, Any]:
        save = [
            {"file_path": f"wiki/{i}.md", "content": f"{project} page {i}" * 100} for i in range(45)
        ]
        save.append({"file_path": "wiki/large.md", "content": _large(project)})
        return {"project_id": project, "save": save}

    with ThreadPoolExecutor(len(projects)) as pool, held_database(filesystem_data_dir):
        sent = {p: pool.submit(clients[p].post, "/batch", json=body(p)) for p in projects}
        wait_until(
            lambda: all(blob_file(filesystem_data_dir, p, _large(p)).exists() for p in projects),
            "every project stored its large content",
        )
        assert not any(f.done() for f in sent.values())
    statuses = [sent[p].result().status_code for p in projects]

    assert statuses == [200] * len(projects)
    for project in projects:
        exported = clients[project].get(f"/export/{project}").json()["files"]
        assert len(exported) == 46
        assert all(f["content"].startswith(project) for f in exported)


def test_readers_never_see_half_of_a_batch(
    make_client: ClientFactory, project_id: str, filesystem_data_dir: Path
) -> None:
    """While batches switch 20 files between generations, every export shows one whole
    generation. Reads run all along; one batch is held at its commit until every reader
    has read through it (they see the generation before it), and after the last batch
    every reader sees the last generation."""
    writer = make_client()
    paths = [f"wiki/{i}.md" for i in range(20)]

    def generation(n: int) -> dict[str, Any]:
        return {
            "project_id": project_id,
            "save": [{"file_path": p, "content": f"generation {n}"} for p in paths],
        }

    assert writer.post("/batch", json=generation(0)).status_code == 200
    ticks = itertools.count()  # orders reads and batches; next() is atomic under the GIL
    reads: list[list[tuple[int, int, frozenset[str]]]] = [[] for _ in range(3)]
    progress = threading.Condition()
    start = threading.Barrier(len(reads) + 1)
    done = threading.Event()

    def read(log: list[tuple[int, int, frozenset[str]]]) -> None:
        reader = make_client()
        start.wait()
        while not done.is_set():
            begun = next(ticks)
            files = reader.get(f"/export/{project_id}").json()["files"]
            with progress:
                log.append((begun, next(ticks), frozenset(f["content"] for f in files)))
                progress.notify_all()

    def post_announced(body: dict[str, Any], posting: Future[int]) -> httpx.Response:
        posting.set_result(next(ticks))  # a read begun after this overlaps the batch
        return writer.post("/batch", json=body)

    readers = [threading.Thread(target=read, args=(log,)) for log in reads]
    for thread in readers:
        thread.start()
    held: list[frozenset[str]] = []
    last: list[frozenset[str]] = []
    try:
        start.wait()
        for n in range(1, 30):
            if n != 15:
                assert writer.post("/batch", json=generation(n)).status_code == 200
                continue
            with ThreadPoolExecutor(1) as pool, held_database(filesystem_data_dir):
                posting: Future[int] = Future()
                sent = pool.submit(post_announced, generation(n), posting)
                begun = posting.result(timeout=20)
                with progress:
                    assert progress.wait_for(
                        lambda begun=begun: all(any(r[0] > begun for r in log) for log in reads),
                        20,
                    ), "the readers did not read while the batch was held"
                    held = [r[2] for log in reads for r in log if r[0] > begun]
                assert not sent.done()
            assert sent.result().status_code == 200
        ended = next(ticks)
        with progress:
            assert progress.wait_for(
                lambda: all(any(r[0] > ended for r in log) for log in reads), 20
            ), "the readers did not read after the last batch"
            last = [r[2] for log in reads for r in log if r[0] > ended]
    finally:
        done.set()
        for thread in readers:
            thread.join(30)
    assert not any(thread.is_alive() for thread in readers)

    assert [seen for log in reads for _, _, seen in log if len(seen) != 1] == []
    assert held, "no read ran while the batch was held"
    assert set(held) == {frozenset({"generation 14"})}
    assert last, "no read ran after the last batch"
    assert set(last) == {frozenset({"generation 29"})}


def test_two_users_racing_for_a_new_project_yield_one_owner(
    make_client: ClientFactory, project_id: str, filesystem_data_dir: Path
) -> None:
    """Two users' first writes to a new project, both under way at once: one owns it, the
    other is refused and can read nothing of it."""
    owners = {OWNER: make_client(user=OWNER), OTHER: make_client(user=OTHER)}
    calls = [
        lambda user=user: _save(owners[user], project_id, f"{user}.md", user) for user in owners
    ]
    responses = _all_at_once(owners[OWNER], filesystem_data_dir, calls)
    statuses = dict(zip(owners, (r.status_code for r in responses), strict=True))

    assert sorted(statuses.values()) == [200, 403]
    (winner,) = (user for user, status in statuses.items() if status == 200)
    (loser,) = set(owners) - {winner}
    assert owners[winner].get(f"/files/{project_id}").status_code == 200
    assert owners[loser].get(f"/files/{project_id}").status_code == 403
    assert [f["path"] for f in owners[winner].get(f"/files/{project_id}").json()["files"]] == [
        f"{winner}.md"
    ]
