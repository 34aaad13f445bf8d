"""The dependency graph of one version, drawn at build time as an inline SVG.

Our own small layered layout: the expert on the left, each requirement one column further
right at its shortest distance, rows in name order. Requirements resolve inside the index
(the newest version a spec allows, not yanked when one is not). No script, no external
reference: only shapes and escaped text.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hxpm.index.model import VersionLine

MAX_NODES = 40
CHAR_W = 7.2  # px per character at the 12px monospace font the SVG uses
COL_GAP = 48
ROW_H = 34
BOX_H = 24
PAD = 8


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    version: str | None  # None: not in this index
    depth: int


@dataclass(frozen=True, slots=True)
class Graph:
    nodes: tuple[Node, ...]
    edges: tuple[tuple[str, str], ...]  # (from name, to name)
    cut: bool  # more than MAX_NODES reachable: the rest is left out


def pick(lines: Sequence[VersionLine], allows: object) -> VersionLine | None:
    """The newest line ``allows`` accepts (a callable on Version), not yanked if possible."""
    ok = [ln for ln in lines if callable(allows) and allows(ln.version)]
    fresh = [ln for ln in ok if not ln.yanked] or ok
    return max(fresh, key=lambda ln: ln.version) if fresh else None


def dependency_graph(root: VersionLine, experts: Mapping[str, Sequence[VersionLine]]) -> Graph:
    """Breadth-first over ``requires`` from ``root``; each name appears once."""
    nodes: dict[str, Node] = {root.name: Node(root.name, str(root.version), 0)}
    edges: list[tuple[str, str]] = []
    frontier, cut = [root], False
    while frontier:
        following: list[VersionLine] = []
        for line in frontier:
            depth = nodes[line.name].depth + 1
            for req in line.requires:
                edges.append((line.name, req.name))
                if req.name in nodes:
                    continue
                if len(nodes) >= MAX_NODES:
                    cut = True
                    edges.pop()
                    continue
                chosen = pick(experts.get(req.name, ()), req.allows)
                nodes[req.name] = Node(req.name, str(chosen.version) if chosen else None, depth)
                if chosen is not None:
                    following.append(chosen)
        frontier = sorted(following, key=lambda ln: ln.name)
    return Graph(tuple(nodes.values()), tuple(dict.fromkeys(edges)), cut)


def render_svg(graph: Graph) -> str:
    """The graph as an ``<svg>`` element (empty string for an expert with no requires)."""
    if len(graph.nodes) < 2:
        return ""
    columns: dict[int, list[Node]] = {}
    for node in graph.nodes:
        columns.setdefault(node.depth, []).append(node)
    widths = {d: max(_label_width(n) for n in col) for d, col in columns.items()}
    place: dict[str, tuple[float, float, float]] = {}  # name -> x, y, width
    x = float(PAD)
    for depth in sorted(columns):
        for row, node in enumerate(sorted(columns[depth], key=lambda n: n.name)):
            place[node.name] = (x, PAD + row * ROW_H, _label_width(node))
        x += widths[depth] + COL_GAP
    width = x - COL_GAP + PAD
    height = PAD * 2 + max(len(c) for c in columns.values()) * ROW_H - (ROW_H - BOX_H)
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" role="img" '
            f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
            f'aria-labelledby="graph-title"><title id="graph-title">{_title(graph)}</title>'
        ),
        (
            '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
            'markerHeight="7" orient="auto"><path d="M0,0L10,5L0,10z" fill="#444"/></marker></defs>'
        ),
    ]
    for src, dst in graph.edges:
        parts.append(_edge(place[src], place[dst]))
    for node in graph.nodes:
        parts.append(_box(node, place[node.name]))
    parts.append("</svg>")
    return "".join(parts)


def _label(node: Node) -> str:
    return f"{node.name} {node.version}" if node.version else f"{node.name} (not in index)"


def _label_width(node: Node) -> float:
    return len(_label(node)) * CHAR_W + 2 * PAD


def _title(graph: Graph) -> str:
    root = graph.nodes[0].name
    deps = ", ".join(_label(n) for n in graph.nodes[1:])
    more = " (more not shown)" if graph.cut else ""
    return html.escape(f"{root} requires: {deps}{more}")


def _edge(a: tuple[float, float, float], b: tuple[float, float, float]) -> str:
    ax, ay, aw = a
    bx, by, _ = b
    if bx <= ax:  # an edge back to an earlier column (a cycle or a shared requirement)
        return (
            f'<path d="M{ax + aw / 2:.1f},{ay + BOX_H:.1f} '
            f"C{ax + aw / 2:.1f},{ay + BOX_H + 30:.1f} "
            f'{bx + 20:.1f},{by + BOX_H + 30:.1f} {bx + 20:.1f},{by + BOX_H:.1f}" fill="none" '
            'stroke="#444" stroke-dasharray="4 3" marker-end="url(#arrow)"/>'
        )
    y1, y2 = ay + BOX_H / 2, by + BOX_H / 2
    return (
        f'<line x1="{ax + aw:.1f}" y1="{y1:.1f}" x2="{bx:.1f}" y2="{y2:.1f}" stroke="#444" '
        'marker-end="url(#arrow)"/>'
    )


def _box(node: Node, at: tuple[float, float, float]) -> str:
    x, y, w = at
    dashed = "" if node.version else ' stroke-dasharray="4 3"'
    fill = "#eef3fb" if node.depth == 0 else "#ffffff"
    shape = (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{BOX_H}" rx="4" '
        f'fill="{fill}" stroke="#1a4d8f"{dashed}/>'
        f'<text x="{x + PAD:.1f}" y="{y + 16:.1f}" font-family="monospace" font-size="12" '
        f'fill="#111">{html.escape(_label(node))}</text>'
    )
    if node.depth == 0 or node.version is None:
        return shape
    # Names are validated expert names ([a-z0-9-]), so the file name needs no escaping.
    return f'<a href="{node.name}.html">{shape}</a>'
