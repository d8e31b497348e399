"""The fully connected layer: ``linear`` (nn.Linear) on a flat (F,) input."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import Field

from netdsl.layers.common import LayerParams, Pos, expect_rank, one_input
from netdsl.layers.registry import Cost, LayerKind, Shape, register

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn


class LinearParams(LayerParams):
    """Parameters of ``linear``."""

    out_features: Pos = Field(description="number of output features")
    bias: bool = Field(True, description="add a learnt bias per output feature")


def _shape(p: LinearParams, inputs: Sequence[Shape]) -> Shape:
    """(F,) → (out_features,). Feature maps must be flattened (or globally pooled) first."""
    shape = one_input(inputs)
    # nn.Linear would silently act on the last axis of a map; in a CNN that is almost
    # always a forgotten flatten, so netdsl refuses it (Keras-style rank check).
    expect_rank("linear", shape, (1,), hint="add `flatten` (or `global_avgpool`) before `linear`")
    return (p.out_features,)


def _cost(p: LinearParams, inputs: Sequence[Shape], output: Shape) -> Cost:
    """in·out weights (+ out bias); one MAC per weight."""
    fin = inputs[0][0]
    return Cost(params=fin * p.out_features + (p.out_features if p.bias else 0), macs=fin * p.out_features)


def _build(p: LinearParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    from torch import nn

    return nn.Linear(inputs[0][0], p.out_features, bias=p.bias)


register(
    LayerKind(
        name="linear",
        schema=LinearParams,
        shape=_shape,
        build=_build,
        cost=_cost,
        doc="Fully connected layer on a flat (F,) input (nn.Linear); input features are inferred.",
        family="linear",
        output_free=True,  # backward reads the input and weight, never the output
        label=lambda p: f"linear {p.out_features}",
        positional=("out_features",),
    )
)
