"""One layer's pure rules, applied and memoised for the shape pass.

:func:`apply_rules` runs a kind's shape, cost and window rules for given
parameters and input shapes and derives what only depends on them (an output
size below 1, the rows a window drops); :func:`geometry` carries the receptive
field and jump through a layer. The rules are pure, so their results are
memoised: identical layers recur (every BatchNorm of a width, every repeated
block) and parameters are frozen. (The geometry is a few multiplications, cheaper
than a memo lookup.) Nothing here reports: errors propagate to
:mod:`netdsl.shapes.inference`, which turns them into diagnostics at the layer.
"""

from __future__ import annotations

from typing import NamedTuple

from netdsl.layers import Cost, LayerKind, Shape, Window, arith
from netdsl.memo import IdentityMemo

#: (axis, input size, window, rows or columns dropped) for each axis that loses some (W401).
Lost = tuple[tuple[str, int, Window, int], ...]


class Rule(NamedTuple):
    """What a layer's rules say for given parameters and input shapes."""

    out: Shape
    cost: Cost
    windows: tuple[Window, ...]
    kind: LayerKind  # compared by identity on lookup: a re-registered kind never sees another's results
    params: object  # likewise (the memo is keyed on its id, and holding it keeps that id unique)
    empty: bool  # some output size fell below 1 (E302)
    lost: Lost
    elements: int  # values in one sample's output, for the size limit (E304)


class Flow(NamedTuple):
    """A value flowing between layers: its shape, receptive field and jump per spatial axis,
    and its value id in the enclosing module's schedule (0 is the module's input).

    A named tuple: the shape pass makes one per layer, and a tuple is built in C.
    """

    shape: Shape
    rf: tuple[int, ...] | None = None
    jump: tuple[int, ...] | None = None
    value: int = 0


# Keyed on the identity of the kind and the parameters, not their value: hashing a pydantic
# model is a Python-level call over its fields, and the lowering pass already shares one
# Params object among equal calls (a layer's arguments are validated once per distinct value).
_RULES: IdentityMemo[Rule] = IdentityMemo()


def apply_rules(kind: LayerKind, params: object, shapes: tuple[Shape, ...]) -> Rule:
    """The kind's rules for ``params`` on ``shapes``; raises what the rules raise (ShapeError …)."""
    hit = _RULES.get(kind, params, shapes)
    if hit is None:
        hit = _RULES.put(kind, params, shapes, _apply(kind, params, shapes))
    return hit


def _apply(kind: LayerKind, params: object, shapes: tuple[Shape, ...]) -> Rule:
    out = tuple(kind.shape(params, shapes))
    cost = kind.cost(params, shapes, out)
    windows = tuple(kind.windows(params, shapes[0])) if kind.windows else ()
    spatial_in = shapes[0][1:]
    lost: Lost = ()
    if windows and len(windows) == len(spatial_in):
        axes = {1: ("L",), 2: ("H", "W")}.get(len(windows), ("D", "H", "W"))
        lost = tuple(
            (a, n, w, d)
            for a, n, w in zip(axes, spatial_in, windows, strict=False)
            # k < s skips rows by design (1×1/2 projections), so only k ≥ s counts as losing them;
            # with stride 1 the windows always reach the end
            if w.stride > 1 and arith.effective_kernel(w) >= w.stride and (d := arith.dropped(n, w))
        )
    elements = 1
    for d in out:
        elements *= d
    return Rule(out, cost, windows, kind, params, any(d < 1 for d in out), lost, elements)


def geometry(
    flows: list[Flow], out: Shape, windows: tuple[Window, ...]
) -> tuple[tuple[int, ...] | None, tuple[int, ...] | None]:
    """Receptive field and jump of a layer's output: windows grow them, shape-keeping merges take the max."""
    first = flows[0]
    rf, jump = first.rf, first.jump
    if windows and rf is not None and jump is not None and len(windows) == len(first.shape) - 1:
        # Each window widens the field by (effective kernel − 1) input jumps and multiplies the jump
        # by its stride. Written out for the common 2-D case: this runs once per layer.
        if len(windows) == 2:
            (r0, r1), (j0, j1), (w0, w1) = rf, jump, windows
            return (
                (r0 + w0.dilation * (w0.kernel - 1) * j0, r1 + w1.dilation * (w1.kernel - 1) * j1),
                (j0 * w0.stride, j1 * w1.stride),
            )
        grown = tuple([r + (arith.effective_kernel(w) - 1) * j for r, j, w in zip(rf, jump, windows, strict=True)])
        return grown, tuple([j * w.stride for j, w in zip(jump, windows, strict=True)])
    if len(out) == len(first.shape) and first.shape[1:] == out[1:]:
        if len(flows) == 1:
            return first.rf, first.jump
        rfs = [f.rf for f in flows if f.rf is not None]
        jumps = [f.jump for f in flows if f.jump is not None]
        if rfs and jumps and all(len(r) == len(rfs[0]) for r in rfs):
            return tuple(map(max, zip(*rfs, strict=False))), tuple(map(max, zip(*jumps, strict=False)))
    return None, None
