"""``_run_wiki_generation_task`` on real services, embedded Chroma and a SQLite graph: the
guide's integration test, regeneration, graceful degradation and the shrink guard."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from generation_support import USER, ingest_documents, read_everything, settings_for

from wikisaga.config import Settings
from wikisaga.content.documents import document_store_for
from wikisaga.content.ingest import ingest
from wikisaga.errors import GenerationFailed, GenerationRefused
from wikisaga.graph import open_graph_store
from wikisaga.pipeline.generation import STEPS, GeneratedPages, local_pages
from wikisaga.services.backend.app import _run_wiki_generation_task
from wikisaga.testing.stack import ServiceStack

_projects = iter(range(10_000))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceStack]:
    with ServiceStack(tmp_path_factory.mktemp("generation-stack")) as running:
        yield running


@pytest.fixture
def project_id() -> str:
    return f"gen-{next(_projects)}"


@pytest.fixture
def settings(stack: ServiceStack, tmp_path: Path) -> Settings:
    return settings_for(stack, tmp_path / "data")


def test_full_wiki_generation_with_saga(
    stack: ServiceStack, settings: Settings, project_id: str, tmp_path: Path
) -> None:
    """The guide's integration test: files under wiki/ match files_created, the snapshot
    exists, and the graph generation named in the message is current."""
    ingest_documents(settings, project_id, tmp_path, ["chroma", "neo4j", "git"])
    reported: list[tuple[str, str]] = []
    result = _run_wiki_generation_task(
        project_id,
        USER,
        settings=settings,
        pages=local_pages,
        progress=lambda step, state, _details: reported.append((step, state)),
    )

    assert result["files_created"] > 0
    assert result["snapshot_id"] is not None
    assert result["relationships_extracted"] > 0
    assert result["message"].startswith(
        f"Auto-generated wiki with {result['files_created']} files and "
        f"{result['relationships_extracted']} relationships."
    )
    assert result["saga_id"] in result["message"]
    with stack.direct_filesystem() as filesystem, stack.direct_git() as git:
        files = filesystem.list_files(project_id, user_id=USER, prefix="wiki/")
        assert len(files) == result["files_created"]
        assert git.get_snapshot(project_id, result["snapshot_id"], user_id=USER) is not None
    everything = read_everything(stack, settings, project_id)
    assert everything.graph_current == result["graph_generation"]
    assert everything.relations == result["relationships_extracted"]
    assert [step for step, state in reported if state == "succeeded"] == list(STEPS)


def test_regeneration_drops_pages_and_prunes_the_old_graph(
    stack: ServiceStack, settings: Settings, project_id: str, tmp_path: Path
) -> None:
    """A second generation replaces the first: dropped pages are gone, the old graph
    generation is pruned, the history has both snapshots."""
    ingest_documents(settings, project_id, tmp_path, ["chroma", "neo4j", "git"])
    first = _run_wiki_generation_task(project_id, USER, settings=settings, pages=local_pages)
    ingest_documents(settings, project_id, tmp_path, ["chroma", "neo4j"])
    second = _run_wiki_generation_task(project_id, USER, settings=settings, pages=local_pages)

    everything = read_everything(stack, settings, project_id)
    assert everything.graph_current == second["graph_generation"]
    assert everything.graph_generations == (second["graph_generation"],)
    assert len(everything.wiki.files) == second["files_created"]
    assert not any("git" in path.rsplit("/", 1)[-1] for path in everything.wiki.files)
    tags = {ref for ref in everything.wiki.refs if ref.startswith("refs/tags/")}
    assert {f"refs/tags/{first['snapshot_id']}", f"refs/tags/{second['snapshot_id']}"} <= tags


def test_failed_relation_extraction_still_publishes_the_wiki(
    stack: ServiceStack, settings: Settings, project_id: str, tmp_path: Path
) -> None:
    """Graceful degradation: broken relations → a wiki without relations, and a warning."""
    ingest_documents(settings, project_id, tmp_path, ["chroma"])

    def broken_relations(project: str, user: str, documents: Any) -> GeneratedPages:
        made = local_pages(project, user, documents)
        return GeneratedPages(files=made.files, relations={"triples": "not a list"})

    result = _run_wiki_generation_task(project_id, USER, settings=settings, pages=broken_relations)
    assert result["files_created"] > 0
    assert result["relationships_extracted"] == 0
    assert any("relation extraction failed" in warning for warning in result["warnings"])
    assert read_everything(stack, settings, project_id).graph_current == result["saga_id"]


def test_relations_extracted_for_a_page_source_without_them_know_the_documents_topics(
    stack: ServiceStack, settings: Settings, project_id: str, tmp_path: Path
) -> None:
    """A page source that gives no relations: the pipeline extracts them itself, and
    reads each document as the page generator does, its title the topic. "This
    library" and a leading "It" in the document titled twine are twine, and "the
    requests library", next to a document on requests, is requests."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "twine.md").write_text(
        "# twine\n\nThis library depends on readme_renderer.\n\n"
        "It is maintained by the Python Packaging Authority.\n\n"
        "twine uses the requests library.\n",
        encoding="utf-8",
    )
    (folder / "requests.md").write_text(
        "# requests\n\nrequests is an HTTP library for Python.\n", encoding="utf-8"
    )
    with document_store_for(settings) as store:
        ingest(store, project_id=project_id, user_id=USER, paths=[folder], prune=True)

    def without_relations(project: str, user: str, documents: Any) -> GeneratedPages:
        return GeneratedPages(files=local_pages(project, user, documents).files)

    result = _run_wiki_generation_task(project_id, USER, settings=settings, pages=without_relations)
    assert result["relationships_extracted"] > 0
    with open_graph_store(settings=settings) as graph:
        relations = {(r.subject, r.predicate, r.object) for r in graph.relations(project_id)}
        keys = {entity.key for entity in graph.entities(project_id)}
    assert ("twine", "uses", "requests") in relations
    assert "requests library" not in keys
    assert "this library" not in keys
    assert ("twine", "depends_on", "readme_renderer") in relations
    assert ("twine", "created_by", "python packaging authority") in relations


def test_unreadable_documents_or_pages_fail_before_anything_changes(
    stack: ServiceStack, settings: Settings, project_id: str, tmp_path: Path
) -> None:
    """No documents is refused; a generator that fails is GenerationFailed; nothing is
    written in either case."""
    before = read_everything(stack, settings, project_id)
    with pytest.raises(GenerationRefused, match="no documents"):
        _run_wiki_generation_task(project_id, USER, settings=settings, pages=local_pages)
    ingest_documents(settings, project_id, tmp_path, ["chroma"])

    def down(project: str, user: str, documents: Any) -> GeneratedPages:
        raise ConnectionError("orchestrator is down")

    with pytest.raises(GenerationFailed, match="orchestrator is down"):
        _run_wiki_generation_task(project_id, USER, settings=settings, pages=down)
    assert read_everything(stack, settings, project_id) == before


def test_a_generation_removing_most_pages_is_refused_unless_forced(
    stack: ServiceStack, settings: Settings, project_id: str, tmp_path: Path
) -> None:
    """The shrink guard: 12 pages → 2 is refused and changes nothing; with force it runs."""
    many = {f"wiki/page-{i}.md": f"# {i}\n" for i in range(12)}

    def pages_of(files: dict[str, str]) -> Any:
        return lambda *_: GeneratedPages(files=sorted(files.items()), relations={})

    ingest_documents(settings, project_id, tmp_path, ["chroma"])
    _run_wiki_generation_task(project_id, USER, settings=settings, pages=pages_of(many))
    before = read_everything(stack, settings, project_id)
    few = {"wiki/page-0.md": "# 0\n", "wiki/page-1.md": "# 1\n"}
    with pytest.raises(GenerationRefused, match="would remove 10 of the 12 pages"):
        _run_wiki_generation_task(project_id, USER, settings=settings, pages=pages_of(few))
    assert read_everything(stack, settings, project_id) == before
    result = _run_wiki_generation_task(
        project_id, USER, settings=settings, pages=pages_of(few), force=True
    )
    assert result["files_removed"] == 10
    assert set(read_everything(stack, settings, project_id).wiki.files) == set(few)
