"""Chunks: spans of the text, about 350 words, cut at headings and paragraphs, overlapping."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wikisaga.content.chunking import ChunkingPolicy, chunk_text
from wikisaga.content.parsing.markdown import parse_markdown
from wikisaga.content.records import Chunk, ParsedDocument

SMALL = ChunkingPolicy(target_words=20, overlap_words=5, min_words=8)


def words(text: str) -> int:
    return len(text.split())


def markdown(body: str) -> ParsedDocument:
    # The Markdown parser itself: chunking takes any parsed text, even one of headings
    # only, which ingest skips.
    return parse_markdown(body, fallback_title="x")


def chunks_of(document: ParsedDocument, policy: ChunkingPolicy = SMALL) -> tuple[Chunk, ...]:
    return chunk_text(document.text, document.outline, "doc-1", policy)


def paragraph(n: int, size: int) -> str:
    return " ".join(f"p{n}w{i}" for i in range(size))


def test_each_chunk_is_the_span_of_the_text_its_offsets_name() -> None:
    document = markdown("# T\n\n" + "\n\n".join(paragraph(n, 7) for n in range(12)))

    chunks = chunks_of(document)

    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert all(document.text[c.start : c.end] == c.text for c in chunks)
    assert all(c.doc_id == "doc-1" for c in chunks)


def test_paragraphs_are_packed_up_to_the_target_and_never_cut() -> None:
    document = markdown("\n\n".join(paragraph(n, 7) for n in range(12)))

    chunks = chunks_of(document)

    assert len(chunks) > 1
    assert all(words(c.text) <= SMALL.target_words for c in chunks)
    starts = {m.start() for m in re.finditer(r"p\d+w0", document.text)}
    assert all(c.start in starts for c in chunks)


def test_chunks_cut_for_length_overlap_by_whole_paragraphs() -> None:
    document = markdown("\n\n".join(paragraph(n, 4) for n in range(10)))

    first, second, *_ = chunks_of(document)

    assert second.start < first.end
    assert words(document.text[second.start : first.end]) <= SMALL.overlap_words


def test_a_heading_starts_a_new_chunk_without_overlap_and_never_ends_one() -> None:
    body = "# A\n\n" + paragraph(1, 10) + "\n\n## B\n\n" + paragraph(2, 10) + "\n\n## C\n\nend"
    document = markdown(body)
    heading_offsets = {h.offset for h in document.outline}

    chunks = chunks_of(document)

    assert [c.text.split("\n")[0] for c in chunks] == ["A", "B", "C"]
    assert all(later.start >= earlier.end for earlier, later in itertools.pairwise(chunks))
    for chunk in chunks:
        last_block = chunk.text.rsplit("\n\n", 1)[-1]
        assert chunk.start + chunk.text.rindex(last_block) not in heading_offsets


def test_a_heading_after_too_few_words_does_not_start_a_chunk() -> None:
    document = markdown("# A\n\nshort\n\n## B\n\nalso short")

    (chunk,) = chunks_of(document)

    assert chunk.text == document.text


def test_a_long_paragraph_is_cut_at_sentences_and_a_long_sentence_at_words() -> None:
    sentences = " ".join(f"Sentence {n} has exactly six words." for n in range(10))
    run_on = " ".join(f"w{i}" for i in range(70))
    document = markdown(sentences + "\n\n" + run_on)

    chunks = chunks_of(document)

    assert all(words(c.text) <= SMALL.target_words + SMALL.overlap_words for c in chunks)
    assert len(chunks) > 3
    assert all(c.text.startswith(("Sentence", "w")) for c in chunks)
    assert all(c.text.endswith((".", *(f"w{i}" for i in range(70)))) for c in chunks)
    covered = set()
    for chunk in chunks:
        covered.update(chunk.text.split())
    assert covered == set(document.text.split())


def test_the_default_policy_makes_chunks_of_about_350_words() -> None:
    document = markdown("\n\n".join(paragraph(n, 50) for n in range(30)))

    chunks = chunks_of(document, ChunkingPolicy())

    assert all(300 <= words(c.text) <= 350 for c in chunks[:-1])


def test_text_without_words_has_no_chunks() -> None:
    assert chunk_text("", (), "doc-1") == ()
    assert chunk_text(" \n\n ", (), "doc-1") == ()


@pytest.mark.parametrize(
    ("target", "overlap", "minimum"), [(0, 0, 0), (10, 10, 0), (10, -1, 0), (10, 2, -1)]
)
def test_a_policy_that_cannot_work_is_refused(target: int, overlap: int, minimum: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        ChunkingPolicy(target, overlap, minimum)


block = st.one_of(
    st.builds(lambda n: "#" * n + " Heading", st.integers(1, 3)),
    st.lists(st.sampled_from(["word", "Word.", "end!", "x", "long-word", "a,b"]), min_size=1,
             max_size=60).map(" ".join),
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    blocks=st.lists(block, min_size=1, max_size=25),
    target=st.integers(1, 30),
    overlap=st.integers(0, 10),
    minimum=st.integers(0, 20),
)
def test_every_word_is_in_some_chunk_and_every_chunk_is_its_span(
    blocks: list[str], target: int, overlap: int, minimum: int
) -> None:
    policy = ChunkingPolicy(target, min(overlap, target - 1), minimum)
    document = markdown("\n\n".join(blocks))

    chunks = chunks_of(document, policy)

    assert all(document.text[c.start : c.end] == c.text for c in chunks)
    assert all(c.text == c.text.strip() and c.text for c in chunks)
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    covered = [False] * len(document.text)
    for chunk in chunks:
        covered[chunk.start : chunk.end] = [True] * (chunk.end - chunk.start)
    for match in re.finditer(r"\S+", document.text):
        assert covered[match.start()], match.group()
