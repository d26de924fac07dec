"""Relation extraction: typed triples with provenance from a project's prose (DESIGN §11).

Offline and deterministic: rules and word lists shipped with the package, no model, no
download; the same documents always give the same entities and triples in the same order.

* :func:`strip_markup` blanks code, URLs and markup out of Markdown, reStructuredText or
  HTML at the same offsets; :func:`split_sentences` gives sentences with their offsets;
  :func:`prose_document` does both for one raw document, and :func:`title_topic` says
  what its ``topic`` is, from the document's title; :func:`is_shouted` says a sentence
  is written in capitals (a licence's disclaimer), naming nothing, and
  :func:`is_fragment` that it is a noun phrase with no verb (a gloss of its heading).
* :func:`extract_relations` reads :class:`ProseDocument` s and returns an
  :class:`Extraction`: merged :class:`Entity` records and :class:`Triple` s, typed ones
  from explicit statements (the :class:`Predicate` vocabulary) and ``related_to`` from
  co-occurrence. Each triple carries its document, sentence, offsets, method and
  confidence.
* :func:`normalise_key` is the rule that names an entity, :func:`identity_key` the rule
  that makes two keys one entity (``pydantic-core`` = ``pydantic_core``), and
  :func:`named_topic` the one that makes a topic named with what it is the topic
  ("the requests library" = requests, in a corpus with a document on requests), and
  :func:`plural_keys` the one that makes a plural used as a common noun its singular
  ("blueprints" = blueprint);
  :func:`is_common_word` says whether the shipped word lists know a word as English
  ("build" is, "setuptools" is not).
* :data:`EXTRACTOR_VERSION` names the rules: relations kept from an extraction under
  another version are extracted again.

``docs/relations.md`` describes the patterns and the measured precision and recall.
"""

from __future__ import annotations

from wikisaga.content.relations._extract import (
    extract_relations,
    prose_document,
    title_topic,
    titled_name,
)
from wikisaga.content.relations._lexicon import is_common_word
from wikisaga.content.relations._markup import SYNTAXES, Prose, strip_markup
from wikisaga.content.relations._phrases import (
    identity_key,
    named_topic,
    normalise_key,
    plural_keys,
)
from wikisaga.content.relations._records import (
    EXTRACTOR_VERSION,
    PREDICATE_WORDS,
    TYPED_PREDICATES,
    Entity,
    EntityKind,
    Extraction,
    ExtractionOptions,
    Predicate,
    ProseDocument,
    Sentence,
    Triple,
)
from wikisaga.content.relations._sentences import is_shouted, split_sentences
from wikisaga.content.relations._tokens import is_fragment

__all__ = [
    "EXTRACTOR_VERSION",
    "PREDICATE_WORDS",
    "SYNTAXES",
    "TYPED_PREDICATES",
    "Entity",
    "EntityKind",
    "Extraction",
    "ExtractionOptions",
    "Predicate",
    "Prose",
    "ProseDocument",
    "Sentence",
    "Triple",
    "extract_relations",
    "identity_key",
    "is_common_word",
    "is_fragment",
    "is_shouted",
    "named_topic",
    "normalise_key",
    "plural_keys",
    "prose_document",
    "split_sentences",
    "strip_markup",
    "title_topic",
    "titled_name",
]
