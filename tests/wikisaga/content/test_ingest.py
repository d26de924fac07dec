"""Ingest on both backends: incremental writes, pruning, bad files, interruptions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from content_support import Interrupted, OpenStore, interrupt_at

from wikisaga.content.documents import DocumentStore
from wikisaga.content.ingest import IngestReport, Skipped, find_sources, ingest
from wikisaga.content.records import document_id
from wikisaga.errors import IngestError, InvalidProjectId, InvalidUserId, NotProjectOwner

FILES = {
    "guide.md": "# Guide\n\nHow to *use* it.\n\n```python\nprint('hi')\n```\n",
    "api/reference.rst": "Reference\n=========\n\nThe API.\n\n.. code-block:: sh\n\n   run it\n",
    "page.html": "<title>Page</title><h1>Welcome</h1><p>Hello.</p><script>x()</script>",
    "notes.txt": "Notes\n\nPlain text, kept as it is.\n",
}


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def reasons(report: IngestReport) -> dict[str, str]:
    return {skipped.path: skipped.reason for skipped in report.skipped}


class IngestContract:
    @pytest.fixture
    def store(self, open_store: OpenStore) -> DocumentStore:
        return open_store()

    def test_files_of_every_format_are_added_under_stable_ids(
        self, store: DocumentStore, project: str, tmp_path: Path
    ) -> None:
        root = write_tree(tmp_path / "docs", dict(FILES))

        report = ingest(store, project_id=project, user_id="alice", paths=[root])

        assert report.added == tuple(sorted(FILES))
        assert (report.updated, report.unchanged, report.removed, report.skipped) == ((),) * 4
        documents = store.read_documents(project)
        assert [d.source_path for d in documents] == sorted(FILES)
        assert [d.doc_id for d in documents] == [document_id(project, p) for p in sorted(FILES)]
        titles = {d.source_path: d.title for d in documents}
        assert titles == {
            "api/reference.rst": "Reference",
            "guide.md": "Guide",
            "notes.txt": "Notes",
            "page.html": "Page",
        }
        assert all(d.chunks and d.chunks[0].start == 0 for d in documents)

    def test_an_unchanged_tree_writes_nothing(
        self, open_store: OpenStore, project: str, tmp_path: Path
    ) -> None:
        root = write_tree(tmp_path / "docs", dict(FILES))
        ingest(open_store(), project_id=project, user_id="u", paths=[root])
        points: list[str] = []
        watched = open_store(fault=points.append)

        report = ingest(watched, project_id=project, user_id="u", paths=[root])

        assert report.unchanged == tuple(sorted(FILES))
        assert report.added == report.updated == ()
        assert points == []
        assert {info.revision for info in watched.list_documents(project)} == {1}

    def test_a_changed_file_is_updated_and_its_old_chunks_are_gone(
        self, store: DocumentStore, project: str, tmp_path: Path
    ) -> None:
        root = write_tree(tmp_path / "docs", dict(FILES))
        ingest(store, project_id=project, user_id="u", paths=[root])
        long = "# Guide\n\n" + "\n\n".join("word " * 200 for _ in range(4))
        (root / "guide.md").write_text(long, encoding="utf-8")

        report = ingest(store, project_id=project, user_id="u", paths=[root])

        assert report.updated == ("guide.md",)
        assert len(report.unchanged) == len(FILES) - 1
        guide = store.get_document(project, document_id(project, "guide.md"))
        assert guide is not None
        assert guide.revision == 2
        assert len(guide.chunks) > 1
        assert guide.code_blocks == ()
        assert all(guide.text[c.start : c.end] == c.text for c in guide.chunks)
        assert store.repair(project) == 0

    def test_prune_removes_the_documents_no_longer_among_the_paths(
        self, store: DocumentStore, project: str, tmp_path: Path
    ) -> None:
        root = write_tree(tmp_path / "docs", dict(FILES))
        ingest(store, project_id=project, user_id="u", paths=[root])
        (root / "notes.txt").unlink()
        (root / "page.html").write_bytes(b"\x00binary now")

        kept = ingest(store, project_id=project, user_id="u", paths=[root])
        assert kept.removed == ()
        assert "notes.txt" in [info.source_path for info in store.list_documents(project)]

        pruned = ingest(store, project_id=project, user_id="u", paths=[root], prune=True)

        assert pruned.removed == ("notes.txt",)
        # Still there but skipped: kept, in its last good version.
        assert reasons(pruned) == {"page.html": "binary file"}
        listed = [info.source_path for info in store.list_documents(project)]
        assert listed == ["api/reference.rst", "guide.md", "page.html"]

    def test_every_bad_file_is_skipped_with_its_reason(
        self, store: DocumentStore, project: str, tmp_path: Path
    ) -> None:
        outside = write_tree(tmp_path / "outside", {"secret.md": "# Secret\n\nnot yours"})
        root = write_tree(
            tmp_path / "docs",
            {
                "ok.md": "# OK\n\nfine",
                "binary.txt": b"PK\x03\x04\x00\x00 zip bytes",
                "latin1.txt": "caf\xe9 cr\xe8me".encode("latin-1"),
                "empty.md": "",
                "blank.rst": " \n\n\t\n",
                "big.md": "# Big\n\n" + "x" * 5000,
                "script-only.html": "<script>alert(1)</script><style>p{}</style>",
                "picture.png": b"\x89PNG\r\n",
                "CNAME": "docs.example.org\n",
                "theme/nav.html": '{% if nav %}<nav class="{{ c }}">{{ site }}</nav>{% endif %}',
                "changes.md": "# Changes\n\n```{include} ../CHANGES.md\n```\n",
                ".hidden.md": "# Hidden\n\nleft out silently",
                ".git/config.txt": "left out with its folder",
            },
        )
        (root / "escape.md").symlink_to(outside / "secret.md")
        (root / "inside.md").symlink_to(root / "ok.md")
        (root / "folder-link").symlink_to(root / ".git", target_is_directory=True)
        (root / "dangling.md").symlink_to(root / "nowhere.md")
        os.mkfifo(root / "pipe.txt")

        report = ingest(store, project_id=project, user_id="u", paths=[root], max_bytes=4096)

        assert report.added == ("inside.md", "ok.md")
        assert reasons(report) == {
            "CNAME": "no file name suffix (read only for README, LICENSE, CHANGES and the like)",
            "big.md": "too large (5007 bytes; the limit is 4096)",
            "binary.txt": "binary file",
            "blank.rst": "empty file",
            "dangling.md": "symlink to nothing readable",
            "empty.md": "empty file",
            "escape.md": "symlink out of the folder",
            "folder-link": "symlink to a folder (not followed)",
            "latin1.txt": "not UTF-8 text (byte 3)",
            "picture.png": "unsupported format (.png)",
            "pipe.txt": "not a regular file",
            "script-only.html": "no text",
            "theme/nav.html": "no text",
            "changes.md": "no text beyond its headings",
        }
        stored = [info.source_path for info in store.list_documents(project)]
        assert stored == ["inside.md", "ok.md"]

    def test_a_bad_project_or_user_id_is_refused_before_anything_is_read(
        self, store: DocumentStore, tmp_path: Path
    ) -> None:
        root = write_tree(tmp_path / "docs", {"a.md": "# A\n\ntext"})
        with pytest.raises(InvalidProjectId):
            ingest(store, project_id="../escape", user_id="u", paths=[root])
        with pytest.raises(InvalidUserId):
            ingest(store, project_id="fine", user_id="", paths=[root])
        assert store.list_documents("fine") == []

    def test_a_missing_path_is_an_error_and_prunes_nothing(
        self, store: DocumentStore, project: str, tmp_path: Path
    ) -> None:
        root = write_tree(tmp_path / "docs", dict(FILES))
        ingest(store, project_id=project, user_id="u", paths=[root])

        with pytest.raises(IngestError, match="no such file or folder"):
            ingest(store, project_id=project, user_id="u", paths=[tmp_path / "dcos"], prune=True)

        assert len(store.list_documents(project)) == len(FILES)

    def test_another_users_project_is_refused(
        self, store: DocumentStore, project: str, tmp_path: Path
    ) -> None:
        root = write_tree(tmp_path / "docs", {"a.md": "# A\n\ntext"})
        ingest(store, project_id=project, user_id="alice", paths=[root])
        (root / "a.md").write_text("# Mallory was here\n", encoding="utf-8")

        with pytest.raises(NotProjectOwner):
            ingest(store, project_id=project, user_id="mallory", paths=[root], prune=True)

        (info,) = store.list_documents(project)
        assert (info.title, info.user_id) == ("A", "alice")

    def test_an_interrupted_ingest_leaves_no_document_half_replaced_and_a_rerun_completes_it(
        self, open_store: OpenStore, project: str, tmp_path: Path
    ) -> None:
        old = {f"d{n}.md": f"# Old {n}\n\n" + "old words " * 150 for n in range(5)}
        new = {f"d{n}.md": f"# New {n}\n\n" + "new words " * 40 for n in range(5)}
        root = write_tree(tmp_path / "docs", dict(old))
        ingest(open_store(), project_id=project, user_id="u", paths=[root])
        write_tree(root, dict(new))
        cut = open_store(fault=interrupt_at("chunks_written", after=1))

        with pytest.raises(Interrupted):
            ingest(cut, project_id=project, user_id="u", paths=[root], batch=2)

        store = open_store()
        titles = [doc.title for doc in store.read_documents(project)]
        assert titles == ["New 0", "New 1", "Old 2", "Old 3", "Old 4"]
        for document in store.read_documents(project):
            assert all(document.text[c.start : c.end] == c.text for c in document.chunks)
            assert document.text.startswith(document.title)
        rerun = ingest(store, project_id=project, user_id="u", paths=[root])
        assert rerun.repaired > 0
        assert rerun.updated == ("d2.md", "d3.md", "d4.md")
        assert rerun.unchanged == ("d0.md", "d1.md")
        assert [doc.title for doc in store.read_documents(project)] == [
            f"New {n}" for n in range(5)
        ]


class TestIngestEmbedded(IngestContract):
    @pytest.fixture
    def open_store(self, open_embedded: OpenStore) -> OpenStore:
        return open_embedded


class TestIngestServer(IngestContract):
    @pytest.fixture
    def open_store(self, open_server: OpenStore) -> OpenStore:
        return open_server


# -- finding the files (no store) ---------------------------------------------------------


def test_files_given_by_name_keep_their_name_and_folders_their_relative_paths(
    tmp_path: Path,
) -> None:
    write_tree(tmp_path, {"one.md": "# 1", "tree/a/b.md": "# b", "tree/c.txt": "c"})

    files, skipped = find_sources([tmp_path / "one.md", tmp_path / "tree"])

    assert [f.source_path for f in files] == ["one.md", "a/b.md", "c.txt"]
    assert skipped == []


def test_the_same_source_path_from_two_paths_is_taken_once(tmp_path: Path) -> None:
    write_tree(tmp_path, {"x/readme.md": "# x", "y/readme.md": "# y"})

    files, skipped = find_sources([tmp_path / "x", tmp_path / "y"])

    assert [f.path for f in files] == [(tmp_path / "x" / "readme.md").resolve()]
    assert skipped == [Skipped("readme.md", "same source path as readme.md")]


def test_a_symlinked_folder_given_by_name_is_walked(tmp_path: Path) -> None:
    write_tree(tmp_path, {"real/a.md": "# a"})
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)

    files, _ = find_sources([tmp_path / "link"])

    assert [f.source_path for f in files] == ["a.md"]
