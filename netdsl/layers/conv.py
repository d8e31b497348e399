"""Convolutions: ``conv1d``, ``conv2d`` and ``conv3d`` (nn.Conv1d / nn.Conv2d / nn.Conv3d).

The input channel count is never written by the user: it is read off the input
shape. Output sizes come from :func:`netdsl.layers.arith.window_out` through the same
windows the receptive-field pass uses, so shape, explanation and receptive field
cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal, Self

from pydantic import AfterValidator, Field, model_validator

from netdsl.layers.arith import same_padding
from netdsl.layers.common import (
    RANK_NAMES,
    LayerParams,
    NonNegPair,
    NonNegSingle,
    Pos,
    PosPair,
    PosSingle,
    at_least,
    compact,
    expect_rank,
    fmt_grid,
    fmt_shape,
    fmt_stride,
    one_input,
    pair,
    rank_windows,
    spatial,
    windowed_output,
)
from netdsl.layers.registry import Cost, LayerKind, Shape, ShapeError, Window, register

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

Padding = Literal["same", "valid"]
PosTriple = Annotated[int | tuple[int, int, int], AfterValidator(at_least(1))]
NonNegTriple = Annotated[int | tuple[int, int, int], AfterValidator(at_least(0))]

_K = "window size along each spatial axis (int, or one value per axis)"
_S = "step between windows (int, or one value per axis); 'same' padding needs 1"
_P = "zeros added on both sides of each axis (int, or one value per axis), or 'same' / 'valid'"
_D = "spacing between kernel taps (atrous convolution)"


class _ConvParams(LayerParams):
    """Fields shared by conv1d and conv2d; subclasses narrow the tuple types to their rank."""

    KIND: ClassVar[str] = "conv"
    RANK: ClassVar[int] = 2

    out_channels: Pos = Field(description="number of output channels (filters)")
    kernel_size: int | tuple[int, ...] = Field(description=_K)
    stride: int | tuple[int, ...] = Field(1, description=_S)
    padding: int | tuple[int, ...] | Padding = Field(0, description=_P)
    dilation: int | tuple[int, ...] = Field(1, description=_D)
    groups: Pos = Field(1, description="split channels into this many independent groups")
    bias: bool = Field(True, description="add a learnt bias per output channel")

    @model_validator(mode="after")
    def _same_needs_stride_one(self) -> Self:
        # PyTorch refuses padding='same' with a stride: the output size would be ambiguous.
        if self.padding == "same" and any(s != 1 for s in spatial(self.KIND, "stride", self.stride, self.RANK)):
            raise ValueError(f"padding='same' needs stride 1, got stride={self.stride} (PyTorch rule)")
        return self


class Conv2dParams(_ConvParams):
    """Parameters of ``conv2d``."""

    KIND: ClassVar[str] = "conv2d"
    RANK: ClassVar[int] = 2

    kernel_size: PosPair = Field(description=_K)
    stride: PosPair = Field(1, description=_S)
    padding: NonNegPair | Padding = Field(0, description=_P)
    dilation: PosPair = Field(1, description=_D)


class Conv1dParams(_ConvParams):
    """Parameters of ``conv1d``."""

    KIND: ClassVar[str] = "conv1d"
    RANK: ClassVar[int] = 1

    kernel_size: PosSingle = Field(description=_K)
    stride: PosSingle = Field(1, description=_S)
    padding: NonNegSingle | Padding = Field(0, description=_P)
    dilation: PosSingle = Field(1, description=_D)


class Conv3dParams(_ConvParams):
    """Parameters of ``conv3d``."""

    KIND: ClassVar[str] = "conv3d"
    RANK: ClassVar[int] = 3

    kernel_size: PosTriple = Field(description=_K)
    stride: PosTriple = Field(1, description=_S)
    padding: NonNegTriple | Padding = Field(0, description=_P)
    dilation: PosTriple = Field(1, description=_D)


def triple(values: tuple[int, ...]) -> tuple[int, int, int]:
    """Narrow a resolved 3-axis tuple for torch's typed constructors."""
    first, second, third = values
    return first, second, third


@rank_windows
def conv_windows(p: _ConvParams, shape: Shape) -> tuple[Window, ...]:
    """One resolved window per spatial axis ('same' split the PyTorch way, odd pixel at the end)."""
    n = p.RANK
    kernels = spatial(p.KIND, "kernel_size", p.kernel_size, n)
    strides = spatial(p.KIND, "stride", p.stride, n)
    dilations = spatial(p.KIND, "dilation", p.dilation, n)
    if p.padding == "valid":
        pads = [(0, 0)] * n
    elif p.padding == "same":
        pads = [same_padding(k, d) for k, d in zip(kernels, dilations, strict=True)]
    else:
        pads = [(q, q) for q in spatial(p.KIND, "padding", p.padding, n)]
    return tuple(
        Window(kernel=k, stride=s, pad_lo=lo, pad_hi=hi, dilation=d)
        for k, s, (lo, hi), d in zip(kernels, strides, pads, dilations, strict=True)
    )


_BY_RANK = {2: "conv1d", 3: "conv2d", 4: "conv3d"}


def _rank_hint(p: _ConvParams, shape: Shape) -> str | None:
    if len(shape) == 1:
        return f"{p.KIND} needs a feature map; a flat (F,) vector has no spatial axes left"
    other = _BY_RANK.get(len(shape))
    return f"use {other} for a {RANK_NAMES[len(shape)]} input" if other else None


def conv_shape(p: _ConvParams, inputs: Sequence[Shape]) -> Shape:
    """(C, *spatial) → (out_channels, *window_out(spatial))."""
    shape = one_input(inputs)
    expect_rank(p.KIND, shape, (p.RANK + 1,), hint=_rank_hint(p, shape))
    cin = shape[0]
    if cin % p.groups:
        raise ShapeError(f"{p.KIND} groups={p.groups} must divide input channels {cin} (input {fmt_shape(shape)})")
    if p.out_channels % p.groups:
        raise ShapeError(f"{p.KIND} groups={p.groups} must divide output channels {p.out_channels}")
    return windowed_output(p.KIND, shape, conv_windows(p, shape), p.out_channels)


def conv_cost(p: _ConvParams, inputs: Sequence[Shape], output: Shape) -> Cost:
    """Weights out·(in/groups)·k (+ bias); one MAC per weight tap per output element."""
    taps = (inputs[0][0] // p.groups) * prod(spatial(p.KIND, "kernel_size", p.kernel_size, p.RANK))
    weights = p.out_channels * taps + (p.out_channels if p.bias else 0)
    return Cost(params=weights, macs=prod(output) * taps)


def conv_build(p: _ConvParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    """nn.Conv1d / nn.Conv2d / nn.Conv3d with the input channels read from the input shape."""
    from torch import nn

    cin, n = inputs[0][0], p.RANK
    kernel = spatial(p.KIND, "kernel_size", p.kernel_size, n)
    stride = spatial(p.KIND, "stride", p.stride, n)
    dilation = spatial(p.KIND, "dilation", p.dilation, n)
    padding = p.padding if isinstance(p.padding, str) else spatial(p.KIND, "padding", p.padding, n)
    if n == 2:
        pad2 = padding if isinstance(padding, str) else pair(padding)
        return nn.Conv2d(
            cin,
            p.out_channels,
            pair(kernel),
            pair(stride),
            pad2,
            pair(dilation),
            groups=p.groups,
            bias=p.bias,
        )
    if n == 3:
        pad3 = padding if isinstance(padding, str) else triple(padding)
        return nn.Conv3d(
            cin,
            p.out_channels,
            triple(kernel),
            triple(stride),
            pad3,
            triple(dilation),
            groups=p.groups,
            bias=p.bias,
        )
    pad1 = padding if isinstance(padding, str) else padding[0]
    return nn.Conv1d(cin, p.out_channels, kernel[0], stride[0], pad1, dilation[0], groups=p.groups, bias=p.bias)


def conv_label(p: _ConvParams) -> str:
    """``conv 3×3, 64, /2 g32 d2`` (``conv 3, 64`` for 1-D)."""
    parts = [f"conv {fmt_grid(spatial(p.KIND, 'kernel_size', p.kernel_size, p.RANK))}", str(p.out_channels)]
    stride = fmt_stride(p.stride)
    if stride:
        parts.append(stride)
    text = ", ".join(parts)
    if p.groups != 1:
        text += f" g{p.groups}"
    if any(d != 1 for d in spatial(p.KIND, "dilation", p.dilation, p.RANK)):
        text += f" d{compact(p.dilation)}"
    return text


_POSITIONAL = ("out_channels", "kernel_size", "stride", "padding")
_ALIASES = {"k": "kernel_size", "s": "stride", "p": "padding"}

for _schema, _doc in (
    (Conv2dParams, "2-D convolution over a (C, H, W) map (nn.Conv2d); input channels are inferred."),
    (Conv1dParams, "1-D convolution over a (C, L) sequence (nn.Conv1d); input channels are inferred."),
    (Conv3dParams, "3-D convolution over a (C, D, H, W) volume (nn.Conv3d); input channels are inferred."),
):
    register(
        LayerKind(
            name=_schema.KIND,
            schema=_schema,
            shape=conv_shape,
            build=conv_build,
            cost=conv_cost,
            doc=_doc,
            family="conv",
            output_free=True,  # backward reads the input and weight, never the output
            label=conv_label,
            positional=_POSITIONAL,
            aliases=_ALIASES,
            windows=conv_windows,
        )
    )
