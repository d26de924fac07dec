"""Unusual and hostile input: no documents, one, no prose, a huge one, other scripts,
broken Markdown, HTML with scripts and event handlers."""

from __future__ import annotations

import dataclasses

import pytest
from generator_support import (
    check_citations,
    check_front_matter,
    check_links,
    check_no_empty_sections,
    check_no_raw_html,
    document,
    files_of,
    mermaid_blocks,
    mermaid_verdicts,
    split_page,
)

from wikisaga.content.chunking import chunk_text
from wikisaga.content.generator import generate_wiki
from wikisaga.content.records import Document, Heading, document_id


def checked(documents: list[Document]) -> dict[str, str]:
    """The wiki of ``documents``, after every check a wiki must pass."""
    files = files_of(generate_wiki(documents))
    check_links(files)
    check_front_matter(files)
    check_no_empty_sections(files)
    check_no_raw_html(files)
    check_citations(files, documents)
    assert files_of(generate_wiki(list(reversed(documents)))) == files
    return files


def raw(source_path: str, text: str, outline: tuple[Heading, ...] = ()) -> Document:
    """A document as a caller might send it, its text not cleaned by any parser."""
    doc_id = document_id("raw", source_path)
    return Document(
        project_id="raw",
        doc_id=doc_id,
        source_path=source_path,
        title=source_path,
        format="text",
        content_hash="0" * 64,
        text=text,
        outline=outline,
        chunks=chunk_text(text, outline, doc_id),
    )


def test_no_documents_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no documents"):
        generate_wiki([])


def test_a_document_given_twice_is_an_error() -> None:
    one = document("a.md", "# A\n\nA is a thing that exists in the world.\n")
    with pytest.raises(ValueError, match="given twice"):
        generate_wiki([one, one])


def test_documents_of_several_projects_are_an_error() -> None:
    first = document("a.md", "# A\n\nThe first document says a few words.\n", project="p1")
    second = document("b.md", "# B\n\nThe second document says a few words.\n", project="p2")
    with pytest.raises(ValueError, match="several projects"):
        generate_wiki([first, second])


def test_one_document_gives_an_index_and_its_page() -> None:
    files = checked(
        [document("guide.md", "# Guide\n\nHTTPX is an HTTP client for Python. It is fast.\n")]
    )
    assert {"wiki/index.md", "wiki/sources/guide.md"} <= set(files)
    assert not [p for p in files if p.startswith("wiki/topics/")]


def test_documents_without_prose_still_get_pages_and_nothing_empty() -> None:
    """Headings, a list and code but no sentence: pages with the outline and the code
    count, no summary section, no empty page."""
    text = "# Reference\n\n## Options\n\n- verbose\n- quiet\n\n```sh\nrun --verbose\n```\n"
    files = checked([document("ref.md", text), document("other.md", "# Other\n\n- a\n- b\n")])
    _, body = split_page(files["wiki/sources/ref.md"])
    assert "## Summary" not in body
    assert "| Code blocks | 1 (sh) |" in body
    assert "## Outline" in body


def test_one_huge_document_stays_bounded() -> None:
    """Two thousand paragraphs: every passage has an anchor, the page stays far below the
    filesystem's 1 MiB per file."""
    paragraphs = [
        f"Section {n} of the manual explains how the parser reads block {n} of the input."
        for n in range(2000)
    ]
    huge = document("manual.md", "# Manual\n\n" + "\n\n".join(paragraphs) + "\n")
    files = checked([huge])
    page = files["wiki/sources/manual.md"]
    assert page.count('<a id="p-') == len(huge.chunks)
    assert len(page.encode()) < 1024 * 1024


def test_non_english_text_is_quoted_and_cited() -> None:
    german = document(
        "de.md",
        "# Über FastAPI\n\nFastAPI ist ein modernes Web-Framework für Python. "
        "Es basiert auf Starlette und Pydantic.\n",
    )
    japanese = document(
        "ja.md",
        "# 東京について\n\n東京は日本の首都であり、世界有数の大都市です。"
        "人口は約千四百万人で、多くの企業が本社を置いています。\n",
    )
    files = checked([german, japanese])
    assert "FastAPI ist ein modernes Web-Framework für Python." in files["wiki/sources/de.md"]
    assert "東京は日本の首都であり、世界有数の大都市です。" in files["wiki/sources/ja.md"]
    assert "wiki/sources/ja.md" in files  # the path comes from the file name, not the title


def test_broken_markdown_gives_valid_pages() -> None:
    text = (
        "# Title with **unclosed bold\n\n"
        "A paragraph with [a broken link(http://x and `unclosed code that runs on.\n\n"
        "| a | b\n|---\n| c |\n\n"
        "```python\nnever closed\n\n"
        "## Heading inside the fence? It is code now.\n"
    )
    files = checked(
        [document("broken.md", text), document("fine.md", "# Fine\n\nAll good here.\n")]
    )
    assert "wiki/sources/broken.md" in files


def test_html_with_scripts_and_event_handlers_never_reaches_a_page() -> None:
    """Markup in a document's text (as a caller may send it, not cleaned by a parser) is
    copied as text: escaped, never as HTML, never as a link."""
    hostile = (
        "Title <script>alert('x')</script>\n\n"
        "The widget <img src=x onerror=alert(1)> renders an image for each user. "
        'Click <a href="javascript:alert(2)" onclick="steal()">here</a> to see the demo. '
        "A [link](javascript:alert(3)) is not followed by the wiki.\n\n"
        "<script>document.cookie</script> The server sends an <iframe src=//evil> to no one.\n"
    )
    documents = [
        raw("hostile.html", hostile, (Heading("Title <script>alert('x')</script>", 1, 0),)),
        raw("plain.txt", "Plain text says that the widget renders images for each user.\n"),
    ]
    files = checked(documents)
    everything = "\n".join(files.values())
    assert "<script" not in everything
    assert "<img" not in everything
    assert "<iframe" not in everything
    assert "javascript:alert(3))" not in everything.replace("\\", "")
    assert "&lt;img src=x onerror=alert(1)&gt;" in files["wiki/sources/hostile.md"]
    assert "](javascript:" not in everything


def test_a_hostile_title_is_escaped_in_the_heading_and_the_front_matter() -> None:
    base = raw("t.txt", "The tool runs every check before it writes anything at all.\n")
    hostile = dataclasses.replace(base, title='<b onmouseover="x()">Tool</b> "quoted"')
    files = checked([hostile])
    page = files["wiki/sources/t.md"]
    assert '# &lt;b onmouseover="x()"&gt;Tool&lt;/b&gt; "quoted"' in page
    assert 'title: "\\u003cb onmouseover=\\"x()\\"\\u003eTool\\u003c/b\\u003e \\"quoted\\""' in page


def test_entity_names_with_markup_give_parseable_diagrams() -> None:
    text = (
        "# Stack\n\n"
        "The `<Widget>` component uses React to draw each row. "
        'The "Quoted" service uses React as well. React is a library for user interfaces. '
        "Widget-Kit extends React with extra hooks. Widget-Kit uses the `<Widget>` component.\n"
    )
    files = checked([document("stack.md", text)])
    diagrams = mermaid_blocks(files)
    assert all(v["ok"] for v in mermaid_verdicts(diagrams)) if diagrams else True
