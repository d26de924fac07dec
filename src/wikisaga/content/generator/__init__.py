"""The page generator: a project's documents in; a wiki of Markdown pages out (DESIGN §11).

Pure functions of their inputs: no model, no network, no clock. The same documents give
byte-identical pages.

* :func:`generate_wiki` — documents (:class:`~wikisaga.content.records.Document`) in,
  a :class:`Generation` out: the pages (:class:`PageFile`, paths under ``wiki/``), the
  relations of every document (:class:`DocumentRelations`) and of the corpus
  (:class:`Graph`), and the :class:`SourceMap` (which pages draw on which document, and
  a stamp of every page's plan). Handing the previous generation (or its source map and
  relations) back in regenerates only what changed; the result equals a full generation.
* The plan is drawn from the data: an index, one page per topic (documents clustered by
  term vectors and shared entities), pages for the most connected entities, a glossary,
  a relationships page and one page per source document, each only when the data
  supports it. Prose is extractive: every sentence is a sentence of a source, escaped,
  followed by a citation to the passage it came from. Diagrams are Mermaid, valid by
  construction.

* :func:`rewrite_pages` — optional, and the one part that is neither offline nor
  deterministic: pages' summaries rephrased by a language model over an OpenAI-compatible
  endpoint, each kept only if it keeps every citation and adds no link.

``docs/pages.md`` describes the pages, the scores and the incremental rule.
"""

from __future__ import annotations

from wikisaga.content.generator._generate import (
    GENERATOR_VERSION,
    WIKI_ROOT,
    Generation,
    InvalidDocuments,
    PageEntry,
    PageFile,
    SourceMap,
    generate_wiki,
)
from wikisaga.content.generator._llm import RewriteConfig, RewriteResult, rewrite_pages
from wikisaga.content.generator._relations import DocumentRelations, Graph

__all__ = [
    "GENERATOR_VERSION",
    "WIKI_ROOT",
    "DocumentRelations",
    "Generation",
    "Graph",
    "InvalidDocuments",
    "PageEntry",
    "PageFile",
    "RewriteConfig",
    "RewriteResult",
    "SourceMap",
    "generate_wiki",
    "rewrite_pages",
]
