"""Summary rewriting against a real OpenAI-compatible HTTP server on loopback
(:mod:`wikisaga.testing.llm_server`): a faithful answer replaces a page's summary and says
so in its front matter; an answer that drops a citation, adds a link or HTML, is empty,
late, malformed or an error keeps the page's offline text, byte for byte, with the reason;
only the summary's cited sentences are sent."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from wikisaga.content.generator import (
    PageFile,
    RewriteConfig,
    generate_wiki,
    rewrite_pages,
)
from wikisaga.content.generator._llm import SUMMARY_HEADINGS
from wikisaga.content.ingest import make_document
from wikisaga.testing.llm_server import LlmServer

SAMPLE = Path(__file__).parent / "generator" / "sample"
CITATION = re.compile(r"\[\d+\]\([^()\s]+\)")
API_KEY = "sk-test-0123456789"


@pytest.fixture(scope="module")
def pages() -> tuple[PageFile, ...]:
    documents = [
        make_document("python-web", f"docs/{path.name}", path.read_bytes())
        for path in sorted(SAMPLE.glob("*.md"))
    ]
    return generate_wiki(documents).files


@pytest.fixture(scope="module")
def server() -> Iterator[LlmServer]:
    with LlmServer() as running:
        yield running


def config(server: LlmServer, **changes: float) -> RewriteConfig:
    values = {"timeout": 5.0, "budget": 60.0, **changes}
    return RewriteConfig(
        base_url=server.url,
        model="tiny-test-model",
        api_key=SecretStr(API_KEY),
        timeout=values["timeout"],
        budget=values["budget"],
        concurrency=int(changes.get("concurrency", 4)),
    )


def summary_line(content: str) -> str | None:
    """The line of a page's summary paragraph, if it has one."""
    lines = content.split("\n")
    for index, line in enumerate(lines):
        if line.startswith("## ") and line[3:] in SUMMARY_HEADINGS:
            return lines[index + 2]
    return None


def with_summary(pages: tuple[PageFile, ...]) -> list[PageFile]:
    return [page for page in pages if summary_line(page.content) is not None]


def body_of(content: str) -> tuple[str, str]:
    end = content.index("\n---\n", 4) + 5
    return content[:end], content[end + 1 :]


def test_a_faithful_answer_replaces_the_summary_and_says_so(
    server: LlmServer, pages: tuple[PageFile, ...]
) -> None:
    """Every page with a summary is rewritten: the paragraph is the answer (escaped like
    the source), every other line is unchanged, the citations are the original's, and the
    front matter names the section and model with the new body's hash."""
    server.behave("faithful")
    result = rewrite_pages(pages, config(server))
    summarised = with_summary(pages)
    assert len(summarised) >= 5
    assert set(result.rewritten) == {page.file_path for page in summarised}
    assert result.warnings == ()
    assert [page.file_path for page in result.files] == [page.file_path for page in pages]
    for before, after in zip(pages, result.files, strict=True):
        if before.file_path not in result.rewritten:
            assert after == before
            continue
        old_line, new_line = summary_line(before.content), summary_line(after.content)
        assert old_line is not None
        assert new_line is not None
        assert new_line.startswith("In short, ")
        assert CITATION.findall(new_line) == CITATION.findall(old_line)
        if old_line[:1].isalpha():
            assert new_line[len("In short, ") + 1 :] == old_line[1:]
        old_front, old_body = body_of(before.content)
        new_front, new_body = body_of(after.content)
        assert old_body.replace(old_line, new_line) == new_body
        digest = hashlib.sha256(new_body.encode()).hexdigest()
        assert f'content_hash: "sha256:{digest}"' in new_front
        assert 'rewritten:\n  section: "' in new_front
        assert '  model: "tiny-test-model"\n---\n' in new_front
        assert old_front.split("content_hash")[0] == new_front.split("content_hash")[0]


def test_only_the_cited_sentences_are_sent_with_the_model_and_key(
    server: LlmServer, pages: tuple[PageFile, ...]
) -> None:
    """One request per summary: the model, the key as a bearer token, and as the user's
    message the summary's sentences in plain text with their citations, nothing else."""
    server.behave("faithful")
    page = with_summary(pages)[0]
    rewrite_pages([page], config(server))
    (request,) = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.body["model"] == "tiny-test-model"
    line = summary_line(page.content)
    assert line is not None
    assert CITATION.findall(request.prompt) == CITATION.findall(line)
    words = CITATION.sub("", request.prompt).split()
    assert words == CITATION.sub("", line).replace("\\", "").split()
    assert "## " not in request.prompt
    assert "---" not in request.prompt


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        ("drop_citation", "drops the citation"),
        ("add_link", "adds a link"),
        ("script", "holds HTML"),
        ("empty", "is empty"),
        ("error", "HTTP 500"),
        ("malformed", "not a chat completion"),
        ("late", "no answer within"),
    ],
)
def test_a_bad_answer_keeps_the_offline_text(
    server: LlmServer, pages: tuple[PageFile, ...], behaviour: str, reason: str
) -> None:
    """Each kind of bad answer: the pages come back byte for byte as generated, and each
    summarised page has a warning giving the reason."""
    server.behave(behaviour)
    server.delay = 2.0
    summarised = with_summary(pages)[:3]
    result = rewrite_pages(summarised, config(server, timeout=0.5))
    assert result.files == tuple(summarised)
    assert result.rewritten == ()
    assert len(result.warnings) == len(summarised)
    assert all(reason in warning for warning in result.warnings), result.warnings


def test_one_bad_answer_costs_only_its_own_page(
    server: LlmServer, pages: tuple[PageFile, ...]
) -> None:
    """A page whose answer adds a link keeps its text; the others are rewritten."""
    summarised = with_summary(pages)[:4]
    target = summary_line(summarised[1].content)
    assert target is not None
    needle = CITATION.sub("", target).replace("\\", "").split()[2]
    server.behave("faithful", rules=[(needle, "add_link")])
    result = rewrite_pages(summarised, config(server))
    kept = [p.file_path for p in summarised if needle in (summary_line(p.content) or "")]
    assert result.warnings
    assert all("adds a link" in w for w in result.warnings)
    assert summarised[1].file_path in kept
    assert set(result.rewritten) == {p.file_path for p in summarised} - set(kept)
    assert result.files[1] == summarised[1]


def test_pages_past_the_budget_keep_their_text(
    server: LlmServer, pages: tuple[PageFile, ...]
) -> None:
    """One page at a time against a server that is late: the first page times out at the
    budget, the others are not even sent."""
    server.behave("late")
    server.delay = 2.0
    summarised = with_summary(pages)[:3]
    result = rewrite_pages(summarised, config(server, timeout=5.0, budget=0.5, concurrency=1))
    assert result.files == tuple(summarised)
    assert len(server.requests) == 1
    assert sum("time budget" in warning for warning in result.warnings) == 2


def test_a_page_without_a_summary_is_not_sent(
    server: LlmServer, pages: tuple[PageFile, ...]
) -> None:
    server.behave("faithful")
    others = [page for page in pages if summary_line(page.content) is None]
    assert others
    result = rewrite_pages(others, config(server))
    assert result.files == tuple(others)
    assert server.requests == []


def test_the_config_refuses_what_cannot_work() -> None:
    with pytest.raises(ValueError, match="http"):
        RewriteConfig(base_url="ftp://host", model="m")
    with pytest.raises(ValueError, match="model"):
        RewriteConfig(base_url="http://127.0.0.1:9", model="")
    assert API_KEY not in repr(RewriteConfig("http://h", "m", api_key=SecretStr(API_KEY)))
