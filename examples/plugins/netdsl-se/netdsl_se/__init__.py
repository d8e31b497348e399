"""netdsl-se: squeeze-and-excitation (``se``) and ``mish`` layer kinds, and an SE-ResNet block library.

netdsl imports this module through the ``netdsl.plugins`` entry point declared in
``pyproject.toml`` (or ``--plugin netdsl_se``). Importing it registers two layer
kinds with :func:`netdsl.registry.register`, the same call the built-ins use, and
the ``lib/`` directory as the block library ``netdsl_se`` (``import
"netdsl_se:se_resnet.net"``). Nothing here imports torch: the builders import
:mod:`netdsl_se.modules` only when a net is compiled, so ``netdsl check`` stays fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ConfigDict, Field

from netdsl.imports import register_library
from netdsl.registry import Cost, LayerKind, Params, Shape, ShapeError, no_cost, register

if TYPE_CHECKING:  # pragma: no cover - typing only
    from torch import nn

__all__ = ["MishParams", "SEParams", "se_cost", "se_shape", "squeeze_channels"]


class SEParams(Params):
    """Parameters of ``se``."""

    # strict: `se(reduction=true)` or `se(4.5)` is an error at the spec's line, not a silent cast.
    model_config = ConfigDict(strict=True)

    reduction: int = Field(16, ge=1, description="channel reduction ratio r of the bottleneck (C → C//r → C)")


class MishParams(Params):
    """Parameters of ``mish``."""

    model_config = ConfigDict(strict=True)

    inplace: bool = Field(False, description="overwrite the input tensor instead of allocating the output")


def squeeze_channels(p: SEParams, channels: int) -> int:
    """Width of the excitation bottleneck: C // r (Hu et al. 2018)."""
    return channels // p.reduction


def se_shape(p: SEParams, inputs: Sequence[Shape]) -> Shape:
    """(C, H, W) → (C, H, W): rescales channels; needs C // reduction ≥ 1."""
    (shape,) = inputs
    if len(shape) != 3:
        raise ShapeError(
            f"se expects a (C, H, W) input, got {tuple(shape)}",
            hint="squeeze-and-excitation gates the channels of a feature map",
        )
    if squeeze_channels(p, shape[0]) < 1:
        raise ShapeError(
            f"se reduction={p.reduction} leaves no squeeze channels for {shape[0]} input channels",
            hint=f"use reduction ≤ {shape[0]}",
        )
    return shape


def se_cost(p: SEParams, inputs: Sequence[Shape], output: Shape) -> Cost:
    """Two 1×1 convs with bias on the pooled 1×1 map: 2·C·(C//r) + C//r + C weights, 2·C·(C//r) MACs."""
    channels = inputs[0][0]
    hidden = squeeze_channels(p, channels)
    # Pooling, the activations and the final multiply are not multiply-accumulates of weights
    # (FlopCounterMode does not count them either).
    return Cost(params=2 * channels * hidden + hidden + channels, macs=2 * channels * hidden)


def se_build(p: SEParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    """netdsl_se.modules.SqueezeExcitation (imports torch)."""
    from netdsl_se.modules import SqueezeExcitation

    channels = inputs[0][0]
    return SqueezeExcitation(channels, squeeze_channels(p, channels))


def same_shape(p: Params, inputs: Sequence[Shape]) -> Shape:
    """Shape unchanged (element-wise)."""
    (shape,) = inputs
    return shape


def mish_build(p: MishParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    """torch.nn.Mish."""
    from torch import nn

    return nn.Mish(inplace=p.inplace)


register(
    LayerKind(
        name="se",
        schema=SEParams,
        shape=se_shape,
        build=se_build,
        cost=se_cost,
        doc="Squeeze-and-excitation: global average pool, 1×1 conv to C//r + ReLU, 1×1 conv to C + sigmoid, "
        "then scale the input's channels (Hu et al. 2018); shape unchanged.",
        family="other",
        label=lambda p: f"SE /{p.reduction}",
        positional=("reduction",),
        aliases={"r": "reduction"},
    )
)

register(
    LayerKind(
        name="mish",
        schema=MishParams,
        shape=same_shape,
        build=mish_build,
        cost=no_cost,
        doc="Activation x·tanh(softplus(x)) (Misra 2019, nn.Mish); shape unchanged.",
        family="activation",
    )
)

# Specs import the shipped blocks by package name: import "netdsl_se:se_resnet.net".
register_library("netdsl_se", Path(__file__).resolve().parent / "lib")
