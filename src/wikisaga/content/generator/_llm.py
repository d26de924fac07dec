"""Optional rewriting of page summaries by a language model (any OpenAI-compatible
endpoint), as a pass over pages the generator made.

Off unless configured: :func:`generate_wiki` stays offline and deterministic, and only a
caller that has a :class:`RewriteConfig` calls :func:`rewrite_pages` on its files. For
each page with a summary paragraph (``## Summary`` of a source page, ``## Overview`` of
a topic, ``## About`` of the index: one line of sentences, each followed by its citation
link), the rewriter sends *only those sentences*, as plain text with their citation links,
to ``POST {base_url}/chat/completions``, asking for a rephrasing that adds no fact. The
answer replaces the paragraph only if:

- it came within the page's time limit (``timeout``) and the pass's ``budget``;
- it is a chat completion with a non-empty text of at most twice the original's length;
- it holds every citation link of the original, exactly and as many times, and no other;
- it adds no link, URL or HTML (no ``[...](...)``, ``http:``, ``www.``, no tag);
- its last words are cited (nothing follows the last citation but punctuation).

Its words are then escaped like any source text (:func:`~._text.escape_markdown`), so an
answer can never become markup; the citations are the original's own. Anything else (an
error status, a time-out, malformed JSON, an answer failing a check) keeps the page's
offline text, and the reason is in :attr:`RewriteResult.warnings` and the log. A rewritten
page's front matter says so (``rewritten: {section, model}``) and its ``content_hash`` is
that of the new body. The API key is sent as ``Authorization: Bearer`` and never logged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
from pydantic import SecretStr

from wikisaga.content.generator._generate import PageFile
from wikisaga.content.generator._text import escape_markdown, escape_yaml

__all__ = ["SUMMARY_HEADINGS", "RewriteConfig", "RewriteResult", "rewrite_pages"]

logger = logging.getLogger("wikisaga.content.rewrite")

SUMMARY_HEADINGS = ("Summary", "Overview", "About")
"""The headings of the paragraphs rewritten: a source's, a topic's and the index's."""

_CITATION = re.compile(r"\[\d+\]\([^()\s]+\)")
_UNESCAPE = re.compile(r"\\([\\`*_\[\]|~$#+=.)-])|&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}
_LINK = re.compile(r"\[[^\]]*\]\s*\(|\]\(")
_URL = re.compile(r"(?i)\b(?:https?|ftp|file|mailto|javascript|data|vbscript):|\bwww\.")
_TAG = re.compile(r"<\s*/?\s*[a-zA-Z!?]")
_TRAILING = re.compile(r"[\s.,;:!?\"')\]]*")

INSTRUCTION = (
    "You rephrase the summary paragraph of a wiki page so that it reads well. Use only "
    "the facts stated in the sentences you are given: add no fact, name, number or "
    "opinion. Each sentence ends with a citation link such as [2](../sources/a.md#p-1): "
    "keep every citation link exactly as written, each after the words it supports, and "
    "end the paragraph with one. Write no other link, no URL, no HTML and no Markdown. "
    "Answer with the paragraph only."
)


@dataclass(frozen=True)
class RewriteConfig:
    """Where and how to ask for rewrites (``WIKISAGA_LLM_*``)."""

    base_url: str
    model: str
    api_key: SecretStr | None = field(default=None, repr=False)
    timeout: float = 20.0
    """Seconds one page may take, from sending its request to reading the answer."""
    budget: float = 300.0
    """Seconds the whole pass may take; pages not started by then are not rewritten."""
    concurrency: int = 4
    """Pages rewritten at once."""

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError("the rewriting endpoint must be an http:// or https:// URL")
        if not self.model:
            raise ValueError("rewriting needs a model name")
        if self.timeout <= 0 or self.budget <= 0 or self.concurrency < 1:
            raise ValueError("the rewriting's timeout, budget and concurrency must be positive")


@dataclass(frozen=True)
class RewriteResult:
    """The pages after the pass, the paths rewritten and why the others were not."""

    files: tuple[PageFile, ...]
    rewritten: tuple[str, ...]
    warnings: tuple[str, ...]


class _Kept(Exception):
    """This page keeps its offline text; the message says why."""


@dataclass(frozen=True)
class _Summary:
    """A page's summary paragraph, cut into its parts."""

    heading: str
    line: int
    """Index of the paragraph's line in the page's lines."""
    plain: str
    """The sentences as plain text, each followed by its citation link."""
    citations: Counter[str]


def _unescape(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        return match.group(1) if match.group(1) is not None else _ENTITIES[match.group(2)]

    return _UNESCAPE.sub(replace, text)


def _split(content: str) -> tuple[str, str] | None:
    """``(front matter, body)`` of a generated page, or ``None`` if it has none."""
    if not content.startswith("---\n"):
        return None
    end = content.find("\n---\n", 4)
    if end < 0 or content[end + 5 : end + 6] != "\n":
        return None
    return content[: end + 5], content[end + 6 :]


def _summary(lines: Sequence[str]) -> _Summary | None:
    for index, line in enumerate(lines[:-2]):
        heading = line[3:] if line.startswith("## ") else None
        if heading not in SUMMARY_HEADINGS or lines[index + 1] != "":
            continue
        paragraph = lines[index + 2]
        pieces = _CITATION.split(paragraph)
        citations = _CITATION.findall(paragraph)
        if not citations or pieces[-1].strip():
            return None
        plain = " ".join(
            f"{_unescape(text).strip()} {citation}".strip()
            for text, citation in zip(pieces, citations, strict=False)
        )
        return _Summary(heading or "", index + 2, plain, Counter(citations))
    return None


def _checked(answer: str, summary: _Summary) -> str:
    """The answer as the paragraph's new Markdown line, or :class:`_Kept`."""
    text = " ".join(answer.split())
    if not text:
        raise _Kept("the answer is empty")
    if len(text) > 2 * len(summary.plain):
        raise _Kept(f"the answer is {len(text)} characters, over twice the original's")
    found = Counter(_CITATION.findall(text))
    missing = summary.citations - found
    if missing:
        raise _Kept(f"the answer drops the citation {sorted(missing)[0]}")
    if found - summary.citations:
        raise _Kept(f"the answer adds a link: {sorted(found - summary.citations)[0]}")
    pieces = _CITATION.split(text)
    words = " ".join(pieces)
    if _TAG.search(words):
        raise _Kept("the answer holds HTML")
    if _LINK.search(words) or _URL.search(words):
        raise _Kept("the answer adds a link")
    if _TRAILING.fullmatch(pieces[-1]) is None:
        raise _Kept("the answer ends with words no citation supports")
    parts: list[str] = []
    for piece, citation in zip(pieces, [*_CITATION.findall(text), ""], strict=True):
        escaped = escape_markdown(piece) if piece.strip() else ""
        if parts and escaped and escaped[0] in ".,;:!?":
            parts[-1] += escaped
        elif escaped:
            parts.append(escaped)
        if citation:
            parts.append(citation)
    return " ".join(parts)


def _front_matter(front: str, body: str, heading: str, model: str) -> str:
    digest = hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()
    lines = front.rstrip("\n").split("\n")
    lines = [
        f'content_hash: "sha256:{digest}"' if line.startswith("content_hash: ") else line
        for line in lines
    ]
    lines[-1:] = [
        "rewritten:",
        f"  section: {escape_yaml(heading)}",
        f"  model: {escape_yaml(model)}",
        "---",
    ]
    return "\n".join(lines) + "\n"


class _Rewriter:
    def __init__(self, config: RewriteConfig, transport: httpx.BaseTransport | None) -> None:
        self.config = config
        headers = {"Content-Type": "application/json"}
        if config.api_key is not None and config.api_key.get_secret_value():
            headers["Authorization"] = f"Bearer {config.api_key.get_secret_value()}"
        self.client = httpx.Client(
            base_url=config.base_url.rstrip("/"),
            headers=headers,
            timeout=config.timeout,
            transport=transport,
        )
        self.ends = time.monotonic() + config.budget

    def ask(self, plain: str) -> str:
        """The model's answer to one paragraph, or :class:`_Kept`."""
        now = time.monotonic()
        left = min(self.config.timeout, self.ends - now)
        if left <= 0:
            raise _Kept("the rewriting's time budget was spent")
        deadline = now + left
        body = {
            "model": self.config.model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": INSTRUCTION},
                {"role": "user", "content": plain},
            ],
        }
        try:
            with self.client.stream(
                "POST", "/chat/completions", json=body, timeout=httpx.Timeout(left)
            ) as response:
                data = bytearray()
                for chunk in response.iter_bytes():
                    data += chunk
                    if time.monotonic() > deadline or len(data) > 1_000_000:
                        raise _Kept(f"no complete answer within {left:.1f} s")
        except httpx.TimeoutException as exc:
            raise _Kept(f"no answer within {left:.1f} s") from exc
        except httpx.HTTPError as exc:
            raise _Kept(f"the endpoint could not be reached: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise _Kept(f"the endpoint answered HTTP {response.status_code}")
        try:
            content = json.loads(bytes(data))["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise _Kept("the answer is not a chat completion") from exc
        if not isinstance(content, str):
            raise _Kept("the answer is not a chat completion")
        return content

    def page(self, page: PageFile) -> tuple[PageFile, str | None]:
        """The page, rewritten or not, and why not (``None`` when rewritten or when it
        has no summary to rewrite)."""
        parts = _split(page.content)
        if parts is None:
            return page, None
        front, body = parts
        lines = body.split("\n")
        summary = _summary(lines)
        if summary is None:
            return page, None
        try:
            lines[summary.line] = _checked(self.ask(summary.plain), summary)
        except _Kept as kept:
            return page, str(kept)
        body = "\n".join(lines)
        content = _front_matter(front, body, summary.heading, self.config.model) + "\n" + body
        return PageFile(page.file_path, content), None


def rewrite_pages(
    files: Sequence[PageFile],
    config: RewriteConfig,
    *,
    transport: httpx.BaseTransport | None = None,
) -> RewriteResult:
    """Rewrite the summaries of ``files`` (module docstring); pages come back in order.

    ``transport`` is httpx's, for a caller that routes the requests itself. Never
    raises for what the endpoint does: every failure keeps a page's offline text.
    """
    rewriter = _Rewriter(config, transport)
    try:
        with ThreadPoolExecutor(max_workers=config.concurrency) as pool:
            outcomes = list(pool.map(rewriter.page, files))
    finally:
        rewriter.client.close()
    pages: list[PageFile] = []
    rewritten: list[str] = []
    warnings: list[str] = []
    for original, (page, reason) in zip(files, outcomes, strict=True):
        pages.append(page)
        if page is not original:
            rewritten.append(page.file_path)
            logger.info("rewrote the summary of %s with %s", page.file_path, config.model)
        elif reason is not None:
            warning = f"{page.file_path} keeps its offline summary: {reason}"
            logger.warning(warning)
            warnings.append(warning)
    return RewriteResult(tuple(pages), tuple(rewritten), tuple(warnings))
