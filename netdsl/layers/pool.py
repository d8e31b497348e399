"""Pooling: ``maxpool``, ``avgpool`` (1-D or 2-D by input rank), adaptive and global pools.

Fixed-window pools share :func:`netdsl.layers.arith.window_out` with the convolutions
(including PyTorch's ``ceil_mode`` rule); adaptive and global pools have no fixed
window, so they declare none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, Self

from pydantic import Field, model_validator

from netdsl.layers.common import (
    LayerParams,
    NonNeg1or2,
    NoParams,
    Pos1or2,
    as_tuple,
    expect_rank,
    fmt_size,
    fmt_stride,
    one_input,
    pair,
    rank_windows,
    spatial,
    windowed_output,
)
from netdsl.layers.registry import LayerKind, Shape, Window, register

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

_MAPS = (2, 3)  # (C, L) or (C, H, W)


class PoolParams(LayerParams):
    """Parameters of ``maxpool``."""

    KIND: ClassVar[str] = "maxpool"

    kernel_size: Pos1or2 = Field(description="window size (int, or one value per spatial axis)")
    stride: Pos1or2 | None = Field(None, description="step between windows; defaults to kernel_size")
    padding: NonNeg1or2 = Field(0, description="implicit padding on both sides; at most kernel_size // 2")
    ceil_mode: bool = Field(False, description="round the output size up instead of down (PyTorch rule)")

    @model_validator(mode="after")
    def _padding_at_most_half_kernel(self) -> Self:
        ks, ps = as_tuple(self.kernel_size), as_tuple(self.padding)
        n = max(len(ks), len(ps))
        if len(ks) not in (1, n) or len(ps) not in (1, n):
            raise ValueError(
                f"kernel_size={self.kernel_size} and padding={self.padding} have different numbers of axes"
            )
        kernels, pads = ks * (n // len(ks)), ps * (n // len(ps))
        for k, q in zip(kernels, pads, strict=True):
            if q > k // 2:
                raise ValueError(
                    f"padding={self.padding} must be at most half of kernel_size={self.kernel_size} "
                    "(PyTorch rule: padding ≤ kernel_size // 2)"
                )
        return self

    @property
    def effective_stride(self) -> int | tuple[int, ...]:
        """PyTorch's default: a pool's stride is its kernel size."""
        return self.kernel_size if self.stride is None else self.stride


class AvgPoolParams(PoolParams):
    """Parameters of ``avgpool``."""

    KIND: ClassVar[str] = "avgpool"

    count_include_pad: bool = Field(True, description="count padding zeros in the average's divisor")


@rank_windows
def pool_windows(p: PoolParams, shape: Shape) -> tuple[Window, ...]:
    """One window per spatial axis of the input (1 for (C, L), 2 for (C, H, W))."""
    n = expect_rank(p.KIND, shape, _MAPS) - 1
    kernels = spatial(p.KIND, "kernel_size", p.kernel_size, n)
    strides = spatial(p.KIND, "stride", p.effective_stride, n)
    pads = spatial(p.KIND, "padding", p.padding, n)
    return tuple(
        Window(kernel=k, stride=s, pad_lo=q, pad_hi=q, ceil_mode=p.ceil_mode)
        for k, s, q in zip(kernels, strides, pads, strict=True)
    )


def pool_shape(p: PoolParams, inputs: Sequence[Shape]) -> Shape:
    """(C, *spatial) → (C, *window_out(spatial)); channels unchanged."""
    shape = one_input(inputs)
    return windowed_output(p.KIND, shape, pool_windows(p, shape), shape[0])


def pool_build(p: PoolParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    """nn.MaxPool1d/2d or nn.AvgPool1d/2d, chosen by the input rank."""
    from torch import nn

    n = len(inputs[0]) - 1
    kernel = spatial(p.KIND, "kernel_size", p.kernel_size, n)
    stride = spatial(p.KIND, "stride", p.effective_stride, n)
    padding = spatial(p.KIND, "padding", p.padding, n)
    if isinstance(p, AvgPoolParams):
        if n == 2:
            return nn.AvgPool2d(pair(kernel), pair(stride), pair(padding), p.ceil_mode, p.count_include_pad)
        return nn.AvgPool1d(kernel[0], stride[0], padding[0], p.ceil_mode, p.count_include_pad)
    if n == 2:
        return nn.MaxPool2d(pair(kernel), pair(stride), pair(padding), ceil_mode=p.ceil_mode)
    return nn.MaxPool1d(kernel[0], stride[0], padding[0], ceil_mode=p.ceil_mode)


def pool_label(p: PoolParams) -> str:
    """``maxpool 3×3 /2``."""
    stride = fmt_stride(p.effective_stride)
    return f"{p.KIND} {fmt_size(p.kernel_size)}" + (f" {stride}" if stride else "")


class AdaptivePoolParams(LayerParams):
    """Parameters of ``adaptive_avgpool`` / ``adaptive_maxpool``."""

    output_size: Pos1or2 = Field(description="output spatial size (int, or one value per spatial axis)")


def _adaptive_avg_shape(p: AdaptivePoolParams, inputs: Sequence[Shape]) -> Shape:
    """(C, *any) → (C, *output_size)."""
    return _adaptive_out("adaptive_avgpool", p, inputs)


def _adaptive_max_shape(p: AdaptivePoolParams, inputs: Sequence[Shape]) -> Shape:
    """(C, *any) → (C, *output_size)."""
    return _adaptive_out("adaptive_maxpool", p, inputs)


def _adaptive_out(kind: str, p: AdaptivePoolParams, inputs: Sequence[Shape]) -> Shape:
    shape = one_input(inputs)
    n = expect_rank(kind, shape, _MAPS) - 1
    return (shape[0], *spatial(kind, "output_size", p.output_size, n))


def _adaptive_avg_build(p: AdaptivePoolParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    from torch import nn

    return (nn.AdaptiveAvgPool2d if len(inputs[0]) == 3 else nn.AdaptiveAvgPool1d)(p.output_size)


def _adaptive_max_build(p: AdaptivePoolParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    from torch import nn

    return (nn.AdaptiveMaxPool2d if len(inputs[0]) == 3 else nn.AdaptiveMaxPool1d)(p.output_size)


def _global_avg_shape(p: NoParams, inputs: Sequence[Shape]) -> Shape:
    """(C, *spatial) → (C,)."""
    shape = one_input(inputs)
    expect_rank("global_avgpool", shape, _MAPS)
    return (shape[0],)


def _global_max_shape(p: NoParams, inputs: Sequence[Shape]) -> Shape:
    """(C, *spatial) → (C,)."""
    shape = one_input(inputs)
    expect_rank("global_maxpool", shape, _MAPS)
    return (shape[0],)


def _global_avg_build(p: NoParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    from netdsl.layers.modules import GlobalAvgPool

    return GlobalAvgPool()


def _global_max_build(p: NoParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    from netdsl.layers.modules import GlobalMaxPool

    return GlobalMaxPool()


_POOL_POSITIONAL = ("kernel_size", "stride", "padding")
_POOL_ALIASES = {"k": "kernel_size", "s": "stride", "p": "padding"}

register(
    LayerKind(
        name="maxpool",
        schema=PoolParams,
        shape=pool_shape,
        build=pool_build,
        doc="Max pooling over a (C, L) or (C, H, W) input (nn.MaxPool1d/2d); stride defaults to kernel.",
        family="pool",
        label=pool_label,
        positional=_POOL_POSITIONAL,
        aliases=_POOL_ALIASES,
        windows=pool_windows,
    )
)
register(
    LayerKind(
        name="avgpool",
        schema=AvgPoolParams,
        shape=pool_shape,
        build=pool_build,
        doc="Average pooling over a (C, L) or (C, H, W) input (nn.AvgPool1d/2d); stride defaults to kernel.",
        family="pool",
        label=pool_label,
        positional=_POOL_POSITIONAL,
        aliases=_POOL_ALIASES,
        windows=pool_windows,
    )
)
register(
    LayerKind(
        name="adaptive_avgpool",
        schema=AdaptivePoolParams,
        shape=_adaptive_avg_shape,
        build=_adaptive_avg_build,
        doc="Average pooling to a fixed output size whatever the input size (nn.AdaptiveAvgPool1d/2d).",
        family="pool",
        label=lambda p: f"adaptive_avgpool {fmt_size(p.output_size)}",
        positional=("output_size",),
    )
)
register(
    LayerKind(
        name="adaptive_maxpool",
        schema=AdaptivePoolParams,
        shape=_adaptive_max_shape,
        build=_adaptive_max_build,
        doc="Max pooling to a fixed output size whatever the input size (nn.AdaptiveMaxPool1d/2d).",
        family="pool",
        label=lambda p: f"adaptive_maxpool {fmt_size(p.output_size)}",
        positional=("output_size",),
    )
)
register(
    LayerKind(
        name="global_avgpool",
        schema=NoParams,
        shape=_global_avg_shape,
        build=_global_avg_build,
        doc="Mean over all spatial positions: (C, H, W) or (C, L) → (C,) (pool, then flatten).",
        family="pool",
    )
)
register(
    LayerKind(
        name="global_maxpool",
        schema=NoParams,
        shape=_global_max_shape,
        build=_global_max_build,
        doc="Max over all spatial positions: (C, H, W) or (C, L) → (C,) (pool, then flatten).",
        family="pool",
    )
)
