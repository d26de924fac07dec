"""Pages rendered safely: no source HTML becomes markup, links land on dashboard routes,
passage anchors and Mermaid blocks survive; diffs and the graph layout."""

from __future__ import annotations

from wikisaga.services.backend.dashboard.render import (
    insert_passage,
    layout_graph,
    parse_diff,
    render_page,
    resolve_link,
)

BASE = "/ui/p/demo/wiki"


def test_html_in_a_page_is_text() -> None:
    page = render_page(
        "# T\n\n<script>alert(1)</script> <img src=x onerror=alert(2)> "
        '<a href="javascript:alert(3)">x</a>\n',
        page="wiki/index.md",
        base=BASE,
    )
    assert "<script" not in page.html
    assert "<img" not in page.html
    assert "&lt;script&gt;" in page.html
    assert "onerror=alert(2)&gt;" in page.html
    assert 'href="javascript' not in page.html


def test_links_resolve_to_dashboard_routes_and_unsafe_ones_are_inert() -> None:
    text = (
        "[a](../sources/doc.md#p-2) [b](https://example.org/x) [c](javascript:alert(1)) "
        "[d](data:text/html,hi) [e](../../../etc/passwd) [f](#p-1) [g](/abs.md)\n"
    )
    html = render_page(text, page="wiki/topics/t.md", base=BASE).html
    assert f'<a href="{BASE}/wiki/sources/doc.md?passage=2#p-2">a</a>' in html
    assert 'href="https://example.org/x" rel="noopener noreferrer nofollow"' in html
    assert 'href="#p-1"' in html
    for label in ("c", "d", "e", "g"):
        assert f'href="{label}"' not in html
    assert html.count("<a ") == 3
    assert resolve_link("../../x.md", page="wiki/a.md", base=BASE) is None
    assert resolve_link("HTTPS://e.org", page="wiki/a.md", base=BASE) == "HTTPS://e.org"
    assert resolve_link("vbscript:x", page="wiki/a.md", base=BASE) is None


def test_passage_anchors_and_mermaid_survive_escaped() -> None:
    text = (
        '---\ntitle: "Doc \\u003cb\\u003e"\n---\n# Doc\n\n'
        '- <a id="p-7"></a>**Install** first sentence.\n\n'
        '```mermaid\ngraph LR\n  n0["a"] --> n1["</pre><script>x</script>"]\n```\n'
    )
    page = render_page(text, page="wiki/sources/doc.md", base=BASE)
    assert '<li><a id="p-7" class="passage-anchor"></a><strong>Install</strong>' in page.html
    assert page.title == "Doc <b>"
    assert page.sources == ()
    assert page.has_mermaid
    assert '<pre class="mermaid">graph LR' in page.html
    assert "&lt;/pre&gt;&lt;script&gt;" in page.html
    assert page.html.count("</pre>") == 1


def test_an_anchor_written_by_a_source_is_not_an_anchor() -> None:
    # The generator escapes a source's "<" as "&lt;": it must stay text.
    page = render_page('- &lt;a id="p-1"&gt;&lt;/a&gt;text\n', page="wiki/a.md", base=BASE)
    assert "passage-anchor" not in page.html


def test_parse_diff_reads_added_deleted_and_changed_files() -> None:
    output = (
        "diff --git wiki/a.md wiki/a.md\nindex 1..2 100644\n--- wiki/a.md\n+++ wiki/a.md\n"
        "@@ -1,2 +1,2 @@\n same\n-old\n+new\n"
        "diff --git wiki/b.md wiki/b.md\nnew file mode 100644\n--- /dev/null\n+++ wiki/b.md\n"
        "@@ -0,0 +1 @@\n+born\n"
        "diff --git wiki/c.md wiki/c.md\ndeleted file mode 100644\n--- wiki/c.md\n"
        "+++ /dev/null\n@@ -1 +0,0 @@\n-gone\n"
    )
    files = parse_diff(output)
    assert [(f.path, f.status, f.added, f.removed) for f in files] == [
        ("wiki/a.md", "modified", 1, 1),
        ("wiki/b.md", "added", 1, 0),
        ("wiki/c.md", "deleted", 0, 1),
    ]
    assert [line.kind for line in files[0].lines] == ["hunk", "ctx", "del", "add"]


def test_the_graph_keeps_the_most_connected_entities() -> None:
    triples = [("hub", "uses", f"leaf{i}") for i in range(10)] + [("leaf1", "is", "leaf2")]
    layout = layout_graph(triples, limit=4)
    keys = [node.key for node in layout.nodes]
    assert keys[0] == "hub"
    assert len(keys) == 4
    assert layout.hidden == 7
    assert all(e.source.key in keys and e.target.key in keys for e in layout.edges)
    assert all(0 <= n.x <= layout.width and 0 <= n.y <= layout.height for n in layout.nodes)


def test_labels_of_entities_drawn_close_together_do_not_cover_each_other() -> None:
    """A star of long names: every label takes a spot (above, below, right or left of
    its circle) that overlaps no other label and no circle, inside the picture."""
    triples = [("hub", "uses", f"a rather long entity name {i}") for i in range(12)]
    layout = layout_graph(triples)
    boxes = []
    for node in layout.nodes:
        width = len(node.label) * 6.0  # the layout counts 0.6 of the 11-unit font a letter
        left = {"middle": node.label_x - width / 2, "start": node.label_x}.get(
            node.label_anchor, node.label_x - width
        )
        boxes.append((left, node.label_y - 10.45, left + width, node.label_y + 3.3))
    for i, a in enumerate(boxes):
        assert a[0] >= 0
        assert a[1] >= 0
        assert a[2] <= layout.width
        assert a[3] <= layout.height
        for b in boxes[i + 1 :]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)
    assert {n.label_anchor for n in layout.nodes} <= {"middle", "start", "end"}


def test_a_source_pages_front_matter_names_its_document() -> None:
    text = (
        '---\ntitle: "a"\nkind: "source"\nsources:\n  - id: "doc-0123abcd"\n'
        '    path: "a.md"\n    content_hash: "' + "f" * 64 + '"\nrelated: []\n---\n# a\n'
    )
    page = render_page(text, page="wiki/sources/a.md", base=BASE)
    assert page.meta["kind"] == "source"
    assert page.sources == (("doc-0123abcd", "f" * 64),)


def test_a_cited_passage_goes_inside_its_list_item() -> None:
    html = render_page(
        '- <a id="p-1"></a>**One**\n- <a id="p-2"></a>**Two**\n', page="wiki/a.md", base=BASE
    ).html
    placed = insert_passage(html, 2, "<q>text</q>")
    assert '<a id="p-2" class="passage-anchor"></a><strong>Two</strong><q>text</q></li>' in placed
    assert insert_passage(html, 9, "<q>text</q>") == html
