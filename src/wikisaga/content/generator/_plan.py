"""The page plan: which pages the data supports, and everything each of them shows.

* ``index.md`` — what the corpus is about (its most central sentences), its topics, its
  most connected entities, and the way around the wiki;
* ``topics/<slug>.md`` — one per topic (see :mod:`._topics`), when there are two or more;
* ``entities/<slug>.md`` — the most connected entities (:attr:`Corpus.entity_rank`);
* ``glossary.md`` — every presentable entity a sentence defines (``X is a Y``);
* ``relationships.md`` — the strongest relations, as a diagram and a table;
* ``sources/<slug>.md`` — one per document, with an anchor for every passage, so every
  citation lands on it.

A page or a section the data does not support is left out, never left empty.
"""

from __future__ import annotations

import math
import posixpath
import re
from collections import Counter
from collections.abc import Iterable, Sequence

from wikisaga.content.generator._analysis import (
    DocumentAnalysis,
    ProseSentence,
    needs_context,
    points_elsewhere,
)
from wikisaga.content.generator._corpus import PREDICATE_WORDS, Corpus, Edge
from wikisaga.content.generator._mermaid import Diagram
from wikisaga.content.generator._model import (
    EntityBody,
    EntityRef,
    GlossaryBody,
    IndexBody,
    PageLink,
    PagePlan,
    RelationRow,
    RelationshipsBody,
    SourceBody,
    SourceRef,
    Statement,
    TopicBody,
)
from wikisaga.content.generator._text import plural, slugify, unique_slugs, words
from wikisaga.content.relations import Entity, Predicate, identity_key, normalise_key

__all__ = ["plan_pages"]

INDEX, GLOSSARY, RELATIONSHIPS = "index.md", "glossary.md", "relationships.md"
MAX_ENTITY_PAGES = 100
MAX_GLOSSARY_ENTRIES = 300
MAX_RELATION_ROWS = 150
MAX_DIAGRAM_EDGES = 24
MAX_OUTLINE = 100
MAX_LISTED = 20
KEY_ENTITIES = 10
ABOUT_KEYS = 3
"""The index's About may quote a definition of one of the first key entities from
anywhere in a document, not only its opening or its best summary sentence."""
_INDEX_STEMS = frozenset({"index", "readme", "_index"})
"""Names of a folder's index document (``deploying/index.rst``, ``guide/README.md``)."""


def _is_index(analysis: DocumentAnalysis) -> bool:
    """Whether the document is its folder's index (``deploying/index.rst``)."""
    name = posixpath.basename(analysis.source_path)
    return posixpath.splitext(name)[0].casefold() in _INDEX_STEMS


# Words that, before a definition's subject, make the sentence about something else.
_CLAUSE_WORDS = frozenset(
    {"is", "are", "was", "were", "be", "that", "because", "if", "when", "but", "since"}
    | {"while", "although", "though", "whereas", "unless", "whether"}
)
_ARTICLES = frozenset({"a", "an", "the"})
_MAX_LEAD_WORDS = 6  # "In Flask 2.0 and later," before "a blueprint is ..."


def _opens_with(text: str, entity: Entity | None) -> bool:
    """Whether ``text`` opens with its subject, ``entity``: after an article, or after an
    opening phrase set off by a comma ("In Flask, a blueprint is ..."), not inside a
    clause about something else ("Indeed it does, but ... because PDFs are a binary
    format", "The fact that RIP is an initialism never dawned on me") nor as one of a
    list after other words ("The Counter, Gauge, Summary and Histogram types are ...")."""
    if entity is None:
        return True
    lowered = text.casefold()
    found = [(lowered.find(n.casefold()), n) for n in (entity.name, *entity.aliases)]
    at, name = min(((i, n) for i, n in found if i >= 0), default=(-1, ""))
    if at < 0:
        return True  # named by "it" or a topic: nothing to check it against
    lead = [word.casefold() for word in text[:at].split()]
    if lead and lowered[at + len(name) :].startswith((",", " and ", " or ")):
        return False  # one of a list: "The Counter, Gauge, Summary and Histogram types are"
    if any(word.strip(",") in _CLAUSE_WORDS for word in lead):
        return False  # "While Kelvin is a better base unit in theory, ..."
    if len(lead) <= 1 or (lead[0] in _ARTICLES and len(lead) <= 3):
        return True  # "A sample is ...", "A native histogram sample is ..."
    return len(lead) <= _MAX_LEAD_WORDS and lead[-1].endswith(",")


_FOLDER_WORD = re.compile(r"[a-z]{4,}(?:-[a-z]{2,})*")
"""A folder name that reads as a section's title: "guides", "getting-started"."""
_MAY_BE = re.compile(
    r"^(?:(?!\b(?:is|are|was|were|that|which|who)\b)[^,;:])*?"
    r"\b(?:can|could|may|might|should|would|must)(?: not| also| often| sometimes)? be\b",
    re.IGNORECASE,
)
"""A sentence whose main verb is a copula behind a modal ("CDNs can also be a low-effort
way to ..."): what a thing can be says what it is good for, not what it is. Not a modal
in a clause after the definition ("pip is an installer that can be ...")."""
_DEFINING = frozenset({"copula", "appositive"})
"""The methods whose sentence defines its subject (see docs/relations.md)."""


def _sources(corpus: Corpus, doc_ids: Iterable[str]) -> tuple[SourceRef, ...]:
    return tuple(corpus.source_ref(doc_id) for doc_id in sorted(set(doc_ids)))


def _distinct(statements: Iterable[Statement | None], limit: int) -> tuple[Statement, ...]:
    """The first ``limit`` statements that stand on their own, each sentence once."""
    seen: set[tuple[str, str]] = set()
    kept: list[Statement] = []
    for statement in statements:
        if statement is None or (statement.citation.doc_id, statement.text) in seen:
            continue
        if needs_context(statement.text):
            continue  # "It was created by X": out of its document, "it" is nobody
        seen.add((statement.citation.doc_id, statement.text))
        kept.append(statement)
        if len(kept) == limit:
            break
    return tuple(kept)


def _spelt_otherwise(alias: str, name: str) -> bool:
    """Whether ``alias`` is another spelling of ``name`` worth showing: not the same
    words in another case or number ("ASGI applications" for "ASGI application")."""
    return alias.casefold().removesuffix("s") != name.casefold().removesuffix("s")


def _summary(ranked: Sequence[int], leaning: Sequence[bool], wanted: int) -> list[int]:
    """The best ``wanted`` sentences of ``ranked`` (indices, best first), in document
    order, leaving out a sentence that leans on the one before it ("It ...") unless that
    one is chosen too."""
    chosen: list[int] = []
    for index in ranked:
        if len(chosen) == wanted:
            break
        chosen.append(index)
    while True:
        dangling = [i for i in chosen if leaning[i] and i - 1 not in chosen]
        if not dangling:
            return sorted(chosen)
        chosen = [i for i in chosen if i not in dangling]
        spare = [i for i in ranked if i not in chosen and not leaning[i]]
        chosen += spare[: wanted - len(chosen)]


_REPEAT_WORDS = 5


def _repeats(text: str, chosen: Iterable[str]) -> bool:
    """Whether ``text`` says again what a chosen sentence says: the words of one (five or
    more) open the other. Two documents often share a sentence, one of them with a
    clause more ("Click emulates output streams on Windows to support unicode ..."
    in two pages); a paragraph quoting both says it twice."""
    mine = words(text.lower())
    for other in chosen:
        theirs = words(other.lower())
        shorter = min(len(mine), len(theirs))
        if shorter >= _REPEAT_WORDS and mine[:shorter] == theirs[:shorter]:
            return True
    return False


class _Planner:
    def __init__(self, corpus: Corpus, project: str) -> None:
        self.corpus = corpus
        self.project = project
        # What each document is named after, as an identity key.
        self._about = {a.doc_id: a.title_key for a in corpus.analyses}
        # The "X is a Y" said of a named entity, by subject: what a topic's kinds draw on.
        self._kinds_said: list[tuple[str, str]] = [
            (identity_key(edge.subject), edge.object)
            for edge in corpus.edges
            if edge.predicate is Predicate.IS_A
            and edge.cited.method in _DEFINING
            and edge.object in corpus.entities
            and len(corpus.entities[edge.object].name.split()) > 1
        ]
        self.definitions = self._definitions()
        count = min(MAX_ENTITY_PAGES, 12 + len(corpus.analyses) // 4)
        # A page needs more than one sentence's worth: a definition, or two neighbours.
        self.page_keys = [
            key
            for key in corpus.entity_rank
            if key in self.definitions or len(corpus.neighbours.get(key, {})) >= 2
        ][:count]
        # The index's key entities: connected, and across the corpus. Five packages a
        # listing of third-party packages relates to the project are not key to it, a class
        # named in eight documents is.
        self.key_entities = sorted(
            self.page_keys,
            key=lambda k: -corpus.entity_score(k) * math.log1p(len(corpus.entities[k].doc_ids)),
        )[:KEY_ENTITIES]
        slugs = unique_slugs(
            (key, slugify(corpus.entities[key].name, fallback="entity")) for key in self.page_keys
        )
        self.entity_paths = {key: f"entities/{slug}.md" for key, slug in slugs.items()}
        # In name order, so that a shift in the ranking leaves source pages as they are.
        self.doc_entities: dict[str, list[str]] = {}
        for key in sorted(self.page_keys, key=lambda k: (corpus.entities[k].name.casefold(), k)):
            for doc_id in sorted(corpus.mentioned_in[key]):
                self.doc_entities.setdefault(doc_id, []).append(key)
        self.centres = [dict(topic.centre) for topic in corpus.topics]
        self.topic_titles = self._topic_titles()
        # A topic is known by its first member (by id) when two titles clash: that stays
        # put when the topics are ranked differently.
        firsts = [min(corpus.analyses[m].doc_id for m in t.members) for t in corpus.topics]
        topic_slugs = unique_slugs(
            (firsts[n], slugify(title, fallback="topic"))
            for n, title in enumerate(self.topic_titles)
        )
        self.topic_paths = [f"topics/{topic_slugs[first]}.md" for first in firsts]
        self.topic_of: dict[str, int] = {}
        for number, topic in enumerate(corpus.topics):
            for member in topic.members:
                self.topic_of[corpus.analyses[member].doc_id] = number
        self.sort_names = {
            key: (entity.name.casefold(), key) for key, entity in corpus.entities.items()
        }
        for edge in corpus.edges:  # a key no entity record names sorts by itself
            for key in (edge.subject, edge.object):
                self.sort_names.setdefault(key, (key, key))

    # -- shared pieces -------------------------------------------------------------------

    def ref(self, key: str) -> EntityRef:
        entity = self.corpus.entities.get(key)
        return EntityRef(entity.name if entity else key, self.entity_paths.get(key))

    def source_link(self, doc_id: str) -> PageLink:
        return PageLink(self.corpus.by_id[doc_id].title, self.corpus.source_paths[doc_id])

    def topic_link(self, number: int) -> PageLink:
        return PageLink(self.topic_titles[number], self.topic_paths[number])

    def row(self, edge: Edge) -> RelationRow:
        return RelationRow(
            subject=self.ref(edge.subject),
            predicate=PREDICATE_WORDS[edge.predicate],
            object=self.ref(edge.object),
            citation=self.corpus.triple_citation(edge.cited),
            support=edge.support,
        )

    def diagram(self, edges: Sequence[Edge], focus: str | None = None) -> Diagram | None:
        if not edges:
            return None
        nodes: dict[str, int] = {}
        if focus is not None:
            nodes[focus] = 0
        drawn = []
        for edge in edges:
            for key in (edge.subject, edge.object):
                nodes.setdefault(key, len(nodes))
            drawn.append(
                (
                    nodes[edge.subject],
                    nodes[edge.object],
                    PREDICATE_WORDS[edge.predicate],
                    not edge.typed,
                )
            )
        labels = tuple(self.ref(key).name for key in nodes)
        return Diagram(labels, tuple(drawn), 0 if focus is not None else None)

    def _drawn(self, edges: Sequence[Edge]) -> Diagram | None:
        """A diagram of the edges between named entities, when there are two or more
        (kinds of things are left to the tables and the glossary)."""
        named = [
            e for e in edges if e.predicate is not Predicate.IS_A and self.corpus.named(e.object)
        ]
        return self.diagram(named[:MAX_DIAGRAM_EDGES]) if len(named) >= 2 else None

    def _definitions(self) -> dict[str, Statement]:
        """The sentence that defines each entity: its strongest quotable ``is a`` that says
        so of the entity itself ("X is a Y", "X, a Y"), not an example in a sentence about
        something else ("a package manager for Python and other languages"); one from the
        document named after the entity first ("pip is a package installer" in pip's
        own document before "pip is a build frontend" in another)."""
        corpus = self.corpus
        strength = {
            (e.subject, e.object): e.strength for e in corpus.edges if e.predicate is Predicate.IS_A
        }
        found: dict[str, tuple[tuple[bool, float, str, int], Statement]] = {}
        for triple in corpus.graph.triples:
            edge = (triple.subject, triple.object)
            if (
                triple.predicate is not Predicate.IS_A
                or triple.method not in _DEFINING
                or edge not in strength
            ):
                continue
            statement = corpus.triple_statement(triple)
            if statement is None or needs_context(statement.text):
                continue
            if _MAY_BE.match(statement.text):
                continue  # "CDNs can also be a low-effort way to ...": a use, not what it is
            if not _opens_with(statement.text, corpus.entities.get(triple.subject)):
                continue  # "The fact that RIP is also an initialism ... never dawned on me"
            own = identity_key(triple.subject) == self._about.get(triple.doc_id)
            rank = (not own, -strength[edge], triple.source_path, triple.start)
            if triple.subject not in found or rank < found[triple.subject][0]:
                found[triple.subject] = (rank, statement)
        return {key: statement for key, (_, statement) in found.items()}

    def _topic_titles(self) -> list[str]:
        """A title for each topic, in topic order, no two alike (see :meth:`_topic_title`)."""
        titles: list[str] = []
        for number in range(len(self.corpus.topics)):
            taken = {title.casefold() for title in titles}
            titles.append(self._topic_title(number, taken))
        return titles

    def _topic_title(self, number: int, taken: set[str]) -> str:
        """What a topic is about, as a phrase a reader can say: the kind of thing most of
        its documents are about ("Build backends", when at least half of its documents
        are about one that the sources call a build backend), else the title of the
        section of the documentation it holds (:meth:`_topic_sections`), else its most
        distinctive name (its weight for it less the other topics' mean), else its most
        distinctive word. A label, not a claim: titles already taken are skipped."""
        kinds = [kind[:1].upper() + kind[1:] for kind in self._topic_kinds(number)]
        sections = self._topic_sections(number)
        for candidate in (*kinds, *sections, *self._topic_names(number)):
            if candidate.casefold() not in taken:
                return candidate  # a name as it is written: "pip", "setuptools"
        return f"Topic {number + 1}"

    def _topic_sections(self, number: int) -> list[str]:
        """The titles of the folders' index documents the topic holds ("Deploying to
        Production" of ``deploying/index.rst``), where at least a third of its documents
        are in that folder, the fuller first: the section of the documentation its
        authors made of them; then the name of a folder holding half of them whose index
        gives no title ("Guides" of ``guides/``, its index front matter alone). Not the
        top folder's, whose index is the whole documentation's landing page."""
        corpus = self.corpus
        top = posixpath.commonpath([posixpath.dirname(a.source_path) for a in corpus.analyses])
        members = [corpus.analyses[m] for m in corpus.topics[number].members]
        folders = Counter(posixpath.dirname(a.source_path) for a in members)
        found: list[tuple[int, str, str]] = []
        for analysis in members:
            folder = posixpath.dirname(analysis.source_path)
            if folder != top and _is_index(analysis) and 3 * folders[folder] >= len(members):
                found.append((-folders[folder], folder, analysis.title))
        indexed = {posixpath.dirname(a.source_path) for a in corpus.analyses if _is_index(a)}
        for folder, count in folders.items():
            # A folder with no index of its own ("guides/index.md", front matter alone, is
            # no document) holding half the topic: its name, when it is a word ("Guides").
            word = posixpath.basename(folder)
            if folder in indexed or folder == top or 2 * count < len(members):
                continue
            if _FOLDER_WORD.fullmatch(word):
                found.append((-count, folder, word.replace("-", " ").capitalize()))
        return [title for *_, title in sorted(found) if title]

    def _topic_kinds(self, number: int) -> list[str]:
        """Kinds (of more than one word) that at least half of the topic's documents are
        about, the most common first: plural labels."""
        corpus = self.corpus
        members = [corpus.analyses[m] for m in corpus.topics[number].members]
        about: dict[str, list[str]] = {}
        for analysis in members:
            if analysis.title_key:
                about.setdefault(analysis.title_key, []).append(analysis.doc_id)
        said: dict[str, set[str]] = {}
        for subject, kind in self._kinds_said:
            if subject in about:
                said.setdefault(kind, set()).update(about[subject])
        enough = [k for k, docs in said.items() if 2 * len(docs) >= len(members)]
        enough.sort(key=lambda k: (-len(said[k]), k))
        return [plural(corpus.entities[k].name) for k in enough]

    def _topic_names(self, number: int) -> list[str]:
        """The names the topic's documents share and the others' do not, most central
        first: names its documents are about (the more of them, the earlier) before any
        other ("pip" before "Python", which every kind of document mentions), then by the
        share of its
        documents that mention the name less the share of the other documents that do
        (ties: more of its documents, then the key); then its most distinctive words."""
        corpus = self.corpus
        inside = {corpus.analyses[m].doc_id for m in corpus.topics[number].members}
        outside = len(corpus.analyses) - len(inside)
        subjects = Counter(self._about[doc_id] for doc_id in inside)
        scored = []
        for key in corpus.entities:
            if not corpus.named(key):
                continue
            mentioned = corpus.mentioned_in[key]
            mine = len(mentioned & inside)
            about = subjects[identity_key(key)]
            if mine < (1 if about else 2):
                continue
            theirs = len(mentioned) - mine
            share = mine / len(inside) - (theirs / outside if outside else 0.0)
            # Titles before text: what its documents are named after moves only when a
            # document joins or leaves the topic, not when one's text changes.
            scored.append((-about, -round(share, 6), -mine, key))
        names = [corpus.entities[key].name for *_, key in sorted(scored)]
        centre = self.centres[number]
        others = [c for n, c in enumerate(self.centres) if n != number]

        def distinction(feature: str) -> float:
            rest = sum(c.get(feature, 0.0) for c in others) / len(others) if others else 0.0
            return round(centre[feature] - rest, 6)

        words = [
            corpus.feature_label(f) for f in sorted(centre, key=lambda f: (-distinction(f), f))
        ]
        return names + words

    def _ranked_edges(self, edges: Iterable[Edge]) -> list[Edge]:
        names = self.sort_names
        return sorted(
            edges,
            key=lambda e: (-e.strength, names[e.subject], str(e.predicate), names[e.object]),
        )

    # -- pages ---------------------------------------------------------------------------

    def source_page(self, doc_id: str) -> PagePlan:
        corpus = self.corpus
        analysis = corpus.by_id[doc_id]
        prose = analysis.prose
        wanted = 1 if len(prose) < 4 else 2 if len(prose) < 8 else 3 if len(prose) < 20 else 4
        chosen = _summary(analysis.summary, [needs_context(s.text) for s in prose], wanted)
        summary = tuple(corpus.statement(doc_id, prose[i]) for i in chosen)
        path = corpus.source_paths[doc_id]
        # An outline of one heading (the title, most often) shows no structure.
        headings = analysis.outline if len(analysis.outline) > 1 else ()
        outline = tuple(
            (heading, level, f"{path}#p-{passage}")
            for heading, level, passage in headings[:MAX_OUTLINE]
        )
        # Each passage opens with its first sentence that stands on its own and that the
        # summary does not quote.
        opening: dict[int, Statement] = {}
        starts = {p.number: p.start for p in analysis.passages}
        quoted = {prose[i].start for i in chosen}
        for sentence in prose:
            if (
                sentence.passage not in opening
                and sentence.start >= starts[sentence.passage]
                and sentence.start not in quoted
                and not needs_context(sentence.text)
            ):
                opening[sentence.passage] = corpus.statement(doc_id, sentence)
        passages = tuple((p.number, p.section, opening.get(p.number)) for p in analysis.passages)
        topic = self.topic_of.get(doc_id)
        entities = tuple(
            PageLink(self.ref(key).name, self.entity_paths[key])
            for key in self.doc_entities.get(doc_id, [])[:10]
        )
        related: tuple[PageLink, ...] = ()
        if topic is not None:
            # The documents of its topic that share the most entity pages with it.
            mine = set(self.doc_entities.get(doc_id, []))
            others = [corpus.analyses[m].doc_id for m in corpus.topics[topic].members]
            shared = {d: len(mine.intersection(self.doc_entities.get(d, []))) for d in others}
            nearest = sorted(
                (d for d in others if d != doc_id and shared[d]),
                key=lambda d: (-shared[d], corpus.by_id[d].title.casefold(), d),
            )
            related = tuple(self.source_link(d) for d in nearest[:3])
        body = SourceBody(
            source_path=analysis.source_path,
            format=analysis.format,
            summary=summary,
            outline=outline,
            passages=passages,
            code_languages=analysis.code_languages,
            topic=self.topic_link(topic) if topic is not None else None,
            entities=entities,
            related=related,
        )
        pointers = ([self.topic_paths[topic]] if topic is not None else []) + [
            link.path for link in entities
        ]
        return PagePlan(
            path=path,
            kind="source",
            title=analysis.title,
            # One decimal: a document's closeness to the corpus moves a little whenever any
            # other document changes, and its page should not change with it.
            importance=round(0.2 + 0.6 * corpus.importance[doc_id], 1),
            sources=_sources(corpus, [doc_id]),
            related=tuple(pointers),
            body=body,
        )

    def entity_page(self, key: str, top_score: float) -> PagePlan:
        corpus = self.corpus
        entity = corpus.entities[key]
        mine = corpus.edges_of.get(key, [])
        outgoing = self._ranked_edges(e for e in mine if e.typed and e.subject == key)[:30]
        incoming = self._ranked_edges(e for e in mine if e.typed and e.object == key)[:30]
        related = self._ranked_edges(e for e in mine if not e.typed)[:12]
        definition = self.definitions.get(key)
        statements = _distinct(
            (
                corpus.triple_statement(e.cited)
                for e in self._ranked_edges([*outgoing, *incoming])
                if definition is None or corpus.triple_statement(e.cited) != definition
            ),
            3,
        )
        if definition is None and not statements:
            # Nothing said of it in a relation of its own: what the sentences naming it
            # with its neighbours say of it.
            told = (corpus.triple_statement(e.cited) for e in related)
            statements = _distinct((s for s in told if s and not points_elsewhere(s.text)), 2)
        mentioned = sorted(
            corpus.mentioned_in[key],
            key=lambda d: (-corpus.importance[d], corpus.by_id[d].title, d),
        )[:MAX_LISTED]
        counts: dict[int, int] = {}
        for doc_id in sorted(corpus.mentioned_in[key]):
            if doc_id in self.topic_of:
                counts[self.topic_of[doc_id]] = counts.get(self.topic_of[doc_id], 0) + 1
        topics = tuple(
            self.topic_link(n) for n in sorted(counts, key=lambda n: (-counts[n], n))[:3]
        )
        drawn = self._ranked_edges([*outgoing, *incoming, *related])[:12]
        related_rows = tuple(
            RelationRow(
                subject=self.ref(key),
                predicate=PREDICATE_WORDS[Predicate.RELATED_TO],
                object=self.ref(e.object if e.subject == key else e.subject),
                citation=corpus.triple_citation(e.cited),
                support=e.support,
            )
            for e in related
        )
        body = EntityBody(
            name=entity.name,
            aliases=tuple(a for a in entity.aliases if _spelt_otherwise(a, entity.name))[:8],
            definition=definition,
            statements=statements,
            outgoing=tuple(self.row(e) for e in outgoing),
            incoming=tuple(self.row(e) for e in incoming),
            related=related_rows,
            mentioned_in=tuple(self.source_link(d) for d in mentioned),
            topics=topics,
            diagram=self.diagram(drawn, focus=key),
        )
        cited = [e.cited.doc_id for e in (*outgoing, *incoming, *related)]
        cited += [s.citation.doc_id for s in statements]
        if definition is not None:
            cited.append(definition.citation.doc_id)
        neighbours = [
            self.entity_paths[other]
            for e in drawn
            for other in (e.subject, e.object)
            if other != key and other in self.entity_paths
        ]
        score = corpus.entity_score(key)
        return PagePlan(
            path=self.entity_paths[key],
            kind="entity",
            title=entity.name,
            importance=round(0.3 + 0.7 * (score / top_score if top_score else 0.0), 3),
            sources=_sources(corpus, [*cited, *mentioned]),
            related=tuple(dict.fromkeys([*neighbours, *(t.path for t in topics)]))[:10],
            body=body,
        )

    def topic_page(self, number: int) -> PagePlan:
        corpus = self.corpus
        topic = corpus.topics[number]
        centre = dict(topic.centre)
        members = [corpus.analyses[m].doc_id for m in topic.members]
        candidates = []
        for doc_id in members:
            analysis = corpus.by_id[doc_id]
            for rank, index in enumerate(analysis.summary[:2]):
                sentence = analysis.prose[index]
                if needs_context(sentence.text):
                    continue
                score = 0.6 * corpus.similarity(sentence.terms, centre) + 0.4 * sentence.score
                candidates.append((-round(score, 6), rank, doc_id, sentence.start, sentence))
        # A topic named after what some of its documents are about ("venv") opens with
        # them: a reader of the page titled venv reads first what venv is.
        title_key = identity_key(normalise_key(self.topic_titles[number]))
        named = {d for d in members if self._about.get(d) == title_key}
        overview: list[Statement] = []
        used: set[str] = set()
        ordered = sorted(candidates, key=lambda c: (c[2] not in named, *c[:4]))
        for *_, doc_id, _, sentence in ordered:
            if doc_id not in used and not _repeats(sentence.text, (s.text for s in overview)):
                used.add(doc_id)
                overview.append(corpus.statement(doc_id, sentence))
            if len(overview) == 3:
                break
        quoted = {(s.citation.doc_id, s.text) for s in overview}
        documents = []
        for position, doc_id in enumerate(members):
            analysis = corpus.by_id[doc_id]
            lead = None
            for index in analysis.summary[:2] if position < 30 else ():
                sentence = analysis.prose[index]
                if (doc_id, sentence.text) not in quoted and not needs_context(sentence.text):
                    lead = corpus.statement(doc_id, sentence)
                    break
            documents.append((self.source_link(doc_id), lead))
        mentioned: dict[str, int] = {}
        for doc_id in members:
            for key in self.doc_entities.get(doc_id, []):
                mentioned[key] = mentioned.get(key, 0) + 1
        entities = tuple(
            self.ref(key) for key in sorted(mentioned, key=lambda k: (-mentioned[k], k))[:10]
        )
        relations = self._ranked_edges(
            e for d in members for e in corpus.edges_cited_in.get(d, []) if corpus.meaningful(e)
        )[:12]
        others = sorted(
            (n for n in range(len(corpus.topics)) if n != number),
            key=lambda n: (
                -corpus.similarity([f for f, _ in topic.features], dict(corpus.topics[n].centre)),
                n,
            ),
        )[:3]
        body = TopicBody(
            overview=tuple(overview),
            documents=tuple(documents),
            entities=entities,
            relations=tuple(self.row(e) for e in relations),
            diagram=self._drawn(relations),
            related=tuple(self.topic_link(n) for n in others),
        )
        cited = [e.cited.doc_id for e in relations]
        return PagePlan(
            path=self.topic_paths[number],
            kind="topic",
            title=self.topic_titles[number],
            importance=round(0.5 + 0.5 * len(members) / len(corpus.topics[0].members), 3),
            sources=_sources(corpus, [*members, *cited]),
            related=tuple(
                [self.topic_paths[n] for n in others]
                + [r.path for r in entities if r.path is not None][:5]
            ),
            body=body,
        )

    def glossary_page(self) -> PagePlan | None:
        corpus = self.corpus
        entries = []
        for key, statement in self.definitions.items():
            entity = corpus.entities.get(key)
            if entity is None or key not in corpus.entity_rank_set:
                continue
            entries.append((entity.name.casefold(), key, self.ref(key), statement))
        if not entries:
            return None
        entries.sort(key=lambda e: (e[0], e[1]))
        kept = entries[:MAX_GLOSSARY_ENTRIES]
        return PagePlan(
            path=GLOSSARY,
            kind="glossary",
            title="Glossary",
            importance=0.6,
            sources=_sources(corpus, [s.citation.doc_id for *_, s in kept]),
            related=tuple(r.path for _, _, r, _ in kept if r.path is not None)[:10],
            body=GlossaryBody(tuple((ref, statement) for _, _, ref, statement in kept)),
        )

    def relationships_page(self) -> PagePlan | None:
        corpus = self.corpus
        rows = self._ranked_edges(e for e in corpus.edges if corpus.meaningful(e))
        rows = rows[:MAX_RELATION_ROWS]
        if not rows:
            return None
        diagram = self._drawn(rows)
        keys = dict.fromkeys(k for e in rows for k in (e.subject, e.object))
        return PagePlan(
            path=RELATIONSHIPS,
            kind="relationships",
            title="Relationships",
            importance=0.6,
            sources=_sources(corpus, [e.cited.doc_id for e in rows]),
            related=tuple(self.entity_paths[k] for k in keys if k in self.entity_paths)[:10],
            body=RelationshipsBody(
                diagram=diagram,
                rows=tuple(self.row(e) for e in rows),
                shown_in_diagram=len(diagram.edges) if diagram is not None else 0,
            ),
        )

    def index_page(self, glossary: PagePlan | None, relationships: PagePlan | None) -> PagePlan:
        corpus = self.corpus
        # A sentence that defines a key entity says what the corpus is about, the more
        # so the higher the entity ranks.
        key_rank = {key: rank for rank, key in enumerate(self.key_entities)}
        defining = {
            (s.citation.doc_id, s.text): 1.0 - key_rank.get(key, KEY_ENTITIES) / (2 * KEY_ENTITIES)
            for key, s in self.definitions.items()
        }
        key_defining = {
            (s.citation.doc_id, s.text)
            for key, s in self.definitions.items()
            if key_rank.get(key, ABOUT_KEYS) < ABOUT_KEYS
        }
        candidates = []
        for analysis in corpus.analyses:
            # A document's opening and its best summary sentence, and any sentence of it
            # that defines one of the first key entities: "Uvicorn is an ASGI web server
            # implementation for Python." after the tagline "An ASGI web server, for Python.".
            defines_here = [
                i for i, s in enumerate(analysis.prose) if (analysis.doc_id, s.text) in key_defining
            ]
            picks = dict.fromkeys([0, *analysis.summary[:1], *defines_here])
            for rank, index in enumerate(picks):
                if index >= len(analysis.prose):
                    continue
                sentence = analysis.prose[index]
                if needs_context(sentence.text) or points_elsewhere(sentence.text):
                    continue
                defines = defining.get((analysis.doc_id, sentence.text), 0.0)
                score = (
                    0.4 * corpus.similarity(sentence.terms, corpus.centre)
                    + 0.3 * corpus.importance[analysis.doc_id]
                    + 0.3 * defines
                )
                candidates.append((-round(score, 6), rank, analysis.doc_id, sentence))
        chosen: list[tuple[str, ProseSentence]] = []
        used: set[str] = set()
        for _, _, doc_id, sentence in sorted(candidates, key=lambda c: c[:3]):
            if doc_id not in used and not _repeats(sentence.text, (s.text for _, s in chosen)):
                used.add(doc_id)
                chosen.append((doc_id, sentence))
            if len(chosen) == 3:
                break
        # Read in the order of what they define: the corpus's most central entity first
        # (a newcomer meets the subject before its parts), sentences defining none last.
        defined = {(s.citation.doc_id, s.text): key for key, s in self.definitions.items()}

        def reading_order(item: tuple[str, ProseSentence]) -> int:
            key = defined.get((item[0], item[1].text))
            return key_rank.get(key, len(key_rank)) if key is not None else len(key_rank) + 1

        about = [corpus.statement(d, s) for d, s in sorted(chosen, key=reading_order)]
        topics = tuple((self.topic_link(n), len(t.members)) for n, t in enumerate(corpus.topics))
        quoted = {(s.citation.doc_id, s.text) for s in about}
        entities = []
        for key in self.key_entities:
            definition = self.definitions.get(key)
            if definition is not None and (definition.citation.doc_id, definition.text) in quoted:
                definition = None
            entities.append((PageLink(self.ref(key).name, self.entity_paths[key]), definition))
        if topics:
            ranked = sorted(
                corpus.by_id, key=lambda d: (-corpus.importance[d], corpus.by_id[d].title, d)
            )[:10]
        else:
            ranked = sorted(corpus.by_id, key=lambda d: (corpus.by_id[d].title.casefold(), d))
        documents = tuple(self.source_link(d) for d in ranked)
        body = IndexBody(
            project=self.project,
            about=tuple(about),
            topics=topics,
            entities=tuple(entities),
            documents=documents,
            document_count=len(corpus.analyses),
            glossary=PageLink("Glossary", GLOSSARY) if glossary else None,
            relationships=PageLink("Relationships", RELATIONSHIPS) if relationships else None,
        )
        cited = [s.citation.doc_id for s in about] + list(ranked)
        cited += [s.citation.doc_id for _, s in entities if s is not None]
        related = [self.topic_paths[n] for n in range(len(topics))]
        related += [page.path for page in (glossary, relationships) if page is not None]
        return PagePlan(
            path=INDEX,
            kind="index",
            title=f"{self.project} wiki",
            importance=1.0,
            sources=_sources(corpus, cited),
            related=tuple(related),
            body=body,
        )


def plan_pages(corpus: Corpus, project: str) -> list[PagePlan]:
    """Every page of the wiki, sorted by path (see the module docstring)."""
    planner = _Planner(corpus, project)
    top_score = max((corpus.entity_score(k) for k in planner.page_keys), default=0.0)
    pages = [planner.source_page(a.doc_id) for a in corpus.analyses]
    pages += [planner.entity_page(key, top_score) for key in planner.page_keys]
    pages += [planner.topic_page(n) for n in range(len(corpus.topics))]
    glossary = planner.glossary_page()
    relationships = planner.relationships_page()
    pages += [page for page in (glossary, relationships) if page is not None]
    pages.append(planner.index_page(glossary, relationships))
    return sorted(pages, key=lambda page: page.path)
