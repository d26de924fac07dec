"""Hostile paths and planted symlinks: refused with 4xx, nothing written anywhere."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from service_support import tree_digest

from wikisaga.launcher import ServiceProcess, ServiceStartError

BAD_FILE_PATHS = [
    "",
    ".",
    "..",
    "../escaped.md",
    "../../escaped.md",
    "../../../../../../../../tmp/escaped.md",
    "a/../../escaped.md",
    "wiki/../../escaped.md",
    "a/./b.md",
    "./a.md",
    "a/..",
    "/etc/passwd",
    "/tmp/escaped.md",
    "//server/share/x.md",
    "a//b.md",
    "a/",
    "/",
    "C:/Windows/win.ini",
    "c:escaped.md",
    "C:\\Windows\\win.ini",
    "..\\escaped.md",
    "a\\..\\..\\escaped.md",
    "a\x00.md",
    "a.md\x00.png",
    "a\nb.md",
    "a\rb.md",
    "a\tb.md",
    "a\x1b[31m.md",
    "a\x7f.md",
    "%2e%2e/escaped.md",
    "%2e%2e%2fescaped.md",
    "..%2fescaped.md",
    "..%5cescaped.md",
    "%252e%252e/escaped.md",
    "%c0%ae%c0%ae/escaped.md",
    "a%00.md",
    "\u2215etc\u2215passwd",
    "..\u2215escaped.md",
    "..\uff0fescaped.md",
    "..\u29f8escaped.md",
    "..\u2044escaped.md",
    "..\uff3cescaped.md",
    "..\u2216escaped.md",
    "\u2024\u2024/escaped.md",
    "\u2025/escaped.md",
    "\uff0e\uff0e/escaped.md",
    "\ufe52\ufe52/escaped.md",
    "a\u202egpj.md",
    "a\u200b.md",
    "\ufeffa.md",
    "a\u00a0b.md",
    "a\u2028b.md",
    "a\ue000.md",
    "x" * 513,
    "/".join(["d"] * 17),
    "x" * 256 + ".md",
    ".git/config",
    ".GIT/HEAD",
    "wiki/.git/hooks/pre-commit",
    "a/b .md/",
    " leading.md",
    "trailing.",
    "file.md:stream",
    "a*.md",
    "a?.md",
    "a<b>.md",
    "a|b.md",
    'a"b.md',
]

BAD_PROJECT_IDS = [
    "",
    ".",
    "..",
    "../escaped",
    "a/b",
    "a\\b",
    ".hidden",
    "-leading-dash",
    "a..b",
    "x" * 129,
    "p\x00",
    "p\n",
    "prö",
    "p%2e%2e",
    "p:1",
    "p q",
]


def test_the_corpus_has_at_least_fifty_hostile_paths() -> None:
    assert len(set(BAD_FILE_PATHS)) >= 50


@pytest.fixture
def seeded(client: httpx.Client, project_id: str) -> str:
    """A project of OWNER holding one file."""
    response = client.post(
        "/save_file", json={"project_id": project_id, "file_path": "wiki/a.md", "content": "x"}
    )
    assert response.status_code == 200
    return project_id


def _service_base(filesystem_service: ServiceProcess) -> Path:
    return Path(filesystem_service.env["WIKISAGA_DATA_DIR"]).parent


def _everything_but_logs(base: Path) -> dict[str, str]:
    return {k: v for k, v in tree_digest(base).items() if not k.startswith("logs")}


def _assert_refused(response: httpx.Response) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    body = response.json()
    assert set(body) >= {"error", "detail"}


def _hostile_requests(client: httpx.Client, project: str) -> int:
    """Send every hostile payload through every entry point; return how many were sent."""
    sent = 0
    for path in BAD_FILE_PATHS:
        responses = [
            client.post(
                "/save_file", json={"project_id": project, "file_path": path, "content": "pwn"}
            ),
            client.post(
                "/batch",
                json={
                    "project_id": project,
                    "save": [
                        {"file_path": "wiki/fine.md", "content": "fine"},
                        {"file_path": path, "content": "pwn"},
                    ],
                },
            ),
            client.post("/batch", json={"project_id": project, "delete": ["wiki/a.md", path]}),
            client.post(
                "/restore",
                json={
                    "project_id": project,
                    "files": [
                        {"path": "wiki/a.md", "version": None},
                        {"path": path, "version": None},
                    ],
                },
            ),
            client.post(f"/versions/{project}", json={"paths": [path]}),
            client.get(f"/files/{project}", params={"prefix": path + "/"}),
        ]
        encoded = quote(path, safe="")
        if encoded:
            responses += [
                client.get(f"/file/{project}/{encoded}"),
                client.delete(f"/file/{project}/{encoded}"),
                client.get(f"/versions/{project}", params={"paths": path}),
            ]
        for response in responses:
            _assert_refused(response)
            sent += 1
    for bad_project in BAD_PROJECT_IDS:
        # A '/' cannot be part of a URL segment: the server rightly reads "a%2Fb" as "a/b".
        encoded = "" if "/" in bad_project else quote(bad_project, safe="")
        responses = [
            client.post(
                "/save_file",
                json={"project_id": bad_project, "file_path": "a.md", "content": "pwn"},
            ),
            client.post(
                "/batch",
                json={"project_id": bad_project, "save": [{"file_path": "a.md", "content": "p"}]},
            ),
            client.post("/restore", json={"project_id": bad_project, "files": []}),
        ]
        if encoded:
            responses += [
                client.get(f"/files/{encoded}"),
                client.get(f"/export/{encoded}"),
                client.get(f"/file/{encoded}/a.md"),
                client.delete(f"/file/{encoded}/a.md"),
            ]
        for response in responses:
            _assert_refused(response)
            sent += 1
    return sent


def test_hostile_paths_are_refused_and_change_nothing_anywhere(
    filesystem_service: ServiceProcess, client: httpx.Client, seeded: str
) -> None:
    """Every hostile path or project id, through every endpoint, is a 4xx JSON error;
    the data dir and everything around it is byte-for-byte unchanged."""
    base = _service_base(filesystem_service)
    before = _everything_but_logs(base)
    export_before = client.get(f"/export/{seeded}").json()

    sent = _hostile_requests(client, seeded)

    assert sent > 500
    assert _everything_but_logs(base) == before
    assert client.get(f"/export/{seeded}").json() == export_before
    assert not list(base.rglob("*escaped*"))
    assert not Path("/tmp/escaped.md").exists()


def test_a_path_refusal_names_the_field_and_the_reason(
    client: httpx.Client, project_id: str
) -> None:
    response = client.post(
        "/save_file",
        json={"project_id": project_id, "file_path": "a\u2215b.md", "content": "x"},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_path"
    assert body["field"] == "file_path"
    assert "U+2215" in body["detail"]


def test_decomposed_unicode_paths_are_stored_in_nfc(client: httpx.Client, project_id: str) -> None:
    response = client.post(
        "/save_file",
        json={"project_id": project_id, "file_path": "cafe\u0301.md", "content": "x"},
    )
    assert response.json()["path"] == "caf\u00e9.md"
    assert client.get(f"/file/{project_id}/caf\u00e9.md").status_code == 200
    assert client.get(f"/file/{project_id}/cafe\u0301.md").status_code == 200


# -- planted symlinks ---------------------------------------------------------------------
# Only contents over 256 KiB are stored as files below the project dir (smaller ones are
# stored in the metadata database), so these tests write contents of 300 KiB.

LARGE = 300 * 1024


def _large(text: str) -> str:
    return text + "." * (LARGE - len(text))


def _project_dir(data_dir: Path, project: str) -> Path:
    return data_dir / "projects" / project


def test_a_symlink_planted_as_a_project_dir_is_not_written_through(
    filesystem_data_dir: Path, client: httpx.Client, project_id: str, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    _project_dir(filesystem_data_dir, project_id).symlink_to(outside, target_is_directory=True)

    response = client.post(
        "/save_file",
        json={"project_id": project_id, "file_path": "a.md", "content": _large("x")},
    )

    assert response.status_code == 409
    assert response.json()["error"] == "unsafe_storage"
    assert list(outside.iterdir()) == []
    assert client.get(f"/files/{project_id}").json()["files"] == []


def test_a_symlink_planted_as_the_objects_dir_is_neither_read_nor_written(
    filesystem_data_dir: Path, client: httpx.Client, seeded: str, tmp_path: Path
) -> None:
    saved = client.post(
        "/save_file",
        json={"project_id": seeded, "file_path": "wiki/a.md", "content": _large("x")},
    )
    assert saved.status_code == 200
    objects = _project_dir(filesystem_data_dir, seeded) / "objects"
    copy = tmp_path / "objects-copy"
    shutil.move(objects, copy)
    objects.symlink_to(copy, target_is_directory=True)
    before = tree_digest(copy)

    read = client.get(f"/file/{seeded}/wiki/a.md")
    write = client.post(
        "/save_file",
        json={"project_id": seeded, "file_path": "wiki/b.md", "content": _large("new")},
    )

    assert (read.status_code, write.status_code) == (409, 409)
    assert "content" not in read.json()
    assert tree_digest(copy) == before


def test_a_blob_replaced_by_a_symlink_is_not_read_and_is_replaced_on_write(
    filesystem_data_dir: Path, client: httpx.Client, project_id: str, tmp_path: Path
) -> None:
    content = _large("page content")
    saved = client.post(
        "/save_file", json={"project_id": project_id, "file_path": "a.md", "content": content}
    ).json()
    blob = _project_dir(filesystem_data_dir, project_id) / "objects" / saved["sha256"]
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    blob.unlink()
    blob.symlink_to(secret)

    read = client.get(f"/file/{project_id}/a.md")
    export = client.get(f"/export/{project_id}")
    assert (read.status_code, export.status_code) == (409, 409)
    assert "TOP SECRET" not in read.text + export.text

    again = client.post(
        "/save_file", json={"project_id": project_id, "file_path": "b.md", "content": content}
    )
    assert again.status_code == 200
    assert secret.read_text() == "TOP SECRET"
    assert not blob.is_symlink()
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == saved["sha256"]
    assert client.get(f"/file/{project_id}/a.md").json()["content"] == content


def test_the_service_refuses_to_start_on_a_symlinked_database(tmp_path: Path) -> None:
    data = tmp_path / "data" / "filesystem"
    data.mkdir(parents=True)
    (tmp_path / "elsewhere.db").write_bytes(b"")
    os.symlink(tmp_path / "elsewhere.db", data / "meta.db")
    service = ServiceProcess(
        "filesystem",
        env={"WIKISAGA_INTERNAL_TOKEN": "t", "WIKISAGA_DATA_DIR": str(tmp_path / "data")},
        log_dir=tmp_path / "logs",
    )
    with pytest.raises(ServiceStartError, match="symlink"):
        service.start()
    assert service.returncode == 2
    assert (tmp_path / "elsewhere.db").read_bytes() == b""
