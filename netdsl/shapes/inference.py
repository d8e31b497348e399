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

from netdsl.errors import Diagnostic, Severity, Span
from netdsl.layers import REGISTRY, Cost, Shape, ShapeError, Window, arith
from netdsl.limits import Guard, LimitExceeded
from netdsl.lower import ir
from netdsl.lower.expr import EvalError, InShape, evaluate
from netdsl.memo import IdentityMemo
from netdsl.memo import key as memo_key
from netdsl.shapes.layout import linear_on_maps
from netdsl.shapes.reserved import RESERVED
from netdsl.shapes.result import NodeInfo, ShapeResult, fmt_shape
from netdsl.shapes.rules import Flow, apply_rules, geometry
from netdsl.shapes.schedule import Schedule, Step

__all__ = ["Flow", "NodeInfo", "ShapeResult", "fmt_shape", "infer"]

#: A conv "kernel" this large is a channel count written first, as PyTorch's Conv2d(in, out, k) takes it.
_CHANNELS_NOT_KERNEL = 12


class _Infer:
    def __init__(self, net: ir.Net, input_shape: Shape, guard: Guard | None = None, sizes: bool = True):
        self.result = ShapeResult(net, input_shape)
        self.guard = guard  # the run's deadline and, if `sizes`, the limits on one layer's size
        self.sizes = sizes
        self._seen: set[tuple[str, Span, str]] = set()
        self._rows: list[Schedule | Step] = self.result.rows  # every module and layer, in pre-order
        self._module: Schedule | None = None  # the schedule being written
        self._total = [0, 0, 0]  # params, buffers, MACs of the layers shaped so far
        self._decided: IdentityMemo[bool] = IdentityMemo()  # switch decisions, by condition and values
        self.habit: str | None = None  # a conv written in PyTorch's argument order, if one was seen

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
        sched = outer = entry = None
        if module:
            entry = x
            sched, outer = self._open(node, x, depth, parent), self._module
            self._module = sched
            x = x._replace(value=0) if x is not None else None  # value 0: the module's own input
            values = {"in": x}
            parent, depth = node.id, depth + 1
        elif node.container == "inline":
            # Captures inside an inline block stay visible after it (it is spliced into the enclosing
            # module); only `in` is the block's own for the duration of its body.
            outer_in, values["in"] = values.get("in"), x
        ins = [*ins, x.shape if x else None] if node.container in ("net", "block", "inline") else ins
        for child in node.body:
            x = self.node(child, x, values, depth, parent, ins)
            if child.capture:
                values[child.capture] = x
        if node.container == "inline" and not module:
            values["in"] = outer_in
        if sched is not None:
            self._module = outer
            x = self._close(sched, outer, entry, x)
        return x

    def _open(self, node: ir.ScopeNode, x: Flow | None, depth: int, parent: str | None) -> Schedule:
        kind = "net" if node.container == "net" else ("block" if node.block else node.container)
        label = node.block or node.container
        body = node.body
        if len(body) == 1 and isinstance(body[0], ir.ScopeNode) and body[0].container == "inline":
            label = body[0].block or label  # a block that only dispatches to another is shown as that one
        if parent is not None:
            self._reserved(node)
        sched = Schedule(node, kind, label, depth, parent, x.shape if x else None)
        self._rows.append(sched)
        return sched

    def _close(self, sched: Schedule, outer: Schedule | None, entry: Flow | None, x: Flow | None) -> Flow | None:
        """End a module: its output, and the call of it in the enclosing module's schedule."""
        if x is not None:
            sched.output, sched.output_shape, sched.rf, sched.jump = x.value, x.shape, x.rf, x.jump
        if outer is None:
            self.result.schedule = sched
            return x
        if x is None or entry is None:
            return None
        shapes = (entry.shape,)
        outer.steps.append(Step(sched.node, (entry.value,), shapes, x.shape, sched.depth, sched.parent, sub=sched))
        return x._replace(value=len(outer.steps))

    def _reserved(self, node: ir.ScopeNode | ir.LayerNode | ir.MergeNode) -> None:
        if node.name in RESERVED:
            self.error(
                "E504",
                f"`{node.name}` cannot name a module: torch.nn.Module uses that attribute",
                node,
                layer=node.id,
                hint=f"rename the label, e.g. `{node.name}_`",
            )

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
        # Instances of a block decide their switches alike: memoised by condition, values (typed:
        # `true` and `1` are equal in Python, not to the evaluator; so are `(true,)` and `(1,)`) and shape.
        rest: tuple[object, ...] | None = (shape, tuple([(k, memo_key(v)) for k, v in node.env.items()]))
        try:
            take = self._decided.get(node.cond, None, rest)
        except TypeError:  # an unhashable value: no memo
            rest, take = None, None
        if take is None:
            try:
                take = bool(evaluate(node.cond, node.env, InShape(shape)))
            except EvalError as err:
                self.error(err.code, err.message, node, hint=err.hint)
                return None
            if rest is not None:
                self._decided.put(node.cond, None, rest, take)
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
            self.error(
                err.code, err.message, node, layer=node.id, hint=self._habit(kind.name, params, node) or err.hint
            )
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
                hint=self._habit(kind.name, params, node),
            )
            return None
        if hit.lost or (windows and shapes[0][-1] == 1):  # (the cheap test first: the shape pass is hot)
            self._window_warnings(node, kind.name, params, shapes[0], hit.lost, windows)
        rf, jump = geometry(flows, out, windows)
        module = self._module
        assert module is not None  # every layer lies inside the net's module
        if node.name in RESERVED:
            self._reserved(node)
        args = tuple([f.value for f in flows])
        step = Step(node, args, shapes, out, depth, parent, kind.name, params, cost, rf, jump, windows)
        module.steps.append(step)
        self._rows.append(step)
        total = self._total
        total[0] += cost.params
        total[1] += cost.buffers
        total[2] += cost.macs
        return Flow(out, rf, jump, len(module.steps))

    def _habit(self, kind: str, params: object, node: ir._Node) -> str | None:
        """PyTorch's ``Conv2d(in, out, k)`` written as ``conv2d(3, 32, 3)``: a "kernel" of 32 is a channel count."""
        if kind not in ("conv1d", "conv2d"):
            return None
        kernel = getattr(params, "kernel_size", 1)
        k = max(kernel) if isinstance(kernel, tuple) else kernel
        if not isinstance(k, int) or k < _CHANNELS_NOT_KERNEL:
            return None
        out, stride = getattr(params, "out_channels", "?"), getattr(params, "stride", 1)
        text = (
            f"`{kind}({out}, {k}, {stride}, …)` reads as out_channels={out}, kernel_size={k}, stride={stride}: "
            f"in netdsl the first argument is out_channels and in_channels is inferred from the input "
            f"(PyTorch's Conv2d({out}, {k}, {stride}) is `{kind}({k}, {stride})`)"
        )
        if self.habit is None:  # what later layers' errors (a map shrunk to nothing) are told
            self.habit = f"the map shrank at line {node.span.line}: {text}"
        return text

    def _window_warnings(
        self,
        node: ir.LayerNode | ir.MergeNode,
        kind: str,
        params: object,
        shape: Shape,
        lost: tuple[tuple[str, int, Window, int], ...],
        windows: tuple[Window, ...] | None,
    ) -> None:
        """W401 (rows the floor drops) and W404 (a k×k window, k > 1, on a 1×1 map)."""
        if lost:
            self._lost_warning(node, kind, shape, lost, self._habit(kind, params, node))
        if windows and max(shape[1:]) == 1 and max(w.kernel for w in windows) > 1:
            self._collapsed_warning(node, kind, shape, windows)

    def _collapsed_warning(
        self, node: ir.LayerNode | ir.MergeNode, kind: str, shape: Shape, windows: tuple[Window, ...]
    ) -> None:
        """W404: the map collapsed earlier; the window sees one pixel (and padding)."""
        k = "×".join(str(w.kernel) for w in windows)
        self.error(
            "W404",
            f"{kind} {k} receives a {fmt_shape(shape[1:])} map: the map has collapsed to one pixel before this layer",
            node,
            layer=node.id,
            severity="warning",
            hint="use fewer poolings or strides before it, a larger input, or a 1×1 layer here",
        )

    def _lost_warning(
        self,
        node: ir.LayerNode | ir.MergeNode,
        kind: str,
        shape: Shape,
        lost: tuple[tuple[str, int, Window, int], ...],
        habit: str | None = None,
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
            hint=habit or "adjust padding or the input size so the windows tile it",
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
    result = run.result
    result.output = out.shape if out else None
    result.total = Cost(*run._total)
    if run.habit is not None:  # the map shrank because of that conv: its hint, not a bigger input
        _fill_hints(result, "E302", run.habit)
    if any(d.code == "E302" for d in result.diagnostics) and len(shape) > 1:
        with contextlib.suppress(LimitExceeded):  # out of time for the search: the error stands, without its hint
            _suggest_smallest_input(net, result, guard)
    result.diagnostics.extend(linear_on_maps(result))
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
    _fill_hints(result, "E302", f"input {given} is too small for this net; the smallest valid input is {c}×{smallest}")


def _fill_hints(result: ShapeResult, code: str, hint: str) -> None:
    """Give ``hint`` to the ``code`` diagnostics that have none."""
    for i, d in enumerate(result.diagnostics):
        if d.code == code and d.hint is None:
            result.diagnostics[i] = Diagnostic(d.code, d.message, d.span, d.severity, d.layer, d.chain, hint=hint)


def _dominant_layer_warning(result: ShapeResult, share: float = 0.5, minimum: int = 1_000_000) -> None:
    total = result.total.params
    if total < minimum:
        return
    biggest, most = None, -1
    for row in result.rows:  # the first of the largest layers (from the rows: no table is built for this)
        if type(row) is Step and row.cost.params > most:
            biggest, most = row, row.cost.params
    if biggest is not None and most > share * total:
        node, kind = biggest.node, REGISTRY.get(biggest.kind)
        label = kind.describe(biggest.params) if kind else biggest.kind
        result.diagnostics.append(
            Diagnostic(
                "W403",
                f"`{node.id}` ({label}) holds {100 * most / total:.0f}% of all parameters ({most:,} of {total:,})",
                node.span,
                "warning",
                node.id,
                node.chain,  # type: ignore[arg-type]
                hint="a global pool before the classifier shrinks it (as NiN and ResNet do)",
            )
        )
