"""A generated corpus of hundreds of documents: every check of a wiki still holds, and
the plan scales (topics, bounded entity pages, bounded pages)."""

from __future__ import annotations

from generator_support import (
    check_citations,
    check_front_matter,
    check_links,
    check_no_empty_sections,
    check_no_raw_html,
    files_of,
    mermaid_blocks,
    mermaid_verdicts,
    synthetic_documents,
)

from wikisaga.content.generator import Generation, generate_wiki
from wikisaga.content.records import Document


def test_every_check_holds_on_a_large_corpus(
    synthetic: list[Document], synthetic_generation: Generation
) -> None:
    files = files_of(synthetic_generation)
    assert check_links(files) > 1000
    assert check_citations(files, synthetic) > 1000
    check_front_matter(files)
    check_no_empty_sections(files)
    check_no_raw_html(files)


def test_the_plan_scales_with_the_corpus(
    synthetic: list[Document], synthetic_generation: Generation
) -> None:
    """One page per document, a dozen or so topics, at most a hundred entity pages, and
    no page near the filesystem's 1 MiB limit."""
    paths = [page.file_path for page in synthetic_generation.files]
    assert len([p for p in paths if p.startswith("wiki/sources/")]) == len(synthetic)
    topics = [p for p in paths if p.startswith("wiki/topics/")]
    assert 5 <= len(topics) <= 24
    assert 10 <= len([p for p in paths if p.startswith("wiki/entities/")]) <= 100
    assert max(len(page.content.encode()) for page in synthetic_generation.files) < 512 * 1024


def test_every_diagram_of_a_large_corpus_parses(synthetic_generation: Generation) -> None:
    diagrams = mermaid_blocks(synthetic_generation.files)
    assert len(diagrams) > 20
    verdicts = mermaid_verdicts(diagrams)
    assert all(v["ok"] for v in verdicts), [v for v in verdicts if not v["ok"]][:3]


def test_a_large_corpus_gives_byte_identical_pages_every_time(
    synthetic_generation: Generation,
) -> None:
    again = generate_wiki(list(reversed(synthetic_documents(300))))
    assert files_of(again) == files_of(synthetic_generation)
