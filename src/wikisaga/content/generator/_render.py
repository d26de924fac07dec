"""Pages from their plans: YAML front matter, then Markdown.

Every quoted sentence is escaped (:func:`~._text.escape_markdown`) and followed by its
citation, a numbered link to the passage on the source's page; a page's numbered
citations are listed under "Sources" at its end. On a source's own page a citation is
the passage's number and links to the passage's anchor there. Headings and the text
between quotes state nothing about the subject: they name sections and say how to use
the wiki. A section without data is not written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from wikisaga.content.generator._mermaid import Diagram, render_diagram
from wikisaga.content.generator._model import (
    Citation,
    EntityBody,
    EntityRef,
    GlossaryBody,
    IndexBody,
    PageLink,
    PagePlan,
    RelationRow,
    RelationshipsBody,
    SourceBody,
    Statement,
    TopicBody,
)
from wikisaga.content.generator._text import escape_markdown, escape_yaml, link, relative_link

__all__ = ["render_page"]

GLOSSARY_LETTERS_FROM = 30


class _Page:
    """The Markdown of one page being written, and its numbered citations."""

    def __init__(self, plan: PagePlan, *, numbered: bool = True) -> None:
        self.plan = plan
        self.numbered = numbered
        self.lines: list[str] = [f"# {escape_markdown(plan.title)}", ""]
        self.cited: dict[tuple[str, int], tuple[int, Citation]] = {}

    def link(self, target: PageLink) -> str:
        return link(target.title, self.plan.path, target.path)

    def entity(self, ref: EntityRef) -> str:
        if ref.path is None:
            return escape_markdown(ref.name)
        return link(ref.name, self.plan.path, ref.path)

    def cite(self, citation: Citation) -> str:
        href = relative_link(self.plan.path, citation.target)
        if not self.numbered:
            return f"[{citation.passage}]({href})"
        key = (citation.doc_id, citation.passage)
        if key not in self.cited:
            self.cited[key] = (len(self.cited) + 1, citation)
        return f"[{self.cited[key][0]}]({href})"

    def statement(self, statement: Statement) -> str:
        return f"{escape_markdown(statement.text)} {self.cite(statement.citation)}"

    def section(self, heading: str, lines: Iterable[str], level: int = 2) -> None:
        body = list(lines)
        if body:
            self.lines += [f"{'#' * level} {heading}", "", *body, ""]

    def paragraph(self, heading: str, statements: Iterable[Statement]) -> None:
        text = " ".join(self.statement(s) for s in statements)
        self.section(heading, [text] if text else [])

    def diagram(self, diagram: Diagram | None) -> list[str]:
        if diagram is None:
            return []
        return ["```mermaid", render_diagram(diagram), "```", ""]

    def table(self, rows: Iterable[RelationRow], *, support: bool = False) -> list[str]:
        columns = ["Subject", "Relation", "Object", *(["Sentences"] if support else []), "Source"]
        body = []
        for row in rows:
            cells = [self.entity(row.subject), escape_markdown(row.predicate)]
            cells.append(self.entity(row.object))
            if support:
                cells.append(str(row.support))
            cells.append(self.cite(row.citation))
            body.append(f"| {' | '.join(cells)} |")
        if not body:
            return []
        return [f"| {' | '.join(columns)} |", "|" + "---|" * len(columns), *body]

    def finish(self) -> str:
        if self.cited:
            self.lines += ["## Sources", ""]
            for number, citation in sorted(self.cited.values(), key=lambda item: item[0]):
                label = f"{citation.title}, passage {citation.passage}"
                target = PageLink(label, citation.target)
                self.lines.append(f"{number}. {self.link(target)}")
            self.lines.append("")
        while self.lines and not self.lines[-1]:
            self.lines.pop()
        return "\n".join(self.lines) + "\n"


def _index(page: _Page, body: IndexBody) -> None:
    page.paragraph("About", body.about)
    page.section(
        "Topics",
        (
            f"- {page.link(link)} ({count} document{'s' if count != 1 else ''})"
            for link, count in body.topics
        ),
    )
    page.section(
        "Key entities",
        (
            f"- {page.link(link)}" + (f": {page.statement(s)}" if s is not None else "")
            for link, s in body.entities
        ),
    )
    heading = "Documents" if not body.topics else "Central documents"
    page.section(heading, (f"- {page.link(link)}" for link in body.documents))
    guide = []
    if body.topics:
        guide.append("- Each topic page groups related documents and quotes their key sentences.")
    if body.entities:
        guide.append(
            "- Each entity page gathers what the sources say about one entity, its relations "
            "and where it is mentioned."
        )
    if body.glossary is not None:
        guide.append(f"- The {page.link(body.glossary)} lists the defined terms.")
    if body.relationships is not None:
        guide.append(f"- {page.link(body.relationships)} shows the strongest relations.")
    guide.append(
        "- Every statement ends with a numbered link to the passage it was taken from; "
        "each document's page lists its passages."
    )
    page.section("Finding your way", guide)


def _topic(page: _Page, body: TopicBody) -> None:
    page.paragraph("Overview", body.overview)
    page.section(
        "Documents",
        (
            f"- {page.link(link)}" + (f": {page.statement(s)}" if s is not None else "")
            for link, s in body.documents
        ),
    )
    page.section("Entities", (f"- {page.entity(ref)}" for ref in body.entities))
    page.section("Relations", [*page.diagram(body.diagram), *page.table(body.relations)])
    page.section("Related topics", (f"- {page.link(link)}" for link in body.related))


def _entity(page: _Page, body: EntityBody) -> None:
    if body.aliases:
        aliases = ", ".join(escape_markdown(alias) for alias in body.aliases)
        name = escape_markdown(body.name)
        page.lines += ["| Name | Also written |", "|---|---|", f"| {name} | {aliases} |", ""]
    if body.definition is not None:
        page.paragraph("Definition", [body.definition])
    page.paragraph("In the sources", body.statements)
    relations = page.diagram(body.diagram)
    if body.outgoing:
        relations += ["### What it relates to", "", *page.table(body.outgoing), ""]
    if body.incoming:
        relations += ["### What relates to it", "", *page.table(body.incoming), ""]
    page.section("Relations", relations[:-1] if relations and not relations[-1] else relations)
    page.section(
        "Often mentioned with",
        (f"- {page.entity(row.object)} {page.cite(row.citation)}" for row in body.related),
    )
    page.section("Mentioned in", (f"- {page.link(link)}" for link in body.mentioned_in))
    page.section("Topics", (f"- {page.link(link)}" for link in body.topics))


def _glossary(page: _Page, body: GlossaryBody) -> None:
    def entry(ref: EntityRef, statement: Statement) -> str:
        return f"- **{page.entity(ref)}**: {page.statement(statement)}"

    if len(body.entries) < GLOSSARY_LETTERS_FROM:
        page.lines += [entry(ref, s) for ref, s in body.entries] + [""]
        return
    groups: dict[str, list[str]] = {}
    for ref, statement in body.entries:
        first = ref.name[:1].upper()
        letter = first if first.isalpha() and first.isascii() else "Other"
        groups.setdefault(letter, []).append(entry(ref, statement))
    for letter in sorted(groups, key=lambda g: (g == "Other", g)):
        page.section(letter, groups[letter])


def _relationships(page: _Page, body: RelationshipsBody) -> None:
    page.section("Strongest relations", page.diagram(body.diagram)[:-1])
    page.section("All relations", page.table(body.rows, support=True))


def _source(page: _Page, body: SourceBody) -> None:
    facts = [
        "| Property | Value |",
        "|---|---|",
        f"| Path | {escape_markdown(body.source_path)} |",
        f"| Format | {escape_markdown(body.format)} |",
        f"| Passages | {len(body.passages)} |",
    ]
    if body.code_languages:
        languages = sorted({language or "unnamed" for language in body.code_languages})
        facts.append(
            f"| Code blocks | {len(body.code_languages)} "
            f"({escape_markdown(', '.join(languages))}) |"
        )
    if body.topic is not None:
        facts.append(f"| Topic | {page.link(body.topic)} |")
    page.lines += [*facts, ""]
    page.paragraph("Summary", body.summary)
    if body.outline:
        top = min(level for _, level, _ in body.outline)
        page.section(
            "Outline",
            (
                f"{'  ' * (level - top)}- {page.link(PageLink(heading, target))}"
                for heading, level, target in body.outline
            ),
        )
    page.section("Entities", (f"- {page.link(link)}" for link in body.entities))
    page.section("Related documents", (f"- {page.link(link)}" for link in body.related))
    lines = []
    for number, section, opening in body.passages:
        label = f"Passage {number}, {section}" if section else f"Passage {number}"
        line = f'- <a id="p-{number}"></a>**{escape_markdown(label)}**'
        if opening is not None:
            line += f": {page.statement(opening)}"
        lines.append(line)
    page.section("Passages", lines)


def _front_matter(plan: PagePlan, body: str, version: str) -> str:
    digest = hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()
    lines = [
        "---",
        f"title: {escape_yaml(plan.title)}",
        f"kind: {escape_yaml(plan.kind)}",
        f"generator: {escape_yaml(version)}",
        f'content_hash: "sha256:{digest}"',
        f"importance: {plan.importance:.3f}",
    ]
    if plan.sources:
        lines.append("sources:")
        for source in plan.sources:
            lines += [
                f"  - id: {escape_yaml(source.doc_id)}",
                f"    path: {escape_yaml(source.path)}",
                f"    content_hash: {escape_yaml(source.content_hash)}",
            ]
    else:
        lines.append("sources: []")
    if plan.related:
        lines.append("related:")
        lines += [f"  - {escape_yaml(path)}" for path in plan.related]
    else:
        lines.append("related: []")
    lines.append("---")
    return "\n".join(lines) + "\n"


def render_page(plan: PagePlan, version: str) -> str:
    """The page of ``plan``: front matter (title, kind, generator, content hash of the
    body, importance, sources, related pages), a blank line, then the Markdown body."""
    body = plan.body
    page = _Page(plan, numbered=not isinstance(body, SourceBody))
    if isinstance(body, IndexBody):
        _index(page, body)
    elif isinstance(body, TopicBody):
        _topic(page, body)
    elif isinstance(body, EntityBody):
        _entity(page, body)
    elif isinstance(body, GlossaryBody):
        _glossary(page, body)
    elif isinstance(body, RelationshipsBody):
        _relationships(page, body)
    else:
        _source(page, body)
    text = page.finish()
    return _front_matter(plan, text, version) + "\n" + text
