"""The fully connected layer: ``linear`` (nn.Linear) on the last axis of an input of any rank.

``(F,) → (out,)`` as in a classifier head; on tokens ``(L, D) → (L, out)`` and on a
channels-last map ``(H, W, C) → (H, W, out)``, as ``nn.Linear`` acts on the last axis
(ViT's MLP, ConvNeXt's pointwise layers after ``permute``).
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod
from typing import TYPE_CHECKING

from pydantic import Field

from netdsl.layers.common import LayerParams, Pos, one_input
from netdsl.layers.ranks import expect_declared
from netdsl.layers.registry import Cost, LayerKind, Shape, register

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn


class LinearParams(LayerParams):
    """Parameters of ``linear``."""

    out_features: Pos = Field(description="number of output features")
    bias: bool = Field(True, description="add a learnt bias per output feature")


def _shape(p: LinearParams, inputs: Sequence[Shape]) -> Shape:
    """(..., F) → (..., out_features): the last axis is mapped, the others kept."""
    shape = one_input(inputs)
    expect_declared("linear", shape)
    return (*shape[:-1], p.out_features)


def _cost(p: LinearParams, inputs: Sequence[Shape], output: Shape) -> Cost:
    """in·out weights (+ out bias); in·out MACs per position of the other axes."""
    shape = inputs[0]
    fin = shape[-1]
    weights = fin * p.out_features + (p.out_features if p.bias else 0)
    return Cost(params=weights, macs=prod(shape[:-1]) * fin * p.out_features)


def _build(p: LinearParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    from torch import nn

    return nn.Linear(inputs[0][-1], p.out_features, bias=p.bias)


register(
    LayerKind(
        name="linear",
        schema=LinearParams,
        shape=_shape,
        build=_build,
        cost=_cost,
        doc="Fully connected layer on the last axis of any input (nn.Linear); input features are inferred.",
        family="linear",
        output_free=True,  # backward reads the input and weight, never the output
        label=lambda p: f"linear {p.out_features}",
        positional=("out_features",),
    )
)
