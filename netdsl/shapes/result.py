"""What the shape pass (:mod:`netdsl.shapes.inference`) learns: per-module facts, switch decisions, diagnostics.

The pass records one compact row per module as it walks the net; the per-module
:class:`NodeInfo` table (with each module's summed cost and child count) is built
from those rows the first time someone reads it. ``netdsl check`` never does: it
needs the diagnostics, which the pass produces itself, and the totals, which it
keeps as it goes. Tables, diagrams and the compiler read ``nodes`` / ``by_id``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netdsl.errors import Diagnostic, Frame, Span
from netdsl.layers import REGISTRY, Cost, Shape, Window, arith
from netdsl.lower import ir
from netdsl.memo import once
from netdsl.shapes.schedule import Schedule, Step
from netdsl.units import shape_text

__all__ = ["NodeInfo", "ShapeResult", "fmt_shape"]


@dataclass(slots=True)
class NodeInfo:
    """Static facts about one module of the net (a layer, merge or named scope)."""

    id: str
    name: str
    kind: str  # layer kind, or "block", "group", "repeat", "net"
    title: str  # block/container name for scopes; unused for layers (see `label`)
    depth: int
    parent: str | None
    inputs: tuple[Shape, ...]
    output: Shape | None
    cost: Cost
    span: Span
    chain: tuple[Frame, ...]
    rf: tuple[int, ...] | None = None
    jump: tuple[int, ...] | None = None
    windows: tuple[Window, ...] = ()
    is_scope: bool = False
    block: str | None = None
    children: int = 0
    params: object = None

    @property
    def label(self) -> str:
        """Compact description: ``conv 3×3, 64, /2`` for layers, the block name for scopes."""
        if self.is_scope:
            return self.title
        kind = REGISTRY.get(self.kind)
        return kind.describe(self.params) if kind else self.kind

    @property
    def explain(self) -> tuple[str, ...]:
        """The arithmetic behind each spatial output size (computed on demand: only --explain asks)."""
        if not self.windows or not self.inputs:
            return ()
        sizes = self.inputs[0][1:]
        axes = {1: ("L",), 2: ("H", "W")}.get(len(self.windows), ("D", "H", "W"))
        return tuple(f"{a}: {arith.explain(n, w)}" for a, n, w in zip(axes, sizes, self.windows, strict=False))


@dataclass
class ShapeResult:
    """Everything the shape pass learnt: per-module info, switch decisions, diagnostics."""

    net: ir.Net
    input_shape: Shape
    chosen: dict[str, bool] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    output: Shape | None = None
    #: Parameters, buffers and MACs of every layer shaped (the net's own cost).
    total: Cost = field(default_factory=Cost)
    #: Every module (its :class:`Schedule`) and layer (its :class:`Step`) in pre-order, as the pass met them.
    rows: list[Schedule | Step] = field(default_factory=list, repr=False)
    #: The net's schedule (each child module's is in its step's ``sub``); what the back ends read.
    schedule: Schedule | None = None
    _table: tuple[list[NodeInfo], dict[str, NodeInfo]] | None = field(default=None, init=False, repr=False)

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    @property
    def nodes(self) -> list[NodeInfo]:
        """One :class:`NodeInfo` per module, in execution order (scopes before their contents)."""
        return self._built()[0]

    @property
    def by_id(self) -> dict[str, NodeInfo]:
        """The same, by module id (``layer1.0.conv1``)."""
        return self._built()[1]

    def layers(self) -> list[NodeInfo]:
        return [n for n in self.nodes if not n.is_scope]

    def _built(self) -> tuple[list[NodeInfo], dict[str, NodeInfo]]:
        return once(self, "_table", lambda: _table(self.rows))


def _table(rows: list[Schedule | Step]) -> tuple[list[NodeInfo], dict[str, NodeInfo]]:
    """The module table of a pass's records: facts per module, child counts, each scope's summed cost."""
    nodes: list[NodeInfo] = []
    by_id: dict[str, NodeInfo] = {}
    for row in rows:
        if type(row) is Schedule:
            node = row.node
            info = NodeInfo(
                node.id,
                node.name or "",
                row.kind,
                row.title,
                row.depth,
                row.parent,
                (row.input,) if row.input is not None else (),
                row.output_shape,
                Cost(),
                node.span,
                node.chain,
                row.rf,
                row.jump,
                is_scope=True,
                block=node.block,
            )
        else:
            assert type(row) is Step
            n = row.node
            info = NodeInfo(
                n.id, n.name or "", row.kind, "", row.depth, row.parent, row.inputs, row.output, row.cost,
                n.span, n.chain, row.rf, row.jump, row.windows, params=row.params,
            )  # fmt: skip
        nodes.append(info)
        by_id[info.id] = info
        if info.parent is not None:
            by_id[info.parent].children += 1
    # A module's cost is the sum of its layers' and sub-modules'. Rows are in pre-order (a scope
    # before its contents), so walking them backwards finishes every module before its parent.
    sums: dict[str, list[int]] = {}
    for info in reversed(nodes):
        if info.is_scope:
            info.cost = Cost(*sums.pop(info.id, (0, 0, 0)))
        if info.parent is not None:
            acc = sums.setdefault(info.parent, [0, 0, 0])
            acc[0] += info.cost.params
            acc[1] += info.cost.buffers
            acc[2] += info.cost.macs
    return nodes, by_id


def fmt_shape(s: Shape | None) -> str:
    """``64×56×56`` (see :func:`netdsl.units.shape_text`)."""
    return shape_text(s)
