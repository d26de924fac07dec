"""Content: what a generation is made of (DESIGN §11).

This room holds the pure parts of a generation, functions of their inputs where possible:

================  =======================================================================
module            what it holds
================  =======================================================================
``records``       the frozen records readers share: ``Document``, ``Chunk``, ``Heading``,
                  ``CodeBlock``, ``ParsedDocument``, ``DocumentInfo``; ``document_id``
``parsing/``      one parser per format (Markdown, reStructuredText, HTML, plain text)
``chunking``      passages of about 350 words, cut at headings and paragraphs, overlapping
``documents/``    the ``DocumentStore`` contract, its Chroma backends (embedded, server),
                  the offline embedding function
``ingest``        files and folders into the store, incrementally (``wikisaga ingest``)
``relations/``    relation extraction
================  =======================================================================

It imports no service; the layer contracts in ``pyproject.toml`` check that. Chroma is
imported only when a store is opened.
"""

from __future__ import annotations

__all__: list[str] = []
