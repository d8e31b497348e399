"""Normalisation: ``batchnorm`` (and ``batchnorm1d/2d/3d``), ``layernorm``, ``layernorm2d``, ``groupnorm``, ``lrn``.

None of them changes the shape and none counts MACs (the convention follows
torch's FlopCounterMode, which counts only matrix products and convolutions).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from math import prod
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, Field

from netdsl.layers.common import (
    RANK_NAMES,
    LayerParams,
    Pos,
    PosFloat,
    expect_rank,
    fmt_shape,
    one_input,
)
from netdsl.layers.ranks import ACCEPTS, expect_declared
from netdsl.layers.registry import Cost, LayerKind, Shape, ShapeError, register

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

_EPS = "added to the variance for numerical stability"


def _momentum(value: float | None) -> float | None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise ValueError(f"momentum must be in [0, 1] (or None for a cumulative average), got {value}")
    return value


class BatchNormParams(LayerParams):
    """Parameters of ``batchnorm``."""

    eps: PosFloat = Field(1e-5, description=_EPS)
    momentum: Annotated[float | None, AfterValidator(_momentum)] = Field(
        0.1, description="weight of the newest batch in the running statistics (None: cumulative average)"
    )
    affine: bool = Field(True, description="learn a per-channel scale and shift")


def _bn_shape(p: BatchNormParams, inputs: Sequence[Shape]) -> Shape:
    """Shape unchanged; (F,), (C, L), (C, H, W) and (C, D, H, W) accepted."""
    shape = one_input(inputs)
    expect_declared("batchnorm", shape)
    return shape


def _bn_fixed_shape(name: str) -> Callable[[BatchNormParams, Sequence[Shape]], Shape]:
    """The shape rule of ``batchnorm1d/2d/3d``: ``batchnorm`` restricted to the ranks of its torch class."""

    def shape_rule(p: BatchNormParams, inputs: Sequence[Shape]) -> Shape:
        shape = one_input(inputs)
        expect_declared(name, shape, hint="`batchnorm` picks its dimensionality from the input rank")
        return shape

    shape_rule.__doc__ = f"Shape unchanged; {' or '.join(RANK_NAMES[r] for r in ACCEPTS[name])} accepted."
    return shape_rule


def _bn_cost(p: BatchNormParams, inputs: Sequence[Shape], output: Shape) -> Cost:
    """2·C weight and bias (if affine); buffers running mean and variance (2·C) + the batch counter; no MACs."""
    c = inputs[0][0]
    # running_mean + running_var (C each) + num_batches_tracked (a single int64).
    return Cost(params=2 * c if p.affine else 0, buffers=2 * c + 1)


def _bn_build(p: BatchNormParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    from torch import nn

    cls = {3: nn.BatchNorm2d, 4: nn.BatchNorm3d}.get(len(inputs[0]), nn.BatchNorm1d)
    return cls(inputs[0][0], eps=p.eps, momentum=p.momentum, affine=p.affine)


class LayerNormParams(LayerParams):
    """Parameters of ``layernorm``."""

    dims: Pos = Field(1, description="normalise over this many trailing dimensions of the input")
    eps: PosFloat = Field(1e-5, description=_EPS)
    elementwise_affine: bool = Field(True, description="learn a scale and shift per normalised element")


def _normalized_shape(p: LayerNormParams, shape: Shape) -> Shape:
    if p.dims > len(shape):
        raise ShapeError(f"layernorm dims={p.dims} exceeds the {len(shape)} dimensions of its input {fmt_shape(shape)}")
    return shape[len(shape) - p.dims :]


def _ln_shape(p: LayerNormParams, inputs: Sequence[Shape]) -> Shape:
    """Shape unchanged; the last ``dims`` dimensions are normalised (any rank: the last axis by default)."""
    shape = one_input(inputs)
    expect_declared("layernorm", shape)
    _normalized_shape(p, shape)
    return shape


def _ln_cost(p: LayerNormParams, inputs: Sequence[Shape], output: Shape) -> Cost:
    """2 × the normalised size (weight and bias, if elementwise_affine); no MACs."""
    n = prod(_normalized_shape(p, inputs[0]))
    return Cost(params=2 * n if p.elementwise_affine else 0)


def _ln_build(p: LayerNormParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    from torch import nn

    return nn.LayerNorm(list(_normalized_shape(p, inputs[0])), eps=p.eps, elementwise_affine=p.elementwise_affine)


class LayerNorm2dParams(LayerParams):
    """Parameters of ``layernorm2d``."""

    eps: PosFloat = Field(1e-5, description=_EPS + " (torchvision's ConvNeXt uses 1e-6)")
    elementwise_affine: bool = Field(True, description="learn a scale and shift per channel")


def _ln2d_shape(p: LayerNorm2dParams, inputs: Sequence[Shape]) -> Shape:
    """Shape unchanged; each position of a (C, H, W) map is normalised over its C channels."""
    shape = one_input(inputs)
    expect_declared("layernorm2d", shape, hint="for tokens or channels-last tensors use `layernorm`")
    return shape


def _ln2d_cost(p: LayerNorm2dParams, inputs: Sequence[Shape], output: Shape) -> Cost:
    """2·C weight and bias (if elementwise_affine); no MACs."""
    return Cost(params=2 * inputs[0][0] if p.elementwise_affine else 0)


def _ln2d_build(p: LayerNorm2dParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    from netdsl.layers.modules import LayerNorm2d

    return LayerNorm2d(inputs[0][0], eps=p.eps, elementwise_affine=p.elementwise_affine)


class GroupNormParams(LayerParams):
    """Parameters of ``groupnorm``."""

    num_groups: Pos = Field(description="number of channel groups; must divide the channel count")
    eps: PosFloat = Field(1e-5, description=_EPS)
    affine: bool = Field(True, description="learn a per-channel scale and shift")


def _gn_shape(p: GroupNormParams, inputs: Sequence[Shape]) -> Shape:
    """Shape unchanged; the channel count must be a multiple of num_groups."""
    shape = one_input(inputs)
    expect_declared("groupnorm", shape)
    if shape[0] % p.num_groups:
        raise ShapeError(
            f"groupnorm num_groups={p.num_groups} must divide channels {shape[0]} (input {fmt_shape(shape)})"
        )
    return shape


def _gn_cost(p: GroupNormParams, inputs: Sequence[Shape], output: Shape) -> Cost:
    """2·C weight and bias (if affine); no MACs."""
    return Cost(params=2 * inputs[0][0] if p.affine else 0)


def _gn_build(p: GroupNormParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    from torch import nn

    return nn.GroupNorm(p.num_groups, inputs[0][0], eps=p.eps, affine=p.affine)


class LRNParams(LayerParams):
    """Parameters of ``lrn`` (AlexNet's local response normalisation)."""

    size: Pos = Field(description="number of neighbouring channels to normalise over")
    alpha: float = Field(1e-4, description="multiplicative factor")
    beta: float = Field(0.75, description="exponent")
    k: float = Field(1.0, description="additive factor")


def _lrn_shape(p: LRNParams, inputs: Sequence[Shape]) -> Shape:
    """Shape unchanged; needs channels plus at least one spatial axis."""
    shape = one_input(inputs)
    expect_rank("lrn", shape, (2, 3))
    return shape


def _lrn_build(p: LRNParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    from torch import nn

    return nn.LocalResponseNorm(p.size, alpha=p.alpha, beta=p.beta, k=p.k)


register(
    LayerKind(
        name="batchnorm",
        schema=BatchNormParams,
        shape=_bn_shape,
        build=_bn_build,
        cost=_bn_cost,
        doc="Batch normalisation per channel (nn.BatchNorm1d for (F,)/(C, L), 2d for (C, H, W), 3d for (C, D, H, W)).",
        family="norm",
        output_free=True,  # backward reads the input and the saved batch statistics
    )
)
register(
    LayerKind(
        name="layernorm",
        schema=LayerNormParams,
        shape=_ln_shape,
        build=_ln_build,
        cost=_ln_cost,
        doc="Layer normalisation over the last `dims` dimensions of each sample (nn.LayerNorm).",
        family="norm",
        positional=("dims",),
    )
)
for _name, _cls in (("batchnorm1d", "BatchNorm1d"), ("batchnorm2d", "BatchNorm2d"), ("batchnorm3d", "BatchNorm3d")):
    register(
        LayerKind(
            name=_name,
            schema=BatchNormParams,
            shape=_bn_fixed_shape(_name),
            build=_bn_build,
            cost=_bn_cost,
            doc=f"Batch normalisation per channel (nn.{_cls}), for PyTorch's name; `batchnorm` picks it by rank.",
            family="norm",
            output_free=True,
        )
    )
register(
    LayerKind(
        name="layernorm2d",
        schema=LayerNorm2dParams,
        shape=_ln2d_shape,
        build=_ln2d_build,
        cost=_ln2d_cost,
        doc="Layer normalisation over the channels of a (C, H, W) map, as torchvision's ConvNeXt LayerNorm2d.",
        family="norm",
        label=lambda p: "layernorm2d",
    )
)
register(
    LayerKind(
        name="groupnorm",
        schema=GroupNormParams,
        shape=_gn_shape,
        build=_gn_build,
        cost=_gn_cost,
        doc="Group normalisation: channels split into num_groups groups (nn.GroupNorm).",
        family="norm",
        label=lambda p: f"groupnorm {p.num_groups}",
        positional=("num_groups",),
    )
)
register(
    LayerKind(
        name="lrn",
        schema=LRNParams,
        shape=_lrn_shape,
        build=_lrn_build,
        doc="Local response normalisation across neighbouring channels (nn.LocalResponseNorm).",
        family="norm",
        label=lambda p: f"lrn {p.size}",
        positional=("size",),
    )
)
