"""Transposed convolutions: ``conv_transpose1d/2d/3d`` (nn.ConvTranspose1d/2d/3d), the learnt upsampling.

Each output size is ``(in − 1)·stride − 2·padding + dilation·(kernel − 1) + output_padding + 1``,
PyTorch's rule. The arguments are ``nn.ConvTranspose2d``'s, in its order, without
``in_channels`` (read off the input). MACs are counted as torch's FlopCounterMode does for a
transposed convolution: every input position meets every weight tap once.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod
from typing import TYPE_CHECKING, Any, ClassVar, Self

from pydantic import Field, model_validator

from netdsl.layers.common import (
    AXES,
    LayerParams,
    NonNeg,
    Pos,
    fmt_grid,
    fmt_shape,
    fmt_stride,
    one_input,
    spatial,
)
from netdsl.layers.ranks import expect_declared
from netdsl.layers.registry import Cost, LayerKind, Shape, ShapeError, register

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

_K = "window size along each spatial axis (int, or one value per axis)"


class ConvTransposeParams(LayerParams):
    """Parameters of ``conv_transpose2d`` (and its 1-D and 3-D forms)."""

    KIND: ClassVar[str] = "conv_transpose2d"
    RANK: ClassVar[int] = 2

    out_channels: Pos = Field(description="number of output channels")
    kernel_size: Pos | tuple[Pos, ...] = Field(description=_K)
    stride: Pos | tuple[Pos, ...] = Field(1, description="upsampling factor per axis")
    padding: NonNeg | tuple[NonNeg, ...] = Field(
        0, description="dilation·(kernel − 1) − padding zeros are added around the input (PyTorch rule)"
    )
    output_padding: NonNeg | tuple[NonNeg, ...] = Field(
        0, description="extra size added to one side of each output axis; below stride or dilation"
    )
    groups: Pos = Field(1, description="split channels into this many independent groups")
    bias: bool = Field(True, description="add a learnt bias per output channel")
    dilation: Pos | tuple[Pos, ...] = Field(1, description="spacing between kernel taps")

    @model_validator(mode="after")
    def _output_padding_small(self) -> Self:
        for name in ("kernel_size", "padding"):
            self.axis(name)  # raises unless an int or one value per axis
        for op, s, d in zip(self.axis("output_padding"), self.axis("stride"), self.axis("dilation"), strict=True):
            if op >= s and op >= d:
                raise ValueError(
                    f"output_padding={self.output_padding} must be smaller than stride={self.stride} "
                    f"or dilation={self.dilation} (PyTorch rule)"
                )
        return self

    def axis(self, name: str) -> tuple[int, ...]:
        """One value of field ``name`` per spatial axis (a tuple of the wrong length is a ValueError)."""
        value: int | tuple[int, ...] = getattr(self, name)
        if isinstance(value, int):
            return (value,) * self.RANK
        if len(value) != self.RANK:
            raise ValueError(f"{name} takes an int or {self.RANK} values for {self.KIND}, got {value}")
        return value


class ConvTranspose1dParams(ConvTransposeParams):
    """Parameters of ``conv_transpose1d``."""

    KIND: ClassVar[str] = "conv_transpose1d"
    RANK: ClassVar[int] = 1


class ConvTranspose3dParams(ConvTransposeParams):
    """Parameters of ``conv_transpose3d``."""

    KIND: ClassVar[str] = "conv_transpose3d"
    RANK: ClassVar[int] = 3


def _out_size(p: ConvTransposeParams, size: int, k: int, s: int, q: int, op: int, d: int) -> int:
    return (size - 1) * s - 2 * q + d * (k - 1) + op + 1


def conv_transpose_shape(p: ConvTransposeParams, inputs: Sequence[Shape]) -> Shape:
    """(C, *spatial) → (out_channels, *((in − 1)·s − 2p + d(k − 1) + output_padding + 1))."""
    shape = one_input(inputs)
    expect_declared(p.KIND, shape)
    cin = shape[0]
    if cin % p.groups or p.out_channels % p.groups:
        raise ShapeError(
            f"{p.KIND} groups={p.groups} must divide input channels {cin} and output channels {p.out_channels} "
            f"(input {fmt_shape(shape)})"
        )
    columns = zip(
        AXES[p.RANK],
        shape[1:],
        p.axis("kernel_size"),
        p.axis("stride"),
        p.axis("padding"),
        p.axis("output_padding"),
        p.axis("dilation"),
        strict=True,
    )
    out = []
    for axis, size, k, s, q, op, d in columns:
        n = _out_size(p, size, k, s, q, op, d)
        if n < 1:
            raise ShapeError(
                f"{p.KIND} output {axis} would be {n}: padding {q} removes more than the "
                f"{size}-long input grows to (stride {s}, kernel {k})",
                code="E302",
            )
        out.append(n)
    return (p.out_channels, *out)


def conv_transpose_cost(p: ConvTransposeParams, inputs: Sequence[Shape], output: Shape) -> Cost:
    """Weights in·(out/groups)·k (+ bias); MACs in·(out/groups)·k per input position."""
    shape = inputs[0]
    taps = (p.out_channels // p.groups) * prod(p.axis("kernel_size"))
    weights = shape[0] * taps + (p.out_channels if p.bias else 0)
    return Cost(params=weights, macs=prod(shape) * taps)


def conv_transpose_build(p: ConvTransposeParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    """nn.ConvTranspose1d/2d/3d with the input channels read from the input shape."""
    from torch import nn

    cls: Any = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}[p.RANK]
    module: nn.Module = cls(
        inputs[0][0],
        p.out_channels,
        p.axis("kernel_size"),
        p.axis("stride"),
        p.axis("padding"),
        p.axis("output_padding"),
        groups=p.groups,
        bias=p.bias,
        dilation=p.axis("dilation"),
    )
    return module


def conv_transpose_label(p: ConvTransposeParams) -> str:
    """``convT 2×2, 64, ×2``: the stride is an upsampling factor."""
    text = f"convT {fmt_grid(spatial(p.KIND, 'kernel_size', p.kernel_size, p.RANK))}, {p.out_channels}"
    stride = fmt_stride(p.stride)
    return text + (f", ×{stride[1:]}" if stride else "") + (f" g{p.groups}" if p.groups != 1 else "")


for _schema, _what in (
    (ConvTranspose1dParams, "(C, L) sequence (nn.ConvTranspose1d)"),
    (ConvTransposeParams, "(C, H, W) map (nn.ConvTranspose2d)"),
    (ConvTranspose3dParams, "(C, D, H, W) volume (nn.ConvTranspose3d)"),
):
    register(
        LayerKind(
            name=_schema.KIND,
            schema=_schema,
            shape=conv_transpose_shape,
            build=conv_transpose_build,
            cost=conv_transpose_cost,
            doc=f"Transposed convolution over a {_what}; input channels are inferred.",
            family="conv",
            output_free=True,  # backward reads the input and weight, never the output
            label=conv_transpose_label,
            positional=("out_channels", "kernel_size", "stride", "padding"),
            aliases={"k": "kernel_size", "s": "stride", "p": "padding"},
        )
    )
