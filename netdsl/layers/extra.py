"""Regularisers and a learnt activation: ``dropout1d/2d/3d``, ``stochastic_depth`` and ``prelu``.

* ``dropout2d(p)`` zeroes whole channels of a (C, H, W) map (nn.Dropout2d); ``dropout1d`` and
  ``dropout3d`` do the same for (C, L) and (C, D, H, W) maps.
* ``stochastic_depth(p, mode)`` drops a residual branch: for every sample ("row") or for the
  whole batch ("batch"), as ``torchvision.ops.StochasticDepth`` (ResNet-D, ConvNeXt, EfficientNet).
* ``prelu(num_parameters=1, init=0.25)`` is nn.PReLU: one learnt slope, or one per channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from netdsl.layers.common import LayerParams, Pos, Probability, fmt_shape, one_input
from netdsl.layers.ranks import RANK_NAMES, expect_declared
from netdsl.layers.registry import Cost, LayerKind, Shape, ShapeError, register

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn


class ChannelDropoutParams(LayerParams):
    """Parameters of ``dropout1d`` / ``dropout2d`` / ``dropout3d``."""

    p: Probability = Field(0.5, description="probability of zeroing each channel during training")


def _channel_dropout(name: str, cls: str) -> LayerKind:
    def shape_rule(p: ChannelDropoutParams, inputs: Sequence[Shape]) -> Shape:
        shape = one_input(inputs)
        expect_declared(name, shape, hint="`dropout` zeroes single elements of any input")
        return shape

    def build(p: ChannelDropoutParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
        from torch import nn

        module: nn.Module = getattr(nn, cls)(p.p)
        return module

    rank = int(name[-2]) + 1
    shape_rule.__doc__ = f"Shape unchanged; a {RANK_NAMES[rank]} input."
    return LayerKind(
        name=name,
        schema=ChannelDropoutParams,
        shape=shape_rule,
        build=build,
        doc=f"Zero whole channels of a {RANK_NAMES[rank]} map with probability p during training (nn.{cls}).",
        family="dropout",
        label=lambda p: f"{name} {p.p:g}",
        positional=("p",),
    )


class StochasticDepthParams(LayerParams):
    """Parameters of ``stochastic_depth``."""

    p: Probability = Field(description="probability of dropping the input (the branch) during training")
    mode: Literal["row", "batch"] = Field(
        "row", description="'row': drop each sample independently; 'batch': drop the whole batch together"
    )


def _sd_shape(p: StochasticDepthParams, inputs: Sequence[Shape]) -> Shape:
    """Shape unchanged (any rank)."""
    shape = one_input(inputs)
    expect_declared("stochastic_depth", shape)
    return shape


def _sd_build(p: StochasticDepthParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    from netdsl.layers.modules import StochasticDepth

    return StochasticDepth(p.p, p.mode)


class PReLUParams(LayerParams):
    """Parameters of ``prelu``."""

    num_parameters: Pos = Field(1, description="1 (one slope shared by all channels) or the number of channels")
    init: float = Field(0.25, description="initial slope for negative inputs")


def _prelu_shape(p: PReLUParams, inputs: Sequence[Shape]) -> Shape:
    """Shape unchanged; num_parameters is 1 or the channel count (the first size)."""
    shape = one_input(inputs)
    expect_declared("prelu", shape)
    if p.num_parameters not in (1, shape[0]):
        raise ShapeError(
            f"prelu num_parameters={p.num_parameters} must be 1 or the {shape[0]} channels of its input "
            f"{fmt_shape(shape)}",
            hint="nn.PReLU learns one slope, or one per channel (dim 1 of the batched tensor)",
        )
    return shape


def _prelu_cost(p: PReLUParams, inputs: Sequence[Shape], output: Shape) -> Cost:
    """num_parameters slopes; no MACs."""
    return Cost(params=p.num_parameters)


def _prelu_build(p: PReLUParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    from torch import nn

    return nn.PReLU(p.num_parameters, p.init)


for _name, _cls in (("dropout1d", "Dropout1d"), ("dropout2d", "Dropout2d"), ("dropout3d", "Dropout3d")):
    register(_channel_dropout(_name, _cls))
register(
    LayerKind(
        name="stochastic_depth",
        schema=StochasticDepthParams,
        shape=_sd_shape,
        build=_sd_build,
        doc="Drop the input per sample or per batch with probability p, scaling survivors by 1/(1 − p) "
        "(torchvision.ops.StochasticDepth); the identity in eval mode.",
        family="dropout",
        label=lambda p: f"stochastic_depth {p.p:g}" + ("" if p.mode == "row" else " batch"),
        positional=("p", "mode"),
    )
)
register(
    LayerKind(
        name="prelu",
        schema=PReLUParams,
        shape=_prelu_shape,
        build=_prelu_build,
        cost=_prelu_cost,
        doc="Activation x, or a·x below 0 with a learnt slope a (nn.PReLU); shape unchanged.",
        family="activation",
        label=lambda p: "prelu" if p.num_parameters == 1 else f"prelu ×{p.num_parameters}",
        positional=("num_parameters", "init"),
    )
)
