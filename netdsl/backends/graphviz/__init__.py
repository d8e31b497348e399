"""Diagrams: a checked net (IR + :class:`~netdsl.shapes.inference.ShapeResult`) → graphviz DOT source.

What is drawn:

* one node per layer and per merge actually built (``if`` switches follow the
  shape pass's decision in ``ShapeResult.chosen``); the node id is the layer's
  qualified module name (``layer1.0.conv1``, its ``state_dict`` prefix) and its
  label is the kind's compact label (``conv 3×3, 64, /2``) plus the local name
  when that is a label rather than a position index;
* merges as small nodes (``+`` for add, ``×`` for mul, ``concat``) with an edge
  from every path, including identity paths (``{}``) drawn as skip edges;
* an ``input`` and an ``output`` node; every edge carries the shape of its
  tensor (C×H×W, without the batch dimension) as its tooltip, and shows it as a
  label where the shape changes (once per producer: out of the input, a conv, a
  pool, a concat), into a merge whose output differs (each branch of a concat)
  and into the output. An unlabelled edge carries what the labelled edge above
  it carries; labelling every edge buries deep nets in repeated numbers;
* module scopes (block instances, labelled groups, labelled repeats) as
  labelled clusters ``cluster_<id>``: ``Bottleneck · layer1.0``. A block whose
  body is a single ``inline`` block (ResNet's ``Unit`` dispatching to
  ``Bottleneck``) is titled with the inner block's name;
* colours by layer family, from one fixed palette (Okabe–Ito hues, lightened so
  black text stays legible; dropout is dashed), and a legend of the families present.

Folding. Two module scopes are *identical* when they are siblings (same
enclosing module), the second consumes exactly the first's output (nothing in
between, the first's output not captured or fanned out), and their realised
bodies have the same signature: the same block (or both the same kind of
unnamed container), the same input and output shapes, and layer for layer the
same relative names, kinds, parameters, input/output shapes and wiring (merges,
chosen ``if`` arms, captures). A run of identical scopes is drawn once, as the
first of the run, titled ``layer1.1–layer1.2 ×2``; the first block of a ResNet
stage differs (it has a downsample) and stays separate. ``expand`` draws every
instance.

``depth``: module scopes at depth ``depth`` (top-level modules are depth 1, as in
``netdsl shapes --depth``) are drawn as one box each, with the block name,
instance name, input → output shapes and parameter count; identical runs of
such boxes fold the same way.

Long nets wrap into side-by-side columns (:mod:`netdsl.backends.graphviz.layout`); the
dashed edge into a small dot at the top of a column continues the previous one.

Everything is deterministic: the walk follows the IR's order and no ids are
generated, so the DOT text is stable enough for golden files.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from netdsl.backends.graphviz import layout
from netdsl.backends.graphviz.model import (
    BLOCK_FILL,
    INPUT_ID,
    PALETTE,
    Cluster,
    Diagram,
    Direction,
    Node,
    RenderOptions,
    build,
    esc,
    human,
)
from netdsl.layers import FAMILIES
from netdsl.shapes.inference import ShapeResult, fmt_shape

if TYPE_CHECKING:  # pragma: no cover - graphviz is imported lazily, on the render path only
    import graphviz

__all__ = ["PALETTE", "Direction", "RenderOptions", "to_digraph", "to_dot"]

FONT = "Helvetica"
CLUSTER_FILL = ("#F6F6F6", "#EBEBEB")  # alternate by nesting level so nested clusters stay distinct
LEGEND_ID = "#legend"


def _emit(g: graphviz.Digraph, item: Node | Cluster, links: dict[str, list[str]], groups: dict[str, str]) -> None:
    """Emit a node, or a cluster with its contents (and the wrap connectors that belong to it)."""
    if isinstance(item, Node):
        label, attrs = item.label, item.attrs
        if item.id in groups:  # nodes of one group stand in a straight line: a wrapped column's own nodes
            attrs = {**attrs, "group": groups[item.id]}
        if item.run is not None and item.run.count > 1:  # a run is complete only after the walk
            label = label.replace(esc(item.run.first), esc(item.run.title), 1)
            attrs = {**attrs, "peripheries": "2"}
        g.node(item.id, f"<{label}>", **attrs)
        return
    folded = item.run is not None and item.run.count > 1
    with g.subgraph(name=f"cluster_{item.id}") as sub:
        sub.attr(
            label=f"<<B>{esc(item.title)}</B>>",
            fillcolor=CLUSTER_FILL[item.level % 2],
            margin="5",
            penwidth="2" if folded else "1",
        )
        for child in item.items:
            _emit(sub, child, links, groups)
        for connector in links.get(item.id, []):
            sub.node(connector, "", shape="point", width="0.06", color="#666666")


def _legend(families: set[str], collapsed: bool, per_row: int) -> str:
    """A compact table of the families drawn: swatch and name, ``per_row`` entries a row."""
    entries = [(f, PALETTE[f]) for f in FAMILIES if f in families]
    if collapsed:
        entries.append(("block", BLOCK_FILL))
    cells = [
        f'<TD BGCOLOR="{c}" WIDTH="14" HEIGHT="10" STYLE="ROUNDED"> </TD><TD ALIGN="LEFT">{esc(f)}</TD>'
        for f, c in entries
    ]
    rows = "".join(f"<TR>{''.join(cells[i : i + per_row])}</TR>" for i in range(0, len(cells), per_row))
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="3" CELLPADDING="1">{rows}</TABLE>>'


@dataclass
class _Routes:
    """Where the edges of a wrapped layout go: each node's column, connectors, the aligned chain."""

    column: dict[str, int]
    route: dict[tuple[str, int], str]  # (tail, column) → the connector its edges into that column pass
    inside: set[str]  # the nodes of column 0's first item (its connector feeds only them)
    chain: list[str]  # nodes and connectors kept on one rank, in order


def _routes(d: Diagram, wrap: layout.Wrap) -> _Routes:
    c, starts = wrap.container, wrap.starts
    bounds = [*starts, len(c.items)]
    column = {
        n: j
        for j in range(len(starts))
        for it in c.items[bounds[j] : bounds[j + 1]]
        for n in (it.node_ids() if isinstance(it, Cluster) else [it.id])
    }
    entered: dict[int, str] = {}  # column → the node whose value enters it first
    for e in d.edges:
        j = column.get(e.head)
        if j is not None and column.get(e.tail, j) != j:
            entered.setdefault(j, e.tail)
    route = {(t, j): f"#wrap{j}" for j, t in entered.items()}  # edges from t into column j pass the connector
    inside: set[str] = set()
    chain: list[str] = []
    if len(starts) > 1:
        first = c.items[: starts[1]]
        item = next((it for it in first if isinstance(it, Cluster)), first[0])
        inside = set(item.node_ids() if isinstance(item, Cluster) else [item.id])
        feeder = next((e.tail for e in d.edges if e.head in inside and e.tail not in inside), None)
        direct = {it.id for it in c.items if isinstance(it, Node)}
        if isinstance(item, Node):
            chain.append(item.id)
        elif feeder in direct:
            chain.append(feeder)
        elif feeder is not None:  # nested deeper: dot orders a flat chain reliably only among c's own nodes
            route[(feeder, 0)] = "#wrap0"
        chain += [f"#wrap{j}" for j in sorted(entered)]
    return _Routes(column, route, inside, chain)


def _edges(g: graphviz.Digraph, d: Diagram, wrap: layout.Wrap) -> list[str]:
    """Emit the edges. When wrapped, the value entering each column passes a small connector at its top.

    The connectors line up on one rank, in order, and belong inside the wrapped container's cluster (returned).
    Column 0 lines up at its first cluster, so blocks of equal structure share ranks across columns: dot's
    ranks span the whole drawing, and misaligned cluster borders would open gaps in every column.
    """
    r = _routes(d, wrap)
    column, route, inside, chain = r.column, r.route, r.inside, r.chain
    labelled: set[str] = set()

    def meets(head: str, shape: str) -> bool:  # into a concat (or the output): each input's shape tells
        return head in d.joins and d.shape_of.get(head) != shape

    def label(tail: str, head: str) -> dict[str, str]:
        shape = d.shape_of[tail]
        if meets(head, shape):
            return {"xlabel": shape}
        if tail in d.changes and tail not in labelled:
            labelled.add(tail)
            return {"xlabel": shape}
        return {}

    done: set[str] = set()
    for e in d.edges:
        j = column.get(e.head, -1)
        conn = route.get((e.tail, j))
        if conn == "#wrap0" and e.head not in inside:
            conn = None
        if conn is None and e.head in column and column.get(e.tail, j) != j:  # a long skip from an earlier column
            g.edge(e.tail, e.head, tooltip=e.shape, xlabel=e.shape, constraint="false", style="dashed")
        elif conn is None:
            g.edge(e.tail, e.head, tooltip=e.shape, **label(e.tail, e.head))
        else:
            if conn not in done:
                done.add(conn)
                extra = {"constraint": "false", "style": "dashed", "xlabel": e.shape} if j else label(e.tail, conn)
                g.edge(e.tail, conn, tooltip=e.shape, **extra)
            g.edge(conn, e.head, tooltip=e.shape, **({"xlabel": e.shape} if meets(e.head, e.shape) else {}))
    if len(chain) > 1:
        with g.subgraph() as same:
            same.attr(rank="same")
            for n in chain:
                same.node(n)
        for a, b in itertools.pairwise(chain):
            g.edge(a, b, style="invis")
    return sorted(set(route.values()))


def _styled(name: str, title: str, direction: str) -> graphviz.Digraph:
    """An empty digraph with the diagrams' look: fonts, spacing, boxes, edge style."""
    import graphviz

    g = graphviz.Digraph(name)
    g.attr(
        "graph",
        rankdir=direction,
        fontname=FONT,
        fontsize="11",
        nodesep="0.12",
        ranksep="0.18",
        label=title,
        labelloc="t",
        labeljust="l",
        newrank="true",
        style="rounded,filled",
        color="#AAAAAA",
    )
    g.attr(
        "node",
        shape="box",
        style="rounded,filled",
        fontname=FONT,
        fontsize="10",
        height="0.22",
        margin="0.06,0.02",
        fillcolor="#FFFFFF",
        color="#555555",
        penwidth="0.8",
    )
    g.attr("edge", fontname=FONT, fontsize="8", fontcolor="#505050", color="#666666", arrowsize="0.6")
    return g


def to_digraph(result: ShapeResult, options: RenderOptions | None = None) -> graphviz.Digraph:
    """Build the diagram of a checked net as a :class:`graphviz.Digraph`."""
    import graphviz

    opts = options or RenderOptions()
    d = build(result, opts)
    net, total = result.net, result.total
    title = (
        f"<<B>{esc(net.name)}</B>   {esc(human(total.params))} params · {esc(human(total.macs))} MACs · "
        f"input {esc(fmt_shape(result.input_shape))}<BR/> >"
    )
    g = _styled(net.name, title, opts.direction)
    wrap = layout.plan(d, opts.direction)
    # Edges first into a scratch graph: they decide the connectors, which belong inside the wrapped cluster.
    edges = graphviz.Digraph()
    links = {wrap.container.id: _edges(edges, d, wrap)}
    bounds = [*wrap.starts, len(wrap.container.items)]
    groups = {
        it.id: f"column{j}"
        for j in range(len(wrap.starts))
        if len(wrap.starts) > 1
        for it in wrap.container.items[bounds[j] : bounds[j + 1]]
        if isinstance(it, Node)
    }
    for item in d.root.items:
        _emit(g, item, links, groups)
    for connector in links.get("", []):
        g.node(connector, "", shape="point", width="0.06", color="#666666")
    g.body.extend(edges.body)
    _add_legend(g, d, len(wrap.starts))
    return g


def _add_legend(g: graphviz.Digraph, d: Diagram, columns: int) -> None:
    # The legend sits beside the input, on the first rank.
    with g.subgraph(name="cluster_legend") as leg:
        leg.attr(label="<<B>layer families</B>>", fillcolor="#FFFFFF", fontsize="9", margin="4")
        leg.node(
            LEGEND_ID,
            _legend(d.families, d.collapsed, 2 + 3 * (columns - 1)),
            shape="plaintext",
            style="",
            fontsize="9",
        )
    with g.subgraph() as first:
        first.attr(rank="same")
        first.node(INPUT_ID)
        first.node(LEGEND_ID)
    g.edge(INPUT_ID, LEGEND_ID, style="invis")


def to_dot(result: ShapeResult, options: RenderOptions | None = None) -> str:
    """DOT source of the diagram (deterministic: suitable for golden files)."""
    return str(to_digraph(result, options).source)
