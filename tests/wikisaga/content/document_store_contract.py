"""The document store contract as tests, for every backend to pass.

Subclass :class:`DocumentStoreContract` (no ``Test`` prefix: it is collected only through
a subclass) and give it an ``open_store`` fixture: a function taking the backend's options
(``page_size``, ``fault``) and returning a store on one fresh location, the same location
each call, so a test can reopen what it wrote.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from content_support import Interrupted, OpenStore, interrupt_at, many_chunks, markdown

from wikisaga.content.documents import DocumentStore
from wikisaga.content.records import Document
from wikisaga.errors import InvalidProjectId, InvalidUserId

LONG = "\n\n".join(f"Paragraph {n} " + "word " * 120 for n in range(6))
"""Markdown that makes several chunks."""


def stored(document: Document, revision: int) -> Document:
    return replace(document, revision=revision)


class DocumentStoreContract:
    @pytest.fixture
    def store(self, open_store: OpenStore) -> DocumentStore:
        return open_store()

    # -- writing and reading -----------------------------------------------------------

    def test_a_document_reads_back_whole_with_its_chunks(
        self, store: DocumentStore, project: str
    ) -> None:
        """Text, title, outline, code blocks and every chunk come back as written."""
        body = "# Guide\n\nIntro.\n\n## Install\n\n```sh\npip install x\n```\n\n" + LONG
        document = markdown(project, "guide.md", body)
        assert len(document.chunks) > 1
        assert document.code_blocks

        written = store.put_documents([document], user_id="alice")

        assert written == [stored(document, 1)]
        assert store.get_document(project, document.doc_id) == stored(document, 1)

    def test_documents_are_listed_and_read_sorted_by_source_path(
        self, store: DocumentStore, project: str
    ) -> None:
        """Whatever order they were written in (Chroma keeps insertion order)."""
        paths = ["zeta.md", "b/a.md", "alpha.md", "b.md", "a/z.md"]
        for path in paths:
            store.put_documents([markdown(project, path, f"# {path}\n\ntext")], user_id="u")

        assert [info.source_path for info in store.list_documents(project)] == sorted(paths)
        assert [doc.source_path for doc in store.read_documents(project)] == sorted(paths)

    def test_the_listing_says_what_is_stored_without_the_text(
        self, store: DocumentStore, project: str
    ) -> None:
        document = markdown(project, "a.md", "# A\n\n" + LONG)
        store.put_documents([document], user_id="alice")

        (info,) = store.list_documents(project)

        assert (info.doc_id, info.title, info.content_hash, info.format) == (
            document.doc_id,
            "A",
            document.content_hash,
            "markdown",
        )
        assert (info.revision, info.chunk_count, info.user_id) == (
            1,
            len(document.chunks),
            "alice",
        )
        assert info.ingest_version == document.ingest_version

    def test_a_new_version_replaces_every_chunk_of_the_old(
        self, store: DocumentStore, project: str
    ) -> None:
        """Revision 2 has its own chunks only; nothing of revision 1 is left over."""
        first = markdown(project, "a.md", "# First\n\n" + LONG)
        second = markdown(project, "a.md", "# Second\n\nshort now")
        store.put_documents([first], user_id="u")

        store.put_documents([second], user_id="u")

        assert store.get_document(project, first.doc_id) == stored(second, 2)
        assert store.repair(project) == 0

    def test_an_unknown_document_is_none_and_an_empty_project_has_nothing(
        self, store: DocumentStore, project: str
    ) -> None:
        assert store.get_document(project, "doc-missing") is None
        assert store.list_documents(project) == []
        assert store.read_documents(project) == []
        assert store.delete_documents(project, ["doc-missing"]) == 0
        assert store.repair(project) == 0

    def test_delete_removes_every_version_and_counts_what_was_there(
        self, store: DocumentStore, project: str
    ) -> None:
        keep = markdown(project, "keep.md", "# Keep\n\ntext")
        gone = markdown(project, "gone.md", "# Gone\n\n" + LONG)
        store.put_documents([keep, gone], user_id="u")
        store.put_documents([gone], user_id="u")

        assert store.delete_documents(project, [gone.doc_id, "doc-never-stored"]) == 1

        assert [info.source_path for info in store.list_documents(project)] == ["keep.md"]
        assert store.repair(project) == 0

    def test_projects_do_not_see_each_other(self, store: DocumentStore, project: str) -> None:
        other = project + "-other"
        mine = markdown(project, "same.md", "# Mine\n\ntext")
        theirs = markdown(other, "same.md", "# Theirs\n\ntext")
        store.put_documents([mine, theirs], user_id="u")

        store.delete_documents(other, [mine.doc_id])

        assert mine.doc_id != theirs.doc_id
        assert [doc.title for doc in store.read_documents(project)] == ["Mine"]
        assert [doc.title for doc in store.read_documents(other)] == ["Theirs"]

    def test_a_reopened_store_reads_what_was_written(
        self, open_store: OpenStore, project: str
    ) -> None:
        document = markdown(project, "a.md", "# A\n\n" + LONG)
        with open_store() as store:
            store.put_documents([document], user_id="u")

        with open_store() as again:
            assert again.get_document(project, document.doc_id) == stored(document, 1)

    # -- Chroma's limits ---------------------------------------------------------------

    def test_more_chunks_than_one_chroma_batch_are_written_and_read_back(
        self, store: DocumentStore, project: str
    ) -> None:
        """6,000 chunks in one project (Chroma takes at most 5,461 records a call)."""
        big = many_chunks(project, "big.txt", 6000)
        small = many_chunks(project, "small.txt", 3)

        store.put_documents([big, small], user_id="u")

        assert store.get_document(project, big.doc_id) == stored(big, 1)
        read = store.read_documents(project)
        assert [doc.source_path for doc in read] == ["big.txt", "small.txt"]
        assert [len(doc.chunks) for doc in read] == [6000, 3]
        assert read[0].chunks == big.chunks

    def test_reads_page_through_pages_smaller_than_the_project(
        self, open_store: OpenStore, project: str
    ) -> None:
        """With pages of 3 records, 12 documents of 4 chunks each are all found, sorted."""
        store = open_store(page_size=3)
        documents = [many_chunks(project, f"d{n:02}.txt", 4) for n in reversed(range(12))]

        store.put_documents(documents, user_id="u")
        store.put_documents(documents[:5], user_id="u")

        infos = store.list_documents(project)
        assert [info.source_path for info in infos] == [f"d{n:02}.txt" for n in range(12)]
        assert all(len(doc.chunks) == 4 for doc in store.read_documents(project))
        assert store.repair(project) == 0
        assert store.delete_documents(project, [doc.doc_id for doc in documents]) == 12
        assert store.list_documents(project) == []

    # -- interrupted writes ------------------------------------------------------------

    def test_a_write_cut_off_after_its_chunks_leaves_the_old_version(
        self, open_store: OpenStore, project: str
    ) -> None:
        old = markdown(project, "a.md", "# Old\n\n" + LONG)
        new = markdown(project, "a.md", "# New\n\n" + LONG + " more")
        open_store().put_documents([old], user_id="u")
        cut = open_store(fault=interrupt_at("chunks_written"))

        with pytest.raises(Interrupted):
            cut.put_documents([new], user_id="u")

        store = open_store()
        assert store.get_document(project, old.doc_id) == stored(old, 1)
        assert store.repair(project) == len(new.chunks)
        assert store.put_documents([new], user_id="u") == [stored(new, 2)]
        assert store.get_document(project, old.doc_id) == stored(new, 2)

    def test_a_write_cut_off_before_the_old_version_is_deleted_shows_the_new(
        self, open_store: OpenStore, project: str
    ) -> None:
        old = markdown(project, "a.md", "# Old\n\n" + LONG)
        new = markdown(project, "a.md", "# New\n\nshort")
        open_store().put_documents([old], user_id="u")
        cut = open_store(fault=interrupt_at("records_written"))

        with pytest.raises(Interrupted):
            cut.put_documents([new], user_id="u")

        store = open_store()
        assert store.get_document(project, old.doc_id) == stored(new, 2)
        assert [info.revision for info in store.list_documents(project)] == [2]
        assert store.repair(project) == 1 + len(old.chunks)
        assert store.get_document(project, old.doc_id) == stored(new, 2)

    def test_a_delete_cut_off_after_the_records_hides_the_document(
        self, open_store: OpenStore, project: str
    ) -> None:
        document = markdown(project, "a.md", "# A\n\n" + LONG)
        open_store().put_documents([document], user_id="u")
        cut = open_store(fault=interrupt_at("records_deleted"))

        with pytest.raises(Interrupted):
            cut.delete_documents(project, [document.doc_id])

        store = open_store()
        assert store.get_document(project, document.doc_id) is None
        assert store.list_documents(project) == []
        assert store.repair(project) == len(document.chunks)

    # -- refusals ----------------------------------------------------------------------

    @pytest.mark.parametrize("bad", ["../etc", "", "a b", "x" * 200, ".hidden"])
    def test_a_bad_project_id_is_refused_by_every_method(
        self, store: DocumentStore, bad: str
    ) -> None:
        document = replace(many_chunks("fine", "a.txt", 1), project_id=bad)
        with pytest.raises(InvalidProjectId):
            store.put_documents([document], user_id="u")
        for call in (
            store.list_documents,
            store.read_documents,
            store.repair,
            lambda p: store.get_document(p, "doc-x"),
            lambda p: store.delete_documents(p, ["doc-x"]),
        ):
            with pytest.raises(InvalidProjectId):
                call(bad)

    def test_a_bad_user_id_is_refused_before_anything_is_written(
        self, store: DocumentStore, project: str
    ) -> None:
        with pytest.raises(InvalidUserId):
            store.put_documents([many_chunks(project, "a.txt", 2)], user_id=" ")
        assert store.list_documents(project) == []

    def test_a_document_whose_chunks_are_not_spans_of_its_text_is_refused(
        self, store: DocumentStore, project: str
    ) -> None:
        good = many_chunks(project, "a.txt", 3)
        shifted = replace(good, chunks=(replace(good.chunks[0], start=1),))
        renamed = replace(good, doc_id="doc-chosen-by-hand")
        for bad in (shifted, renamed):
            with pytest.raises(ValueError, match=r"a\.txt"):
                store.put_documents([good, bad], user_id="u")
        assert store.list_documents(project) == []
