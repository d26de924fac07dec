"""Corpora and checks of the page generator's tests.

* :func:`sample_documents` — eight short Markdown documents about the Python web stack
  (FastAPI, Starlette, Pydantic, Uvicorn, ASGI, SQLAlchemy, HTTPX, pytest), parsed and
  chunked as ``wikisaga ingest`` would;
* :func:`synthetic_documents` — hundreds of generated documents in a few subject areas,
  the same for one seed;
* checks every test applies to a generation: links resolve, front matter is complete,
  every prose sentence is a source's sentence with a citation, no raw HTML, no empty
  page or section, and every Mermaid diagram parses with Mermaid's own parser.
"""

from __future__ import annotations

import html
import json
import os
import posixpath
import random
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from wikisaga.content.generator import Generation, PageFile
from wikisaga.content.ingest import make_document
from wikisaga.content.records import Document

SAMPLE_DIR = Path(__file__).parent / "sample"
PROJECT = "python-web"
REPO_ROOT = Path(__file__).resolve().parents[4]
MERMAID_CHECK = REPO_ROOT / "tools" / "mermaid-check"


def document(source_path: str, text: str, project: str = PROJECT) -> Document:
    """A document as ingest makes it of a file at ``source_path`` holding ``text``."""
    return make_document(project, source_path, text.encode("utf-8"))


def sample_documents() -> list[Document]:
    """The sample corpus, in file name order."""
    return [
        document(f"docs/{path.name}", path.read_text(encoding="utf-8"))
        for path in sorted(SAMPLE_DIR.glob("*.md"))
    ]


# -- a synthetic corpus ------------------------------------------------------------------

_AREAS = {
    "storage": ("Granite", "Basalt", "Quartz", "Shale", "database", "index", "table", "query"),
    "network": ("Heron", "Osprey", "Kestrel", "Merlin", "protocol", "socket", "packet", "route"),
    "compute": ("Cedar", "Maple", "Birch", "Alder", "scheduler", "worker", "queue", "task"),
    "interface": ("Coral", "Amber", "Indigo", "Violet", "widget", "layout", "theme", "form"),
    "security": ("Falcon", "Condor", "Harrier", "Vulture", "token", "policy", "secret", "role"),
}
_KINDS = ("library", "framework", "service", "tool", "server", "toolkit")
_VERBS = ("uses", "depends on", "extends", "supports", "provides", "implements")
_FILLER = (
    "configuration", "version", "release", "option", "default", "request", "response",
    "error", "limit", "cache", "metric", "record", "event", "stream", "batch", "schema",
)  # fmt: skip


def _sentence(rng: random.Random, names: Sequence[str], nouns: Sequence[str]) -> str:
    a, b = rng.sample(list(names), 2)
    noun, other = rng.choice(nouns), rng.choice(_FILLER)
    shape = rng.randrange(5)
    if shape == 0:
        return f"{a} is a {rng.choice(_KINDS)} for {noun} {other}."
    if shape == 1:
        return f"{a} {rng.choice(_VERBS)} {b} to handle each {noun}."
    if shape == 2:
        return f"Every {noun} in {a} keeps its {other} until the {rng.choice(_FILLER)} ends."
    if shape == 3:
        return f"The {noun} {other} of {a} can be changed without restarting {b}."
    return f"When a {noun} fails, {a} retries the {other} and reports the {rng.choice(_FILLER)}."


def synthetic_markdown(rng: random.Random, number: int, size: int) -> tuple[str, str]:
    """A Markdown document of about ``size`` characters: ``(source path, text)``."""
    area = sorted(_AREAS)[number % len(_AREAS)]
    vocabulary = _AREAS[area]
    names, nouns = vocabulary[:4], vocabulary[4:]
    parts = [f"# {rng.choice(names)} {rng.choice(nouns)} notes {number}", ""]
    while sum(len(p) + 1 for p in parts) < size:
        parts += [f"## {rng.choice(nouns).title()} {rng.choice(_FILLER)}", ""]
        parts.append(" ".join(_sentence(rng, names, nouns) for _ in range(rng.randint(3, 6))))
        parts.append("")
    return f"{area}/notes-{number:04d}.md", "\n".join(parts)


def synthetic_documents(
    count: int, *, seed: int = 0, size: tuple[int, int] = (1000, 3000)
) -> list[Document]:
    """``count`` generated documents of ``size`` characters, five subject areas."""
    rng = random.Random(seed)
    documents = []
    for number in range(count):
        path, text = synthetic_markdown(rng, number, rng.randint(*size))
        documents.append(document(path, text, project="synthetic"))
    return documents


# -- reading pages -----------------------------------------------------------------------

_FRONT = re.compile(r"\A---\n(.*?)\n---\n\n", re.DOTALL)
_PARSER = MarkdownIt("commonmark").enable("table")
FRONT_MATTER_KEYS = {
    "title",
    "kind",
    "generator",
    "content_hash",
    "importance",
    "sources",
    "related",
}


def split_page(content: str) -> tuple[dict[str, Any], str]:
    """A page's front matter (parsed as YAML) and its Markdown body."""
    match = _FRONT.match(content)
    assert match, f"no front matter: {content[:80]!r}"
    meta = yaml.safe_load(match.group(1))
    assert isinstance(meta, dict)
    return meta, content[match.end() :]


def _inline_children(tokens: Iterable[Token]) -> Iterable[Token]:
    for token in tokens:
        yield token
        if token.children:
            yield from _inline_children(token.children)


def links_of(body: str) -> list[str]:
    """Every link target of a Markdown body, as a CommonMark parser reads them."""
    targets = []
    for token in _inline_children(_PARSER.parse(body)):
        if token.type == "link_open":
            targets.append(str(token.attrs["href"]))
    return targets


_ANCHOR = re.compile(r'<a id="(p-\d+)"></a>')


def anchors_of(body: str) -> set[str]:
    return set(_ANCHOR.findall(body))


def check_links(files: Mapping[str, str]) -> int:
    """Every link of every page lands on a page of ``files`` (and on an anchor it has);
    returns how many links were checked."""
    bodies = {path: split_page(content)[1] for path, content in files.items()}
    anchors = {path: anchors_of(body) for path, body in bodies.items()}
    checked = 0
    for path, body in bodies.items():
        for target in links_of(body):
            assert "://" not in target, (path, target)
            assert not target.startswith("/"), (path, target)
            file_part, _, anchor = target.partition("#")
            resolved = (
                path
                if not file_part
                else posixpath.normpath(posixpath.join(posixpath.dirname(path), file_part))
            )
            assert resolved in files, f"{path}: link to {target} lands nowhere"
            if anchor:
                assert anchor in anchors[resolved], f"{path}: no anchor {anchor} in {resolved}"
            checked += 1
    return checked


def check_front_matter(files: Mapping[str, str]) -> None:
    """Every page has complete front matter whose content hash is its body's."""
    import hashlib  # noqa: PLC0415

    for path, content in files.items():
        meta, body = split_page(content)
        assert set(meta) >= FRONT_MATTER_KEYS, (path, sorted(meta))
        assert meta["title"], path
        assert meta["content_hash"] == "sha256:" + hashlib.sha256(body.encode()).hexdigest(), path
        assert 0.0 <= float(meta["importance"]) <= 1.0, path
        for source in meta["sources"]:
            assert {"id", "path", "content_hash"} <= set(source), path
        for related in meta["related"]:
            assert f"wiki/{related}" in files, (path, related)


_HTML_TAG = re.compile(r"<\s*/?\s*[A-Za-z!?]")


def check_no_raw_html(files: Mapping[str, str]) -> None:
    """The only markup tags in a page are the generator's passage anchors."""
    for path, content in files.items():
        stripped = _ANCHOR.sub("", content)
        found = _HTML_TAG.search(stripped)
        assert found is None, f"{path}: raw HTML {stripped[found.start() : found.start() + 40]!r}"


def _sections(body: str) -> list[tuple[str, str]]:
    parts = re.split(r"^(#{1,6} .*)$", body, flags=re.MULTILINE)
    return [(parts[i], parts[i + 1]) for i in range(1, len(parts) - 1, 2)]


def check_no_empty_sections(files: Mapping[str, str]) -> None:
    """No page without content under its title; no heading without content under it."""
    for path, content in files.items():
        _, body = split_page(content)
        sections = _sections(body)
        assert sections, path
        title, rest = sections[0]
        assert title.startswith("# "), path
        assert len(sections) > 1 or rest.strip(), f"{path} is empty"
        for index, (heading, text) in enumerate(sections):
            if index == 0:
                continue
            deeper = index + 1 < len(sections) and (
                len(sections[index + 1][0].split()[0]) > len(heading.split()[0])
            )
            assert text.strip() or deeper, f"{path}: empty section {heading!r}"


_CITATION = re.compile(r" \[(\d+)\]\(([^)\s]+)\)")
_LINK = r"\[(?:\\.|[^\]\\])*\]\([^)\s]*\)"
_LIST_LEAD = re.compile(
    r'^- (?:<a id="p-\d+"></a>)?'
    rf"(?:\*\*(?:\\.|[^*\\])*\*\*|\*\*{_LINK}\*\*|{_LINK})(?P<after>.*)$"
)
_COUNT = re.compile(r" \(\d+ documents?\)")
NAVIGATION = "## Finding your way"


def _unescape(markdown: str) -> str:
    return html.unescape(re.sub(r"\\(.)", r"\1", markdown))


def split_statements(text: str) -> list[tuple[str, str]]:
    """``(sentence, citation target)`` pairs of a run of cited sentences; asserts that
    nothing in ``text`` is left without a citation after it."""
    pairs = []
    position = 0
    for match in _CITATION.finditer(text):
        pairs.append((text[position : match.start()].strip(), match.group(2)))
        position = match.end()
    assert pairs, f"prose without a citation: {text!r}"
    assert not text[position:].strip(), f"uncited text after a citation: {text!r}"
    return pairs


def page_statements(body: str) -> list[tuple[str, str]]:
    """Every quoted sentence of a page body with its citation target.

    Paragraph lines must be cited sentences through and through; a list item that
    carries text after its lead (a link, a bold label) must carry cited sentences. What
    may go uncited: headings, tables (their rows cite in a column of their own), lists
    of links, the numbered source list, diagrams, and the index's navigation section.
    """
    found: list[tuple[str, str]] = []
    in_fence = False
    navigation = False
    for line in body.splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
            continue
        if line.startswith("#"):
            navigation = line.strip() == NAVIGATION
            continue
        stripped = line.strip()
        if in_fence or navigation or not stripped or stripped.startswith("|"):
            continue
        if re.match(r"\d+\. ", stripped):
            continue
        if stripped.startswith("- "):
            lead = _LIST_LEAD.match(stripped)
            assert lead is not None, f"list item without a link or label: {line!r}"
            after = lead.group("after")
            if after.startswith(": "):
                found += split_statements(after[2:])
            else:
                # After a link: nothing, a citation, or how many documents a topic has.
                allowed = not after or _CITATION.fullmatch(after) or _COUNT.fullmatch(after)
                assert allowed, f"uncited: {line!r}"
            continue
        found += split_statements(stripped)
    return found


def check_citations(files: Mapping[str, str], documents: Sequence[Document]) -> int:
    """Every quoted sentence is followed by a citation to a passage holding it verbatim
    (its white space aside); returns how many were checked."""
    by_id = {d.doc_id: d for d in documents}
    by_path: dict[str, Document] = {}
    for path, content in files.items():
        meta, _ = split_page(content)
        if meta["kind"] == "source":
            (source,) = meta["sources"]
            by_path[path] = by_id[source["id"]]
    checked = 0
    for path, content in files.items():
        _, body = split_page(content)
        for text, target in page_statements(body):
            file_part, _, anchor = target.partition("#")
            resolved = (
                path
                if not file_part
                else posixpath.normpath(posixpath.join(posixpath.dirname(path), file_part))
            )
            source = by_path[resolved]
            number = int(anchor.removeprefix("p-"))
            chunks = source.chunks
            chunk = next(c for c in chunks if c.index + 1 == number)
            sentence = " ".join(_unescape(text).split())
            assert sentence, (path, target)
            assert sentence in " ".join(chunk.text.split()), (path, sentence, number)
            checked += 1
    return checked


def files_of(generation: Generation) -> dict[str, str]:
    return {page.file_path: page.content for page in generation.files}


def apply(before: Mapping[str, str], generation: Generation) -> dict[str, str]:
    """The files after publishing ``generation`` over ``before``."""
    after = {path: content for path, content in before.items() if path not in generation.deleted}
    after.update(files_of(generation))
    return after


def mermaid_blocks(files: Mapping[str, str] | Iterable[PageFile]) -> list[str]:
    """Every Mermaid diagram of the pages, in path order."""
    items = (
        files.items() if isinstance(files, Mapping) else ((p.file_path, p.content) for p in files)
    )
    blocks = []
    for _, content in sorted(items):
        blocks += re.findall(r"^```mermaid\n(.*?)\n```$", content, flags=re.MULTILINE | re.DOTALL)
    return blocks


def mermaid_verdicts(diagrams: Sequence[str]) -> list[dict[str, Any]]:
    """Mermaid's own parser on each diagram (tools/mermaid-check). Skips when node or the
    tool's modules are missing, except in CI (env ``CI`` set), where that fails."""
    node = shutil.which("node")
    missing = None
    if node is None:
        missing = "node is not installed"
    elif not (MERMAID_CHECK / "node_modules" / "mermaid").is_dir():
        missing = "tools/mermaid-check is not installed (npm ci --prefix tools/mermaid-check)"
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{missing}: the Mermaid parse tests must run in CI")
        pytest.skip(missing)
    done = subprocess.run(
        [str(node), str(MERMAID_CHECK / "check.mjs")],
        input=json.dumps(list(diagrams)),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    verdicts: list[dict[str, Any]] = json.loads(done.stdout)
    assert len(verdicts) == len(diagrams)
    return verdicts
