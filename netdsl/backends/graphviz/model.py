"""The diagram model: a walk over the shape pass's schedules that records nodes, clusters, edges.

Pure (no graphviz): :mod:`netdsl.backends.graphviz` turns the model into DOT. See that
module's docstring for what is drawn and the precise folding rule.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from netdsl.layers import REGISTRY, Shape
from netdsl.lower import ir
from netdsl.shapes.inference import NodeInfo, ShapeResult, fmt_shape
from netdsl.shapes.schedule import Schedule, Step
from netdsl.units import count

Direction = Literal["TB", "LR"]

# Okabe–Ito hues (colour-blind safe) mixed 55% with white so black text reads on them.
PALETTE: dict[str, str] = {
    "conv": "#8CBFDC",  # blue
    "norm": "#F8F3AA",  # yellow
    "activation": "#F4D48C",  # orange
    "pool": "#8CD3C0",  # bluish green
    "linear": "#E8C3D7",  # reddish purple
    "merge": "#ECB68C",  # vermillion
    "dropout": "#FFFFFF",  # white, dashed border
    "reshape": "#C6E5F7",  # sky blue
    "other": "#E0E0E0",  # grey
}
BLOCK_FILL = "#EDEDF4"  # collapsed blocks (--depth): neutral, they mix families
MERGE_GLYPHS = {"add": "+", "mul": "×"}
INPUT_ID, OUTPUT_ID = "#input", "#output"  # '#' never occurs in module names


@dataclass(frozen=True)
class RenderOptions:
    """How to draw: collapse depth, folding of repeats, layout direction."""

    depth: int | None = None
    expand: bool = False
    direction: Direction = "TB"


@dataclass
class Run:
    """A drawn module scope and the identical siblings folded into it (``count`` in all)."""

    sig: Any
    parent: str
    first: str
    last: str
    count: int = 1

    @property
    def title(self) -> str:
        """``layer1.1–layer1.2  ×2`` for a folded run; the instance name alone otherwise."""
        return self.first if self.count == 1 else f"{self.first}–{self.last}  ×{self.count}"


@dataclass(frozen=True)
class _Val:
    """A value flowing in the diagram: the node producing it, its shape, the run it may extend."""

    endpoint: str
    shape: Shape | None
    run: Run | None = None


@dataclass
class Node:
    """One drawn node; ``label`` is HTML-like graphviz markup (already escaped)."""

    id: str
    label: str
    attrs: dict[str, str]
    run: Run | None = None  # collapsed boxes: the run they stand for


@dataclass
class Cluster:
    """A drawn module scope (the root, id ``""``, is the whole net)."""

    id: str
    block: str  # block name shown in the title ("" for groups and repeats)
    strip: str  # the enclosing block instance: names inside it are shown relative to it
    level: int
    run: Run | None = None
    items: list[Node | Cluster] = field(default_factory=list)

    @property
    def title(self) -> str:
        """``Bottleneck · layer1.0``, ``downsample``, ``Bottleneck · layer1.1–layer1.2  ×2``."""

        def rel(i: str) -> str:
            return i[len(self.strip) + 1 :] if self.strip else i

        name = rel(self.id)
        if self.run is not None and self.run.count > 1:
            name = f"{rel(self.run.first)}–{rel(self.run.last)}  ×{self.run.count}"
        return f"{self.block} · {name}" if self.block else name

    def node_ids(self) -> list[str]:
        return [n for it in self.items for n in (it.node_ids() if isinstance(it, Cluster) else [it.id])]


@dataclass
class Edge:
    tail: str
    head: str
    shape: str


@dataclass
class Diagram:
    """Everything to draw, in a stable order."""

    root: Cluster
    edges: list[Edge] = field(default_factory=list)
    families: set[str] = field(default_factory=set)
    collapsed: bool = False
    joins: set[str] = field(default_factory=lambda: {OUTPUT_ID})  # merges and the output: inputs may need labels
    changes: set[str] = field(default_factory=lambda: {INPUT_ID})  # nodes whose output shape differs from input
    resizes: set[str] = field(default_factory=set)  # nodes that change the spatial size (pools, strides)
    shape_of: dict[str, str] = field(default_factory=dict)  # node → its output shape, as edges show it


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def human(n: int) -> str:
    """``75008`` → ``75K``: counts for diagram labels."""
    return count(n, "label")


def block_title(node: ir.ScopeNode) -> str:
    """The block name shown for a module scope; a wrapper around one inline block shows the inner block."""
    title, body = node.block, node.body
    while len(body) == 1 and isinstance(body[0], ir.ScopeNode) and body[0].container == "inline":
        title, body = body[0].block or title, body[0].body
    return title or ""


class _Builder:
    def __init__(self, result: ShapeResult, options: RenderOptions):
        self.r = result
        self.opts = options
        self.d = Diagram(Cluster("", "", "", 0))

    def build(self) -> Diagram:
        schedule = self.r.schedule
        assert schedule is not None, "only checked nets are drawn"
        x = _Val(INPUT_ID, self.r.input_shape)
        self.d.root.items.append(Node(INPUT_ID, _io_label("input", self.r.input_shape), {}))
        x = self._schedule(schedule, x, self.d.root)
        self.d.root.items.append(Node(OUTPUT_ID, _io_label("output", x.shape), {}))
        self._edge(x, OUTPUT_ID)
        return self.d

    # ------------------------------------------------------------- the walk (over the shape pass's schedule)
    def _schedule(self, s: Schedule, x: _Val, into: Cluster) -> _Val:
        readers = Counter(a for step in s.steps for a in step.args)
        readers[s.output] += 1
        vals = [x]  # value id → what the diagram draws for it
        for step in s.steps:
            # A value read twice (a fan-out, a capture used again) is an endpoint: nothing may fold onto it.
            xs = [vals[a] if readers[a] < 2 else replace(vals[a], run=None) for a in step.args]
            vals.append(self._module(step, xs[0], into) if step.sub is not None else self._layer(step, xs, into))
        return vals[s.output]

    def _layer(self, step: Step, xs: list[_Val], into: Cluster) -> _Val:
        nid, name, kind_name = step.node.id, step.name, step.kind
        kind = REGISTRY.get(kind_name)
        family = kind.family if kind else "other"
        text = kind.describe(step.params) if kind else kind_name
        self.d.families.add(family)
        attrs = {"fillcolor": PALETTE.get(family, PALETTE["other"]), "tooltip": f"{nid}: {text}"}
        if family == "merge":
            self.d.joins.add(nid)
        if family == "merge" and kind_name in MERGE_GLYPHS:
            attrs.update(shape="circle", width="0.26", height="0.26", fixedsize="true", fontsize="13")
            label = esc(MERGE_GLYPHS[kind_name])
        else:
            label = esc(text)
            if name and not name.isdigit():  # labels (conv1) tell something; position indices do not
                label += f'  <FONT POINT-SIZE="8" COLOR="#3A3A3A"><I>{esc(name)}</I></FONT>'
            if family == "dropout":
                attrs["style"] = "rounded,filled,dashed"
        into.items.append(Node(nid, label, attrs))
        for x in xs:
            self._edge(x, nid)
        if xs and xs[0].shape != step.output:
            self.d.changes.add(nid)
            if xs[0].shape is None or xs[0].shape[1:] != step.output[1:]:
                self.d.resizes.add(nid)
        return _Val(nid, step.output)

    def _module(self, step: Step, x: _Val, into: Cluster) -> _Val:
        sched = step.sub
        assert sched is not None
        node, info = sched.node, self.r.by_id[sched.id]
        sig = None if self.opts.expand else _signature(sched)
        run = x.run
        if sig is not None and run is not None and run.parent == step.parent and run.sig == sig:
            run.count += 1
            run.last = node.id
            return _Val(x.endpoint, info.output, run)
        run = Run(sig, step.parent or "", node.id, node.id)
        if not any(st.sub is None for sub in sched.walk() for st in sub.steps):
            return _Val(x.endpoint, info.output, run)  # nothing built inside: draw nothing
        if self.opts.depth is not None and info.depth >= self.opts.depth:
            self.d.collapsed = True
            into.items.append(_box(node, info, run))
            self._edge(x, node.id)
            if x.shape != info.output:
                self.d.changes.add(node.id)
            return _Val(node.id, info.output, run)
        sub = Cluster(node.id, block_title(node), self._enclosing_block(info), into.level + 1, run)
        into.items.append(sub)
        out = self._schedule(sched, replace(x, run=None), sub)
        return _Val(out.endpoint, info.output, run)

    def _enclosing_block(self, info: NodeInfo) -> str:
        """The nearest enclosing block instance: ``Inception · inception4c`` titles its parts ``branch2``."""
        p = info.parent
        while p and self.r.by_id[p].kind != "block":
            p = self.r.by_id[p].parent
        return p or ""

    def _edge(self, x: _Val, head: str) -> None:
        self.d.edges.append(Edge(x.endpoint, head, fmt_shape(x.shape)))
        self.d.shape_of[x.endpoint] = fmt_shape(x.shape)


def _signature(s: Schedule) -> Any:
    """A module as built, for the identity test of the folding rule (see :mod:`netdsl.backends.graphviz`).

    Two instances fold when their schedules agree in everything but their own names: the
    same block, input and output shapes, and the same calls (relative names, kinds,
    parameters, shapes and value ids), recursively.
    """
    cut = len(s.id) + 1

    def sig(sc: Schedule) -> Any:
        steps = tuple(
            (st.node.id[cut:], st.kind, st.params, st.args, st.inputs, st.output, sig(st.sub) if st.sub else None)
            for st in sc.steps
        )
        return (sc.node.block, sc.kind, sc.node.container, sc.input, sc.output_shape, sc.output, steps)

    return sig(s)


def _box(node: ir.ScopeNode, info: NodeInfo, run: Run) -> Node:
    block = block_title(node) or node.container
    shapes = f"{fmt_shape(info.inputs[0] if info.inputs else None)} → {fmt_shape(info.output)}"
    label = (
        f"<B>{esc(block)}</B> · {esc(node.id)}<BR/>{esc(shapes)}<BR/>"
        f'<FONT POINT-SIZE="8">{esc(human(info.cost.params))} params</FONT>'
    )
    return Node(
        node.id,
        label,
        {"fillcolor": BLOCK_FILL, "margin": "0.1,0.05", "tooltip": f"{node.id}: {info.cost.params:,} params"},
        run,
    )


def _io_label(what: str, shape: Shape | None) -> str:
    return f"<B>{what}</B><BR/>{esc(fmt_shape(shape))}"


def build(result: ShapeResult, options: RenderOptions) -> Diagram:
    """Walk a checked net into a :class:`Diagram` (nodes, clusters, edges, folded runs)."""
    return _Builder(result, options).build()
