"""Pooling: ``maxpool``, ``avgpool`` (1-D, 2-D or 3-D by input rank), adaptive and global pools.

``maxpool1d`` … ``adaptive_maxpool3d`` are the same kinds under PyTorch's names, each
limited to the rank of its torch class.

Fixed-window pools share :func:`netdsl.layers.arith.window_out` with the convolutions
(including PyTorch's ``ceil_mode`` rule); adaptive and global pools have no fixed
window, so they declare none.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, ClassVar, Self

from pydantic import AfterValidator, Field, model_validator

from netdsl.layers.common import (
    AXES,
    RANK_NAMES,
    LayerParams,
    NoParams,
    as_tuple,
    at_least,
    fmt_grid,
    fmt_size,
    fmt_stride,
    one_input,
    pair,
    rank_windows,
    spatial,
    windowed_output,
)
from netdsl.layers.conv import triple
from netdsl.layers.ranks import ACCEPTS, MAPS, expect_declared
from netdsl.layers.registry import LayerKind, Shape, ShapeError, Window, register

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

_MAPS = MAPS  # (C, L), (C, H, W) or (C, D, H, W)
_Sizes = int | tuple[int] | tuple[int, int] | tuple[int, int, int]
Pos1to3 = Annotated[_Sizes, AfterValidator(at_least(1))]
NonNeg1to3 = Annotated[_Sizes, AfterValidator(at_least(0))]


class PoolParams(LayerParams):
    """Parameters of ``maxpool``."""

    KIND: ClassVar[str] = "maxpool"

    kernel_size: Pos1to3 = Field(description="window size (int, or one value per spatial axis)")
    stride: Pos1to3 | None = Field(None, description="step between windows; defaults to kernel_size")
    padding: NonNeg1to3 = Field(0, description="implicit padding on both sides; at most kernel_size // 2")
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
    """One window per spatial axis of the input (1 for (C, L), 2 for (C, H, W), 3 for (C, D, H, W))."""
    n = expect_declared(p.KIND, shape) - 1
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
    windows = pool_windows(p, shape)
    if isinstance(p, AvgPoolParams) and len(windows) == 3:
        _avg3d_sizes(p, shape, windows)
    return windowed_output(p.KIND, shape, windows, shape[0])


def _avg3d_sizes(p: PoolParams, shape: Shape, windows: Sequence[Window]) -> None:
    """torch's avg_pool3d (alone among the pools) refuses an input axis shorter than the kernel, padding aside."""
    for axis, size, w in zip(AXES[3], shape[1:], windows, strict=True):
        if size < w.kernel:
            raise ShapeError(
                f"{p.KIND} input {axis} {size} is smaller than the kernel {w.kernel} "
                "(torch's avg_pool3d needs every input size ≥ its kernel, padding aside)",
                code="E302",
            )


def pool_build(p: PoolParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    """nn.MaxPool1d/2d/3d or nn.AvgPool1d/2d/3d, chosen by the input rank."""
    from torch import nn

    n = len(inputs[0]) - 1
    kernel = spatial(p.KIND, "kernel_size", p.kernel_size, n)
    stride = spatial(p.KIND, "stride", p.effective_stride, n)
    padding = spatial(p.KIND, "padding", p.padding, n)
    if isinstance(p, AvgPoolParams):
        if n == 3:
            return nn.AvgPool3d(triple(kernel), triple(stride), triple(padding), p.ceil_mode, p.count_include_pad)
        if n == 2:
            return nn.AvgPool2d(pair(kernel), pair(stride), pair(padding), p.ceil_mode, p.count_include_pad)
        return nn.AvgPool1d(kernel[0], stride[0], padding[0], p.ceil_mode, p.count_include_pad)
    if n == 3:
        return nn.MaxPool3d(triple(kernel), triple(stride), triple(padding), ceil_mode=p.ceil_mode)
    if n == 2:
        return nn.MaxPool2d(pair(kernel), pair(stride), pair(padding), ceil_mode=p.ceil_mode)
    return nn.MaxPool1d(kernel[0], stride[0], padding[0], ceil_mode=p.ceil_mode)


def pool_label(p: PoolParams) -> str:
    """``maxpool 3×3 /2`` (``maxpool1d 3 /2``: a kind of one rank draws that many axes)."""
    stride = fmt_stride(p.effective_stride)
    return f"{p.KIND} {_sizes(p.KIND, p.kernel_size)}" + (f" {stride}" if stride else "")


def _sizes(kind: str, value: int | tuple[int, ...]) -> str:
    """An int drawn square, or as many times as the fixed rank of ``kind`` has spatial axes."""
    ranks = ACCEPTS.get(kind, MAPS)
    if len(ranks) == 1 and isinstance(value, int):
        return fmt_grid([value] * (ranks[0] - 1))
    return fmt_size(value)


class AdaptivePoolParams(LayerParams):
    """Parameters of ``adaptive_avgpool`` / ``adaptive_maxpool``."""

    output_size: Pos1to3 = Field(description="output spatial size (int, or one value per spatial axis)")


def _adaptive_avg_shape(p: AdaptivePoolParams, inputs: Sequence[Shape]) -> Shape:
    """(C, *any) → (C, *output_size)."""
    return _adaptive_out("adaptive_avgpool", p, inputs)


def _adaptive_max_shape(p: AdaptivePoolParams, inputs: Sequence[Shape]) -> Shape:
    """(C, *any) → (C, *output_size)."""
    return _adaptive_out("adaptive_maxpool", p, inputs)


def _adaptive_out(kind: str, p: AdaptivePoolParams, inputs: Sequence[Shape]) -> Shape:
    shape = one_input(inputs)
    n = expect_declared(kind, shape) - 1
    return (shape[0], *spatial(kind, "output_size", p.output_size, n))


def _adaptive_avg_build(p: AdaptivePoolParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    from torch import nn

    cls = {2: nn.AdaptiveAvgPool1d, 3: nn.AdaptiveAvgPool2d, 4: nn.AdaptiveAvgPool3d}[len(inputs[0])]
    return cls(p.output_size)


def _adaptive_max_build(p: AdaptivePoolParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    from torch import nn

    cls = {2: nn.AdaptiveMaxPool1d, 3: nn.AdaptiveMaxPool2d, 4: nn.AdaptiveMaxPool3d}[len(inputs[0])]
    return cls(p.output_size)


def _global_avg_shape(p: NoParams, inputs: Sequence[Shape]) -> Shape:
    """(C, *spatial) → (C,) for a 1-D, 2-D or 3-D map."""
    shape = one_input(inputs)
    expect_declared("global_avgpool", shape)
    return (shape[0],)


def _global_max_shape(p: NoParams, inputs: Sequence[Shape]) -> Shape:
    """(C, *spatial) → (C,) for a 1-D, 2-D or 3-D map."""
    shape = one_input(inputs)
    expect_declared("global_maxpool", shape)
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
        doc="Max pooling over a 1-D, 2-D or 3-D map (nn.MaxPool1d/2d/3d); stride defaults to kernel.",
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
        doc="Average pooling over a 1-D, 2-D or 3-D map (nn.AvgPool1d/2d/3d); stride defaults to kernel.",
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
        doc="Average pooling to a fixed output size whatever the input size (nn.AdaptiveAvgPool1d/2d/3d).",
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
        doc="Max pooling to a fixed output size whatever the input size (nn.AdaptiveMaxPool1d/2d/3d).",
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
        doc="Mean over all spatial positions of a map: (C, H, W) → (C,) (pool, then flatten).",
        family="pool",
    )
)
register(
    LayerKind(
        name="global_maxpool",
        schema=NoParams,
        shape=_global_max_shape,
        build=_global_max_build,
        doc="Max over all spatial positions of a map: (C, H, W) → (C,) (pool, then flatten).",
        family="pool",
    )
)


# --- PyTorch's names: one rank each -----------------------------------------------------------


class MaxPool1dParams(PoolParams):
    """Parameters of ``maxpool1d``."""

    KIND: ClassVar[str] = "maxpool1d"


class MaxPool2dParams(PoolParams):
    """Parameters of ``maxpool2d``."""

    KIND: ClassVar[str] = "maxpool2d"


class MaxPool3dParams(PoolParams):
    """Parameters of ``maxpool3d``."""

    KIND: ClassVar[str] = "maxpool3d"


class AvgPool1dParams(AvgPoolParams):
    """Parameters of ``avgpool1d``."""

    KIND: ClassVar[str] = "avgpool1d"


class AvgPool2dParams(AvgPoolParams):
    """Parameters of ``avgpool2d``."""

    KIND: ClassVar[str] = "avgpool2d"


class AvgPool3dParams(AvgPoolParams):
    """Parameters of ``avgpool3d``."""

    KIND: ClassVar[str] = "avgpool3d"


_FIXED: dict[int, tuple[type[PoolParams], type[PoolParams]]] = {
    1: (MaxPool1dParams, AvgPool1dParams),
    2: (MaxPool2dParams, AvgPool2dParams),
    3: (MaxPool3dParams, AvgPool3dParams),
}


def _adaptive_fixed(kind: str) -> Callable[[AdaptivePoolParams, Sequence[Shape]], Shape]:
    def shape_rule(p: AdaptivePoolParams, inputs: Sequence[Shape]) -> Shape:
        return _adaptive_out(kind, p, inputs)

    shape_rule.__doc__ = f"(C, *any) → (C, *output_size) for a {RANK_NAMES[ACCEPTS[kind][0]]} input."
    return shape_rule


def _adaptive_label(kind: str) -> Callable[[AdaptivePoolParams], str]:
    return lambda p: f"{kind} {_sizes(kind, p.output_size)}"


for _n, _torch in ((1, "1d"), (2, "2d"), (3, "3d")):
    for _schema, _what in zip(_FIXED[_n], ("Max", "Average"), strict=True):
        register(
            LayerKind(
                name=_schema.KIND,
                schema=_schema,
                shape=pool_shape,
                build=pool_build,
                doc=f"{_what} pooling over a {RANK_NAMES[_n + 1]} input (nn.{_what[:3]}Pool{_torch}).",
                family="pool",
                label=pool_label,
                positional=_POOL_POSITIONAL,
                aliases=_POOL_ALIASES,
                windows=pool_windows,
            )
        )
    for _op, _build in (("avg", _adaptive_avg_build), ("max", _adaptive_max_build)):
        _kind = f"adaptive_{_op}pool{_torch}"
        register(
            LayerKind(
                name=_kind,
                schema=AdaptivePoolParams,
                shape=_adaptive_fixed(_kind),
                build=_build,
                doc=f"{_op.title()} pooling of a {RANK_NAMES[_n + 1]} input to a fixed output size "
                f"(nn.Adaptive{_op.title()}Pool{_torch}).",
                family="pool",
                label=_adaptive_label(_kind),
                positional=("output_size",),
            )
        )
