"""Channels-first maps reaching ``linear``: the forgotten ``flatten``, found from the dataflow.

``linear`` acts on the last axis of any input, as ``nn.Linear`` does: tokens ``(L, D)`` after
``to_tokens``, a channels-last ``(H, W, C)`` map after ``permute([0, 2, 3, 1])``. On the
channels-first ``(C, H, W)`` map a convolution or pool produced, it would mix the *width*
axis, which in a CNN is almost always a forgotten ``flatten`` (LeNet with ``linear(120)`` right
after the last pool checks, runs, and outputs N×16×5×10). A shape rule sees only its input's
shape, not where it came from, so this pass follows the schedules: a value is a *map* when a
conv or pool kind made it (or it is a 3-D/4-D net input), stays one through layers that keep
its rank and channels (norms, activations, dropout, padding, upsampling, merges with it first),
and stops being one at ``permute``, ``transpose``, ``reshape``, ``flatten``, ``to_tokens`` and
``linear``. ``linear`` on a map is then E301 at the layer, with the hint to flatten or permute.
"""

from __future__ import annotations

from netdsl.errors import Diagnostic
from netdsl.layers import REGISTRY, Shape
from netdsl.layers.ranks import AXES, RANK_NAMES
from netdsl.shapes.result import ShapeResult
from netdsl.shapes.schedule import Schedule, Step
from netdsl.units import shape_tuple

__all__ = ["linear_on_maps"]

#: Kinds whose output is never a channels-first map (they move or merge the channel axis).
UNMAPPED = frozenset({"permute", "transpose", "reshape", "flatten", "to_tokens", "linear"})
#: Kinds whose output is a channels-first map whatever their input.
MAPPED = frozenset({"to_map"})
#: Families whose kinds make channels-first maps.
MAP_FAMILIES = frozenset({"conv", "pool"})


def linear_on_maps(result: ShapeResult) -> list[Diagnostic]:
    """E301 for every ``linear`` whose input is a channels-first map (see the module docstring)."""
    if result.schedule is None or not any(
        type(row) is Step and row.kind == "linear" and len(row.inputs[0]) > 1 for row in result.rows
    ):
        return []  # the usual net (linear on vectors only) pays for this scan alone
    found: list[Diagnostic] = []
    _walk(result.schedule, len(result.input_shape) >= 3, found)
    return found


def _walk(schedule: Schedule, input_is_map: bool, found: list[Diagnostic]) -> bool:
    """Mark every value of ``schedule``; returns whether its output is a map."""
    is_map = [input_is_map]
    for step in schedule.steps:
        first = is_map[step.args[0]] if step.args else False
        if step.sub is not None:
            is_map.append(_walk(step.sub, first, found))
            continue
        if step.kind == "linear" and first and len(step.inputs[0]) >= 2:
            found.append(_error(step))
        is_map.append(_makes_map(step, first))
    return is_map[schedule.output]


def _makes_map(step: Step, first: bool) -> bool:
    if step.kind in UNMAPPED:
        return False
    if step.kind in MAPPED:
        return True
    kind = REGISTRY.get(step.kind)
    if kind is not None and kind.family in MAP_FAMILIES:
        return len(step.output) >= 2
    before: Shape = step.inputs[0] if step.inputs else ()
    return first and len(step.output) == len(before) and step.output[:1] == before[:1]


def _error(step: Step) -> Diagnostic:
    shape = step.inputs[0]
    node = step.node
    return Diagnostic(
        "E301",
        f"linear expects a (F,) vector, tokens or a channels-last input, got the {RANK_NAMES[len(shape)]} map "
        f"{shape_tuple(shape)}: it would act on its {AXES[len(shape) - 1][-1]} ({shape[-1]}), not its channels",
        node.span,
        "error",
        node.id,
        node.chain,
        hint="add `flatten` (or `global_avgpool`) before `linear`; for a channels-last map, "
        "`permute([0, 2, 3, 1])` first",
    )
