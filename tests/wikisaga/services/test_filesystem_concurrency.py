"""Concurrent writers: one project serialised without lost updates, projects independent."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from service_support import OTHER, OWNER, ClientFactory


def _save(client: httpx.Client, project: str, path: str, content: str) -> httpx.Response:
    return client.post(
        "/save_file", json={"project_id": project, "file_path": path, "content": content}
    )


def test_concurrent_saves_of_different_files_all_land(
    make_client: ClientFactory, project_id: str
) -> None:
    clients = [make_client() for _ in range(8)]
    _save(clients[0], project_id, "seed.md", "seed")

    def save(i: int) -> httpx.Response:
        return _save(clients[i % 8], project_id, f"f{i:02d}.md", f"content {i}")

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(save, range(40)))

    assert all(r.status_code == 200 for r in responses)
    exported = clients[0].get(f"/export/{project_id}").json()["files"]
    contents = {f["path"]: f["content"] for f in exported}
    assert contents == {"seed.md": "seed", **{f"f{i:02d}.md": f"content {i}" for i in range(40)}}


def test_concurrent_saves_of_one_file_lose_no_update(
    make_client: ClientFactory, project_id: str
) -> None:
    """Each save replaces a different version: the saves form one chain, none overwritten blind."""
    clients = [make_client() for _ in range(8)]

    def save(i: int) -> dict[str, Any]:
        response = _save(clients[i % 8], project_id, "hot.md", f"writer {i}")
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(save, range(40)))

    previous = [r["previous_version"] for r in results]
    versions = {r["version"] for r in results}
    assert previous.count(None) == 1
    assert len(set(previous)) == len(previous), "two saves replaced the same version"
    assert set(previous) - {None} < versions
    (last,) = versions - set(previous)
    assert clients[0].get(f"/file/{project_id}/hot.md").json()["version"] == last


def test_different_projects_write_concurrently_without_mixing(
    make_client: ClientFactory, project_id: str
) -> None:
    projects = [f"{project_id}-{n}" for n in range(6)]
    clients = {p: make_client() for p in projects}

    def publish(project: str) -> int:
        body = {
            "project_id": project,
            "save": [
                {"file_path": f"wiki/{i}.md", "content": f"{project} page {i}" * 100}
                for i in range(45)
            ],
        }
        return clients[project].post("/batch", json=body).status_code

    with ThreadPoolExecutor(len(projects)) as pool:
        statuses = list(pool.map(publish, projects))

    assert statuses == [200] * len(projects)
    for project in projects:
        exported = clients[project].get(f"/export/{project}").json()["files"]
        assert len(exported) == 45
        assert all(f["content"].startswith(f"{project} page ") for f in exported)


def test_readers_never_see_half_of_a_batch(make_client: ClientFactory, project_id: str) -> None:
    """While batches switch 20 files between generations, every export shows one generation."""
    writer = make_client()
    paths = [f"wiki/{i}.md" for i in range(20)]

    def generation(n: int) -> dict[str, Any]:
        return {
            "project_id": project_id,
            "save": [{"file_path": p, "content": f"generation {n}"} for p in paths],
        }

    assert writer.post("/batch", json=generation(0)).status_code == 200
    done = threading.Event()
    mixed: list[set[str]] = []

    def read() -> None:
        reader = make_client()
        while not done.is_set():
            files = reader.get(f"/export/{project_id}").json()["files"]
            seen = {f["content"] for f in files}
            if len(seen) != 1:
                mixed.append(seen)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for thread in readers:
        thread.start()
    try:
        for n in range(1, 30):
            assert writer.post("/batch", json=generation(n)).status_code == 200
    finally:
        done.set()
        for thread in readers:
            thread.join(30)
    assert mixed == []


def test_two_users_racing_for_a_new_project_yield_one_owner(
    make_client: ClientFactory, project_id: str
) -> None:
    owners = {OWNER: make_client(user=OWNER), OTHER: make_client(user=OTHER)}
    barrier = threading.Barrier(2)

    def claim(user: str) -> int:
        barrier.wait()
        return _save(owners[user], project_id, f"{user}.md", user).status_code

    with ThreadPoolExecutor(2) as pool:
        statuses = dict(zip(owners, pool.map(claim, owners), strict=True))

    assert sorted(statuses.values()) == [200, 403]
    (winner,) = (user for user, status in statuses.items() if status == 200)
    (loser,) = set(owners) - {winner}
    assert owners[winner].get(f"/files/{project_id}").status_code == 200
    assert owners[loser].get(f"/files/{project_id}").status_code == 403
