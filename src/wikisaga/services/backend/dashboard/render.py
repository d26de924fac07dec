"""What the dashboard computes from the backend's data: pages as HTML, diffs, a graph.

- :func:`render_page` turns a generated page into HTML with markdown-it-py, **HTML
  off**: any tag in the text is shown as text. The one tag the generator writes, a
  passage anchor ``<a id="p-N"></a>``, is put back as an anchor. Relative links are
  resolved against the page and sent to the dashboard's own route for that page;
  ``http``, ``https`` and ``mailto`` links stay (``rel="noopener noreferrer nofollow"``),
  every other link becomes inert text. Images are not rendered (their alt text is).
  Mermaid blocks become ``<pre class="mermaid">`` with the diagram escaped; the browser
  draws them with the vendored Mermaid (``securityLevel: strict``).
- :func:`parse_diff` reads ``git diff`` output into lines with their kind.
- :func:`layout_graph` places the most connected entities on a circle for an SVG view.
"""

from __future__ import annotations

import json
import math
import posixpath
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from html import escape
from typing import Any
from urllib.parse import quote, urlsplit

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

__all__ = [
    "DiffFile",
    "DiffLine",
    "GraphEdge",
    "GraphLayout",
    "GraphNode",
    "RenderedPage",
    "insert_passage",
    "layout_graph",
    "parse_diff",
    "render_page",
    "resolve_link",
]

_ANCHOR = re.compile(r'<a id="p-([0-9]{1,6})"></a>')
_OPEN, _CLOSE = "\ue000", "\ue001"
_MARKED = re.compile(f"{_OPEN}p-([0-9]{{1,6}}){_CLOSE}")
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)
_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_PASSAGE = re.compile(r"p-([0-9]{1,6})")
_SOURCE = re.compile(
    r'^  - id: "(doc-[0-9a-f]{1,64})"\n    path: .*\n    content_hash: "([0-9a-f]{0,64})"$',
    re.MULTILINE,
)


@dataclass(frozen=True, slots=True)
class RenderedPage:
    """A page as HTML, with its title and front matter."""

    html: str
    title: str
    meta: dict[str, str]
    has_mermaid: bool
    sources: tuple[tuple[str, str], ...] = ()
    """``(doc_id, content_hash)`` of each source the front matter names."""


def resolve_link(href: str, *, page: str, base: str) -> str | None:
    """Where a link of ``page`` should go in the dashboard, or ``None`` for no link.

    ``base`` is the dashboard URL of the wiki's root (``/ui/p/<project>/wiki``)."""
    href = href.strip()
    if not href or href.startswith("#"):
        return href or None
    parts = urlsplit(href)
    if parts.scheme or parts.netloc:
        scheme = parts.scheme.lower()
        safe = scheme == "mailto" or (scheme in _SAFE_SCHEMES and bool(parts.netloc))
        return href if safe else None
    target = posixpath.normpath(posixpath.join(posixpath.dirname(page), parts.path))
    if parts.path.startswith("/") or "\\" in parts.path or target.startswith(".."):
        return None
    fragment = f"#{quote(parts.fragment, safe='-_.')}" if parts.fragment else ""
    # A citation names its passage for the server too, which shows the passage's text.
    passage = _PASSAGE.fullmatch(parts.fragment)
    query = f"?passage={passage.group(1)}" if passage else ""
    return f"{base}/{quote(target, safe='/-_.')}{query}{fragment}"


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    found = _FRONT_MATTER.match(text)
    if found is None:
        return {}, text
    meta: dict[str, str] = {"_sources": found.group(1)}
    for line in found.group(1).splitlines():
        key, sep, value = line.partition(":")
        if not sep or not key.strip() or line.startswith(" "):
            continue
        value = value.strip()
        try:
            loaded: Any = json.loads(value) if value else ""
        except ValueError:
            loaded = value
        meta[key.strip()] = loaded if isinstance(loaded, str) else json.dumps(loaded)
    return meta, text[found.end() :]


class _Renderer(RendererHTML):
    def fence(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        token = tokens[idx]
        if token.info.strip().split(" ")[0].lower() == "mermaid":
            env["mermaid"] = True
            return f'<pre class="mermaid">{escape(token.content)}</pre>\n'
        return super().fence(tokens, idx, options, env)

    def link_open(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        token = tokens[idx]
        target = resolve_link(str(token.attrGet("href") or ""), page=env["page"], base=env["base"])
        if target is None:
            token.attrs.pop("href", None)
            token.attrSet("class", "inert-link")
            token.tag = "span"
        else:
            token.attrSet("href", target)
            if urlsplit(target).scheme:
                token.attrSet("rel", "noopener noreferrer nofollow")
        return self.renderToken(tokens, idx, options, env)

    def link_close(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        # Links do not nest: the opener is the nearest link_open before this.
        for back in range(idx - 1, -1, -1):
            if tokens[back].type == "link_open":
                return "</span>" if tokens[back].tag == "span" else "</a>"
        return "</a>"


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.disable("image")
    md.renderer = _Renderer(md)
    return md


_MD = _markdown()


def render_page(text: str, *, page: str, base: str) -> RenderedPage:
    """``page``'s markdown as safe HTML (see the module docstring)."""
    meta, body = _front_matter(text.replace(_OPEN, "").replace(_CLOSE, ""))
    body = _ANCHOR.sub(lambda m: f"{_OPEN}p-{m.group(1)}{_CLOSE}", body)
    env: dict[str, Any] = {"page": page, "base": base}
    html = _MD.render(body, env)
    html = _MARKED.sub(lambda m: f'<a id="p-{m.group(1)}" class="passage-anchor"></a>', html)
    sources = tuple(_SOURCE.findall(meta.pop("_sources", "")))
    title = meta.get("title") or _first_heading(body) or posixpath.basename(page)
    return RenderedPage(
        html=html,
        title=title,
        meta=meta,
        has_mermaid=bool(env.get("mermaid")),
        sources=tuple((doc_id, digest) for doc_id, digest in sources),
    )


def insert_passage(html: str, number: int, inner: str) -> str:
    """``html`` with ``inner`` (already-escaped HTML) inside the list item of passage
    ``number``, where a browser scrolls a citation to; unchanged without that anchor."""
    anchor = f'<a id="p-{number}" class="passage-anchor"></a>'
    start = html.find(anchor)
    end = html.find("</li>", start)
    if start < 0 or end < 0:
        return html
    return html[:end] + inner + html[end:]


def _first_heading(body: str) -> str | None:
    for line in body.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return None


# -- diffs -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DiffLine:
    kind: str  # "hunk", "add", "del", "ctx"
    text: str


@dataclass(slots=True)
class DiffFile:
    path: str
    status: str = "modified"  # "added", "deleted", "modified"
    lines: list[DiffLine] = field(default_factory=list)

    @property
    def added(self) -> int:
        return sum(1 for line in self.lines if line.kind == "add")

    @property
    def removed(self) -> int:
        return sum(1 for line in self.lines if line.kind == "del")


def _header(line: str, current: DiffFile) -> None:
    if line.startswith("new file"):
        current.status = "added"
    elif line.startswith("deleted file"):
        current.status = "deleted"
    elif (line.startswith("+++ ") and line[4:] != "/dev/null") or (
        line.startswith("--- ") and current.status == "deleted"
    ):
        current.path = line[4:]


_KINDS = {"+": "add", "-": "del", " ": "ctx"}


def parse_diff(output: str) -> list[DiffFile]:
    """``git diff --no-color --no-prefix`` output as files of typed lines."""
    files: list[DiffFile] = []
    current: DiffFile | None = None
    in_header = False
    for line in output.splitlines():
        if line.startswith("diff --git "):
            current = DiffFile(path=line.rsplit(" ", 1)[-1])
            files.append(current)
            in_header = True
        elif current is None:
            continue
        elif line.startswith("@@"):
            in_header = False
            current.lines.append(DiffLine("hunk", line))
        elif in_header:
            _header(line, current)
        elif line[:1] in _KINDS:
            current.lines.append(DiffLine(_KINDS[line[:1]], line[1:]))
    return files


# -- graph -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GraphNode:
    key: str
    label: str
    x: float
    y: float
    degree: int
    label_x: float = 0.0
    label_y: float = 0.0
    label_anchor: str = "middle"
    """Where its label goes (the text's anchor point and ``text-anchor``): above the
    circle, or below, right or left of it when that is where it overlaps nothing."""

    @property
    def radius(self) -> int:
        return 5 + min(self.degree, 12)


_LABEL_SIZE = 11.0
"""The labels' font size in the picture's units (``svg#graph text`` in the stylesheet)."""
_LABEL_CHAR = 0.6 * _LABEL_SIZE
"""A generous average character width, so that an estimated box covers the drawn text."""

_Box = tuple[float, float, float, float]


def _label_spots(node: GraphNode) -> list[tuple[float, float, str, _Box]]:
    """Where ``node``'s label may go, in order of preference: (x, y, anchor, box), ``y``
    the text's baseline, the box reaching above it by the font's ascent and below by its
    descent."""
    width, gap = len(node.label) * _LABEL_CHAR, 4.0
    ascent, descent = 0.95 * _LABEL_SIZE, 0.3 * _LABEL_SIZE
    r = node.radius
    above, below, side = node.y - r - gap - descent, node.y + r + gap + ascent, node.y + 4
    right, left = node.x + r + gap, node.x - r - gap

    def box(x0: float, baseline: float) -> _Box:
        return (x0, baseline - ascent, x0 + width, baseline + descent)

    return [
        (node.x, above, "middle", box(node.x - width / 2, above)),
        (node.x, below, "middle", box(node.x - width / 2, below)),
        (right, side, "start", box(right, side)),
        (left, side, "end", box(left - width, side)),
    ]


def _overlap(a: _Box, b: _Box) -> float:
    dx = min(a[2], b[2]) - max(a[0], b[0])
    dy = min(a[3], b[3]) - max(a[1], b[1])
    return dx * dy if dx > 0 and dy > 0 else 0.0


def _place_labels(nodes: list[GraphNode], size: float) -> list[GraphNode]:
    """``nodes`` with their labels placed, the most connected first: each takes its first
    spot that overlaps no label placed before it, no circle and stays inside the picture,
    else the spot that overlaps least."""
    circles = [(n.x - n.radius, n.y - n.radius, n.x + n.radius, n.y + n.radius) for n in nodes]
    placed: list[_Box] = []
    out: dict[str, GraphNode] = {}
    for node in sorted(nodes, key=lambda n: (-n.degree, n.key)):
        best: tuple[float, tuple[float, float, str, _Box]] | None = None
        for spot in _label_spots(node):
            box = spot[3]
            outside = box[0] < 0 or box[1] < 0 or box[2] > size or box[3] > size
            cost = sum(_overlap(box, other) for other in placed)
            cost += sum(_overlap(box, circle) for circle in circles)
            cost += 1e6 if outside else 0.0
            if best is None or cost < best[0]:
                best = (cost, spot)
            if cost == 0:
                break
        assert best is not None
        x, y, anchor, box = best[1]
        placed.append(box)
        out[node.key] = replace(node, label_x=round(x, 1), label_y=round(y, 1), label_anchor=anchor)
    return [out[n.key] for n in nodes]


@dataclass(frozen=True, slots=True)
class GraphEdge:
    source: GraphNode
    target: GraphNode
    predicate: str

    @property
    def end(self) -> tuple[float, float]:
        """Where the arrow stops: at the edge of the target's circle."""
        dx, dy = self.target.x - self.source.x, self.target.y - self.source.y
        length = math.hypot(dx, dy) or 1.0
        back = self.target.radius + 3
        return (
            round(self.target.x - dx / length * back, 1),
            round(self.target.y - dy / length * back, 1),
        )


@dataclass(frozen=True, slots=True)
class GraphLayout:
    width: int
    height: int
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    hidden: int
    """Entities left out to keep the picture readable."""


def _spring(
    keys: list[str], links: list[tuple[str, str]], size: float, rounds: int = 160
) -> dict[str, tuple[float, float]]:
    """A deterministic force layout (Fruchterman-Reingold with a pull to the centre),
    started from a circle, scaled to fit ``size`` with a margin for the labels."""
    count = max(len(keys), 1)
    spot = {
        key: (math.cos(2 * math.pi * i / count), math.sin(2 * math.pi * i / count))
        for i, key in enumerate(keys)
    }
    k = math.sqrt(4.0 / count)
    heat = 0.2
    for _ in range(rounds):
        move = {key: [0.0, 0.0] for key in keys}
        for a_index, a in enumerate(keys):
            ax, ay = spot[a]
            for b in keys[a_index + 1 :]:
                dx, dy = ax - spot[b][0], ay - spot[b][1]
                dist = max(math.hypot(dx, dy), 1e-3)
                if dist > 3 * k:  # far apart: no push, so components stay near
                    continue
                push = k * k / dist
                move[a][0] += dx / dist * push
                move[a][1] += dy / dist * push
                move[b][0] -= dx / dist * push
                move[b][1] -= dy / dist * push
        for a, b in links:
            dx, dy = spot[a][0] - spot[b][0], spot[a][1] - spot[b][1]
            dist = max(math.hypot(dx, dy), 1e-3)
            pull = dist * dist / k
            move[a][0] -= dx / dist * pull
            move[a][1] -= dy / dist * pull
            move[b][0] += dx / dist * pull
            move[b][1] += dy / dist * pull
        for key in keys:
            x, y = spot[key]
            mx, my = move[key][0] - x * 1.5 * k, move[key][1] - y * 1.5 * k
            length = max(math.hypot(mx, my), 1e-9)
            step = min(length, heat)
            spot[key] = (x + mx / length * step, y + my / length * step)
        heat *= 0.975
    xs = [p[0] for p in spot.values()] or [0.0]
    ys = [p[1] for p in spot.values()] or [0.0]
    margin = 60.0
    span = max(max(xs) - min(xs), max(ys) - min(ys), 1e-6)
    scale = (size - 2 * margin) / span
    off_x = (size - (max(xs) - min(xs)) * scale) / 2
    off_y = (size - (max(ys) - min(ys)) * scale) / 2
    return {
        key: (
            round(off_x + (x - min(xs)) * scale, 1),
            round(off_y + (y - min(ys)) * scale, 1),
        )
        for key, (x, y) in spot.items()
    }


def layout_graph(
    triples: Iterable[tuple[str, str, str]], *, limit: int = 40, size: int = 760
) -> GraphLayout:
    """The ``limit`` most connected entities, placed by a force layout, with the
    relations between them."""
    edges = [(s, p, o) for s, p, o in triples if s != o]
    degree: Counter[str] = Counter()
    for subject, _, obj in edges:
        degree[subject] += 1
        degree[obj] += 1
    ranked = sorted(degree, key=lambda key: (-degree[key], key))
    kept = ranked[:limit]
    chosen = set(kept)
    links = sorted({(s, o) for s, _, o in edges if s in chosen and o in chosen})
    spots = _spring(kept, links, float(size))
    nodes = {
        key: GraphNode(
            key=key,
            label=key if len(key) <= 28 else key[:27] + "…",
            x=spots[key][0],
            y=spots[key][1],
            degree=degree[key],
        )
        for key in kept
    }
    nodes = {n.key: n for n in _place_labels(list(nodes.values()), float(size))}
    shown = [GraphEdge(nodes[s], nodes[o], p) for s, p, o in edges if s in nodes and o in nodes]
    return GraphLayout(size, size, list(nodes.values()), shown, len(ranked) - len(kept))
