"""Pass 3: static shape inference over the IR (no tensors, no torch).

Walks the net in execution order applying each layer kind's pure shape and cost
rules. Produces one :class:`NodeInfo` per module (layers, merges, blocks,
groups, repeats) with input/output shapes, parameters, buffers, MACs, receptive
field and jump; decides ``if`` conditions that read ``in``; and reports shape
errors at the offending layer's line. A failed layer poisons only the values
that depend on it, so one mistake yields one error.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from netdsl import arith, ir
from netdsl.errors import Diagnostic, Frame, Severity, Span
from netdsl.expr import EvalError, InShape, evaluate
from netdsl.limits import Guard, LimitExceeded
from netdsl.registry import REGISTRY, Cost, Shape, ShapeError, Window
from netdsl.rules import Flow, apply_rules, geometry

__all__ = ["Flow", "NodeInfo", "ShapeResult", "fmt_shape", "infer"]


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
        axes = ("H", "W") if len(self.windows) == 2 else ("L",)
        return tuple(f"{a}: {arith.explain(n, w)}" for a, n, w in zip(axes, sizes, self.windows, strict=False))


@dataclass
class ShapeResult:
    """Everything the shape pass learnt: per-module info, switch decisions, diagnostics."""

    net: ir.Net
    input_shape: Shape
    nodes: list[NodeInfo] = field(default_factory=list)
    by_id: dict[str, NodeInfo] = field(default_factory=dict)
    chosen: dict[str, bool] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    output: Shape | None = None

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    @property
    def total(self) -> Cost:
        root = self.by_id.get("")
        return root.cost if root else Cost()

    def layers(self) -> list[NodeInfo]:
        return [n for n in self.nodes if not n.is_scope]


def fmt_shape(s: Shape | None) -> str:
    return "?" if s is None else "×".join(map(str, s))


class _Infer:
    def __init__(self, net: ir.Net, input_shape: Shape, guard: Guard | None = None, sizes: bool = True):
        self.result = ShapeResult(net, input_shape)
        self.guard = guard  # the run's deadline and, if `sizes`, the limits on one layer's size
        self.sizes = sizes
        self._seen: set[tuple[str, Span, str]] = set()
        self._acc: dict[str, list[Cost]] = {}

    def error(
        self,
        code: str,
        msg: str,
        node: ir._Node,
        layer: str | None = None,
        hint: str | None = None,
        severity: Severity = "error",
    ) -> None:
        key = (code, node.span, msg)
        if key in self._seen:
            return
        self._seen.add(key)
        self.result.diagnostics.append(
            Diagnostic(
                code,
                msg,
                node.span,
                severity=severity,
                layer=layer,
                chain=node.chain,  # type: ignore[arg-type]
                hint=hint,
            )
        )

    # -- walking
    def scope(
        self,
        node: ir.ScopeNode,
        x: Flow | None,
        values: dict[str, Flow | None],
        depth: int,
        parent: str | None,
        ins: list[Shape | None],
    ) -> Flow | None:
        outer_in: Flow | None = None
        module = node.name is not None  # node.is_module, without a property call per scope
        if module:
            values = {"in": x}
        elif node.container == "inline":
            # Captures inside an inline block stay visible after it (it is spliced into the enclosing
            # module); only `in` is the block's own for the duration of its body.
            outer_in, values["in"] = values.get("in"), x
        ins = [*ins, x.shape if x else None] if node.container in ("net", "block", "inline") else ins
        info = None
        if module:
            info = self._add_scope(node, x, depth, parent)
            parent, depth = node.id, depth + 1
        for child in node.body:
            x = self.node(child, x, values, depth, parent, ins)
            if child.capture:
                values[child.capture] = x
        if node.container == "inline" and not module:
            values["in"] = outer_in
        if info is not None:
            self._close(info)
            info.output = x.shape if x else None
            if x is not None:
                info.rf, info.jump = x.rf, x.jump
        return x

    def _add_scope(self, node: ir.ScopeNode, x: Flow | None, depth: int, parent: str | None) -> NodeInfo:
        kind = "net" if node.container == "net" else ("block" if node.block else node.container)
        label = node.block or node.container
        body = node.body
        if len(body) == 1 and isinstance(body[0], ir.ScopeNode) and body[0].container == "inline":
            label = body[0].block or label  # a block that only dispatches to another is shown as that one
        info = NodeInfo(
            node.id,
            node.name or "",
            kind,
            label,
            depth,
            parent,
            (x.shape,) if x else (),
            None,
            Cost(),
            node.span,
            node.chain,
            is_scope=True,
            block=node.block,
        )
        self._record(info)
        self._acc[info.id] = []
        return info

    def _record(self, info: NodeInfo) -> None:
        self.result.nodes.append(info)
        self.result.by_id[info.id] = info
        if info.parent is not None:
            self.result.by_id[info.parent].children += 1
            if not info.is_scope:
                self._acc[info.parent].append(info.cost)

    def _close(self, info: NodeInfo) -> None:
        """A module's cost is the sum of its layers' and sub-modules' (rolled up as each module ends)."""
        params = buffers = macs = 0
        for c in self._acc.pop(info.id, ()):
            params += c.params
            buffers += c.buffers
            macs += c.macs
        info.cost = Cost(params, buffers, macs)
        if info.parent is not None:
            self._acc[info.parent].append(info.cost)

    def node(
        self,
        node: ir.AnyNode,
        x: Flow | None,
        values: dict[str, Flow | None],
        depth: int,
        parent: str | None,
        ins: list[Shape | None],
    ) -> Flow | None:
        if isinstance(node, ir.LayerNode):
            return self.layer(node, node.kind, node.params, [x], depth, parent)
        if isinstance(node, ir.ScopeNode):
            return self.scope(node, x, values, depth, parent, ins)
        if isinstance(node, ir.MergeNode):
            outs = [self.scope(p, x, values, depth, parent, ins) for p in node.paths]
            return self.layer(node, node.kind, node.params, outs, depth, parent)
        if isinstance(node, ir.UseNode):
            if node.value not in values:
                self.error(
                    "E103",
                    f"value `@{node.value}` is not defined on this path",
                    node,
                    hint="a value captured inside one `if` arm or another block is not visible here",
                )
                return None
            return values[node.value]
        assert isinstance(node, ir.SwitchNode)
        shape = ins[-1] if ins else None
        if shape is None:
            return None
        try:
            take = bool(evaluate(node.cond, node.env, InShape(shape)))
        except EvalError as err:
            self.error(err.code, err.message, node, hint=err.hint)
            return None
        self.result.chosen[node.id] = take
        return self.scope(node.then if take else node.orelse, x, values, depth, parent, ins)

    def layer(
        self,
        node: ir.LayerNode | ir.MergeNode,
        kind_name: str,
        params: object,
        xs: list[Flow | None],
        depth: int,
        parent: str | None,
    ) -> Flow | None:
        kind = REGISTRY.get(kind_name)
        assert kind is not None, kind_name
        if None in xs:
            return None  # poisoned by an earlier error: stay silent
        flows: list[Flow] = xs  # type: ignore[assignment]
        shapes = tuple([f.shape for f in flows])
        try:
            hit = apply_rules(kind, params, shapes)
        except ShapeError as err:
            self.error(err.code, err.message, node, layer=node.id, hint=err.hint)
            return None
        except Exception as err:
            self.error(
                "E309",
                f"the rules of `{kind.name}` ({kind.origin}) failed: {type(err).__name__}: {err}",
                node,
                layer=node.id,
            )
            return None
        out, cost, windows = hit.out, hit.cost, hit.windows
        guard = self.guard
        if guard is not None:
            guard.tick(node.span, "shape inference of")
            lim = guard.limits
            # The cheap comparison first: only a layer over a limit builds the message.
            if self.sizes and (cost.params > lim.max_layer_params or hit.elements > lim.max_activation):
                problem = guard.layer_problem(kind.name, cost.params, out)
                if problem is not None:  # refused here, long before a builder could try to allocate it
                    self.error(problem[0], problem[1], node, layer=node.id, hint=problem[2])
                    return None
        if hit.empty:
            self.error(
                "E302",
                f"{kind.name}: output would be {fmt_shape(out)} for input {fmt_shape(shapes[0])}",
                node,
                layer=node.id,
            )
            return None
        if hit.lost:
            self._lost_warning(node, kind.name, shapes[0], hit.lost)
        rf, jump = geometry(flows, out, windows)
        info = NodeInfo(
            node.id,
            node.name,
            kind.name,
            "",
            depth,
            parent,
            shapes,
            out,
            cost,
            node.span,
            node.chain,
            rf,
            jump,
            windows,
            params=params,
        )
        self._record(info)
        return Flow(out, rf, jump)

    def _lost_warning(
        self, node: ir.LayerNode | ir.MergeNode, kind: str, shape: Shape, lost: tuple[tuple[str, int, Window, int], ...]
    ) -> None:
        """W401: the floor drops the last rows/columns of the input."""
        what = " and ".join(f"{d} {'row' if a == 'H' else 'column'}{'s' if d > 1 else ''}" for a, _, _, d in lost)
        why = "; ".join(f"{a}: {arith.explain(n, w)}" for a, n, w, _ in lost)
        self.error(
            "W401",
            f"{kind}: the last {what} of the {fmt_shape(shape[1:])} input "
            f"{'are' if len(lost) > 1 or lost[0][3] > 1 else 'is'} never seen ({why})",
            node,
            layer=node.id,
            severity="warning",
            hint="adjust padding or the input size so the windows tile it",
        )


def infer(net: ir.Net, input_shape: Shape | None = None, guard: Guard | None = None) -> ShapeResult:
    """Infer every module's shapes and costs for ``input_shape`` (default: the net's declared input).

    ``guard`` (optional) refuses layers too large to be real (E303, E304) and raises
    :class:`netdsl.limits.LimitExceeded` when the run's deadline passes.
    """
    shape = tuple(input_shape or net.input_shape)
    run = _Infer(net, shape, guard)
    spatial = len(shape) - 1
    start = Flow(shape, (1,) * spatial if spatial else None, (1,) * spatial if spatial else None)
    out = run.scope(net.body, start, {}, 0, None, [])
    run.result.output = out.shape if out else None
    result = run.result
    if any(d.code == "E302" for d in result.diagnostics) and len(shape) > 1:
        with contextlib.suppress(LimitExceeded):  # out of time for the search: the error stands, without its hint
            _suggest_smallest_input(net, result, guard)
    if result.ok:
        _dominant_layer_warning(result)
    return result


def _suggest_smallest_input(net: ir.Net, result: ShapeResult, guard: Guard | None = None) -> None:
    """Turn 'output would be 0×0' into 'smallest valid input is 32×32' by searching input sizes."""
    c, spatial = result.input_shape[0], result.input_shape[1:]

    def fits(n: int) -> bool:
        trial = _Infer(net, (c, *([n] * len(spatial))), guard, sizes=False)  # only E302 decides
        k = len(spatial)
        trial.scope(net.body, Flow((c, *([n] * k)), (1,) * k, (1,) * k), {}, 0, None, [])
        return not any(d.code == "E302" for d in trial.result.diagnostics)

    lo, hi = max(spatial), 1 << 14
    if not fits(hi):
        return
    while lo < hi:
        mid = (lo + hi) // 2
        if fits(mid):
            hi = mid
        else:
            lo = mid + 1
    smallest = "×".join([str(lo)] * len(spatial))
    given = fmt_shape(result.input_shape)
    for i, d in enumerate(result.diagnostics):
        if d.code == "E302" and d.hint is None:
            result.diagnostics[i] = Diagnostic(
                d.code,
                d.message,
                d.span,
                d.severity,
                d.layer,
                d.chain,
                hint=f"input {given} is too small for this net; the smallest valid input is {c}×{smallest}",
            )


def _dominant_layer_warning(result: ShapeResult, share: float = 0.5, minimum: int = 1_000_000) -> None:
    total = result.total.params
    if total < minimum:
        return
    biggest, most = None, -1
    for n in result.nodes:  # the first of the largest, as max() would give
        if not n.is_scope and n.cost.params > most:
            biggest, most = n, n.cost.params
    if biggest is not None and biggest.cost.params > share * total:
        pct = 100 * biggest.cost.params / total
        result.diagnostics.append(
            Diagnostic(
                "W403",
                f"`{biggest.id}` ({biggest.label}) holds {pct:.0f}% of all parameters "
                f"({biggest.cost.params:,} of {total:,})",
                biggest.span,
                "warning",
                biggest.id,
                biggest.chain,
                hint="a global pool before the classifier shrinks it (as NiN and ResNet do)",
            )
        )
