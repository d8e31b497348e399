"""Wrapping long nets into side-by-side columns so a diagram fits a page.

dot draws a chain of layers as one tall column: ResNet-50 is ~100 ranks.
Cutting the net's main sequence where exactly one value flows on (between
ResNet stages, between MobileNet's inverted residuals) and placing the pieces
side by side keeps every block intact and reads top-to-bottom, left-to-right.

The main sequence is the root's items, or, when one cluster holds most of the
net (torchvision's ``features``), that cluster's items, recursively. Only that
one container wraps: nested wrapping confuses dot's ordering.

The plan comes from a small size model: a node is one rank along the flow and
one node-width across it, a cluster adds room for its title, and the sequence
is packed greedily into columns of a given capacity. Capacities on a geometric
scale are tried; the one that fits an A4 page (either way up) at the largest
scale wins, and among near-equals the one with the fewest columns.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from netdsl.backends.graphviz.model import Cluster, Diagram, Direction, Node

# Inches per rank along the flow and per node across it (measured on dot's output with the default style).
RANK_IN = {"TB": 0.43, "LR": 1.9}
CROSS_IN = {"TB": 1.65, "LR": 0.43}
PAGE_LONG, PAGE_SHORT = 10.7, 7.3  # A4 less 2 cm margins
TITLE_RANKS, MARGIN_ACROSS = 1.2, 0.3  # a cluster's title and border, in ranks / node widths
NEAR_BEST = 0.92  # a plan this close to the best scale is preferred if it has fewer columns
DOMINANT = 2 / 3  # a cluster holding this share of a container's nodes is the main sequence
SHORT_COLUMN = 1 / 3  # a last column shorter than this share of the tallest joins the previous one


@dataclass(frozen=True)
class Wrap:
    """Wrap ``container``'s items into columns starting at item indices ``starts`` (``[0]``: no wrap)."""

    container: Cluster
    starts: list[int]


def _ids(item: Node | Cluster) -> list[str]:
    return item.node_ids() if isinstance(item, Cluster) else [item.id]


def main_sequence(d: Diagram) -> Cluster:
    """The container whose items form the net's main sequence (see the module docstring)."""
    c = d.root
    while True:
        total = len(c.node_ids())
        big = next((it for it in c.items if isinstance(it, Cluster) and len(it.node_ids()) >= DOMINANT * total), None)
        if big is None:
            return c
        c = big


def segments(d: Diagram, c: Cluster) -> list[tuple[int, int]]:
    """Split ``c``'s items where cutting is clean: one value crosses the cut and nothing enters from outside."""
    where = {n: i for i, it in enumerate(c.items) for n in _ids(it)}
    tails: list[set[str]] = [set() for _ in c.items]
    blocked = [False] * len(c.items)
    for e in d.edges:
        h = where.get(e.head)
        if h is None:
            continue
        t = where.get(e.tail)
        for p in range(0 if t is None else t, h):
            if t is None:
                blocked[p] = True  # cutting here would strand an edge entering from outside
            else:
                tails[p].add(e.tail)
    cuts = [p + 1 for p in range(len(c.items) - 1) if not blocked[p] and len(tails[p]) == 1]
    bounds = [0, *cuts, len(c.items)]
    return list(itertools.pairwise(bounds))


def _size(d: Diagram, items: list[Node | Cluster], rank: dict[str, int]) -> tuple[float, float]:
    """(ranks along, nodes across) of a run of items."""
    ranks = [rank.get(n, 0) for it in items for n in _ids(it)]
    if not ranks:
        return 0.0, 0.0
    counts: dict[int, int] = {}
    for r in ranks:
        counts[r] = counts.get(r, 0) + 1
    titles = sum(TITLE_RANKS * (1 + _depth(it)) for it in items if isinstance(it, Cluster))
    return max(ranks) - min(ranks) + 1 + titles, max(counts.values())


def _depth(c: Cluster) -> int:
    inner = [_depth(it) + 1 for it in c.items if isinstance(it, Cluster)]
    return max(inner, default=0)


def _pack(sizes: list[tuple[float, float]], good: list[bool], cap: float) -> list[int]:
    """Greedy columns of at most ``cap`` ranks (a taller segment stands alone): segment index starting each.

    A full column gives back its last few segments if that lets it end at a ``good`` cut (after a block or
    a layer that changes the shape, VGG's pools), as a person drawing it would.
    """
    starts, height = [0], 0.0
    for i, (along, _) in enumerate(sizes):
        if height and height + along > cap:
            back = next((k for k in range(i, starts[-1], -1) if good[k]), i)
            if sum(a for a, _ in sizes[back:i]) > 0.5 * cap:
                back = i
            starts.append(back)
            height = sum(a for a, _ in sizes[back:i])
        height += along
    if len(starts) > 1:
        heights = [sum(a for a, _ in sizes[s:e]) for s, e in zip(starts, [*starts[1:], len(sizes)], strict=True)]
        if heights[-1] < SHORT_COLUMN * max(heights):
            starts.pop()
    return starts


def plan(d: Diagram, direction: Direction) -> Wrap:
    """Choose the container to wrap and where its columns start."""
    rank: dict[str, int] = {}
    for e in d.edges:  # recorded in topological order of their heads
        rank[e.head] = max(rank.get(e.head, 0), rank.get(e.tail, 0) + 1)
    c = main_sequence(d)
    segs = segments(d, c)
    sizes = [_size(d, c.items[a:b], rank) for a, b in segs]
    # A good cut follows a cluster or a change of spatial size.
    good = [
        i == 0 or isinstance(c.items[a - 1], Cluster) or c.items[a - 1].id in d.resizes for i, (a, _) in enumerate(segs)
    ]
    clustered = [any(isinstance(it, Cluster) for it in c.items[a:b]) for a, b in segs]
    whole = _size(d, d.root.items, rank)[0]
    outside = whole - sum(a for a, _ in sizes)  # ranks above and below the main sequence
    total = sum(a for a, _ in sizes)
    options: list[tuple[float, int, list[int]]] = []
    cap = 6.0
    while True:
        starts = _pack(sizes, good, cap)
        bounds = [*starts, len(sizes)]
        cols = [sizes[s:e] for s, e in itertools.pairwise(bounds)]
        heights = [sum(a for a, _ in col) for col in cols]
        # Later columns line up with column 0's first cluster: what stands above it adds to the height.
        above = 0.0
        if len(cols) > 1:
            first = next((k for k in range(bounds[1]) if clustered[k]), 0)  # none: its top lines up
            above = sum(a for a, _ in sizes[:first])
            heights[0] -= above
        along = (above + max(heights) + outside) * RANK_IN[direction]
        across = sum(max(x for _, x in col) + MARGIN_ACROSS for col in cols) * CROSS_IN[direction]
        # Beyond natural size (scale 1) a bigger print buys nothing: then fewer columns win.
        scale = max(min(1.0, a / along, b / across) for a, b in ((PAGE_LONG, PAGE_SHORT), (PAGE_SHORT, PAGE_LONG)))
        options.append((scale, -len(starts), [segs[s][0] for s in starts]))
        if cap >= total:
            break
        cap = min(total, cap * 1.1)
    top = max(o[0] for o in options)
    return Wrap(c, max((o for o in options if o[0] >= NEAR_BEST * top), key=lambda o: o[1])[2])
