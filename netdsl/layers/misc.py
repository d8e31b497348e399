"""Shape plumbing and regularisation: ``flatten``, ``identity``, ``zeropad``, ``upsample``, ``dropout``."""

from __future__ import annotations

from collections.abc import Sequence
from math import floor, isfinite, prod
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, Field

from netdsl.layers.common import (
    LayerParams,
    NoParams,
    PosFloat,
    Probability,
    at_least,
    expect_rank,
    fmt_shape,
    one_input,
    rank_windows,
    windowed_output,
)
from netdsl.layers.registry import LayerKind, Shape, ShapeError, Window, register

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn


# --- dropout -----------------------------------------------------------------------------------


class DropoutParams(LayerParams):
    """Parameters of ``dropout``."""

    p: Probability = Field(0.5, description="probability of zeroing each element during training")


def _same(p: object, inputs: Sequence[Shape]) -> Shape:
    """Shape unchanged."""
    return one_input(inputs)


def _dropout_build(p: DropoutParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    from torch import nn

    return nn.Dropout(p.p)


# --- flatten / identity ------------------------------------------------------------------------


def _flatten_shape(p: NoParams, inputs: Sequence[Shape]) -> Shape:
    """Any shape → (product of its sizes,)."""
    return (prod(one_input(inputs)),)


def _flatten_build(p: NoParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    from torch import nn

    return nn.Flatten()


def _identity_build(p: NoParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    from torch import nn

    return nn.Identity()


# --- zeropad -----------------------------------------------------------------------------------


class ZeroPadParams(LayerParams):
    """Parameters of ``zeropad``."""

    padding: Annotated[int | tuple[int, int] | tuple[int, int, int, int], AfterValidator(at_least(0))] = Field(
        description="int (all sides); for (C, H, W) a pair (h, w) or (left, right, top, bottom) "
        "as nn.ZeroPad2d; for (C, L) a pair (left, right)"
    )


def _zeropad_sides(p: ZeroPadParams, shape: Shape) -> list[tuple[int, int]]:
    """(low, high) padding per spatial axis."""
    n = expect_rank("zeropad", shape, (2, 3)) - 1
    v = p.padding
    if isinstance(v, int):
        return [(v, v)] * n
    if n == 1:
        if len(v) != 2:
            raise ShapeError(f"zeropad on a (C, L) input takes padding as an int or (left, right), got {v}")
        return [(v[0], v[1])]
    if len(v) == 2:
        return [(v[0], v[0]), (v[1], v[1])]
    left, right, top, bottom = v  # nn.ZeroPad2d order: last axis first
    return [(top, bottom), (left, right)]


@rank_windows
def zeropad_windows(p: ZeroPadParams, shape: Shape) -> tuple[Window, ...]:
    """1×1 stride-1 windows carrying the padding: exact for shape, receptive field and offsets."""
    return tuple(Window(kernel=1, pad_lo=lo, pad_hi=hi) for lo, hi in _zeropad_sides(p, shape))


def _zeropad_shape(p: ZeroPadParams, inputs: Sequence[Shape]) -> Shape:
    """(C, H, W) → (C, H + top + bottom, W + left + right)."""
    shape = one_input(inputs)
    return windowed_output("zeropad", shape, zeropad_windows(p, shape), shape[0])


def _zeropad_build(p: ZeroPadParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    from torch import nn

    sides = _zeropad_sides(p, inputs[0])
    if len(sides) == 1:
        return nn.ZeroPad1d(sides[0])
    (top, bottom), (left, right) = sides
    return nn.ZeroPad2d((left, right, top, bottom))


# --- upsample ----------------------------------------------------------------------------------

UpsampleMode = Literal["nearest", "nearest-exact", "linear", "bilinear", "bicubic"]
_MODE_RANK = {"linear": 2, "bilinear": 3, "bicubic": 3}


class UpsampleParams(LayerParams):
    """Parameters of ``upsample``."""

    scale_factor: PosFloat = Field(2.0, description="multiplier of every spatial size (output is floored)")
    mode: UpsampleMode = Field(
        "nearest", description="interpolation: nearest, nearest-exact, linear (1-D), bilinear/bicubic (2-D)"
    )


def _upsample_shape(p: UpsampleParams, inputs: Sequence[Shape]) -> Shape:
    """(C, *spatial) → (C, *floor(spatial · scale_factor))."""
    shape = one_input(inputs)
    rank = expect_rank("upsample", shape, (2, 3))
    want = _MODE_RANK.get(p.mode)
    if want is not None and want != rank:
        raise ShapeError(
            f"upsample mode='{p.mode}' needs a {'(C, L)' if want == 2 else '(C, H, W)'} input, got {fmt_shape(shape)}",
            hint="use 'linear' for (C, L) and 'bilinear' or 'bicubic' for (C, H, W)",
        )
    # Same double-precision floor as torch's interpolate.
    if not all(isfinite(s * p.scale_factor) for s in shape[1:]):  # scale_factor=1e308: no size at all
        msg = f"upsample scale_factor={p.scale_factor:g} makes {fmt_shape(shape)} infinitely large"
        raise ShapeError(msg, code="E304")
    out = [floor(s * p.scale_factor) for s in shape[1:]]
    if min(out) < 1:
        raise ShapeError(f"upsample scale_factor={p.scale_factor:g} shrinks {fmt_shape(shape)} to nothing ({out})")
    return (shape[0], *out)


def _upsample_build(p: UpsampleParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    from torch import nn

    return nn.Upsample(scale_factor=p.scale_factor, mode=p.mode)


# --- registration ------------------------------------------------------------------------------

register(
    LayerKind(
        name="dropout",
        schema=DropoutParams,
        shape=_same,
        build=_dropout_build,
        doc="Zero each element with probability p during training (nn.Dropout); shape unchanged.",
        family="dropout",
        label=lambda p: f"dropout {p.p:g}",
        positional=("p",),
    )
)
register(
    LayerKind(
        name="flatten",
        schema=NoParams,
        shape=_flatten_shape,
        build=_flatten_build,
        doc="Flatten everything but the batch into one feature axis: (C, H, W) → (C·H·W,) (nn.Flatten).",
        family="reshape",
    )
)
register(
    LayerKind(
        name="identity",
        schema=NoParams,
        shape=_same,
        build=_identity_build,
        doc="Pass the input through unchanged (nn.Identity), e.g. as an empty residual shortcut.",
        family="other",
    )
)
register(
    LayerKind(
        name="zeropad",
        schema=ZeroPadParams,
        shape=_zeropad_shape,
        build=_zeropad_build,
        doc="Pad the spatial axes with zeros (nn.ZeroPad2d / nn.ZeroPad1d).",
        family="reshape",
        label=lambda p: f"zeropad {p.padding}",
        positional=("padding",),
        windows=zeropad_windows,
    )
)
register(
    LayerKind(
        name="upsample",
        schema=UpsampleParams,
        shape=_upsample_shape,
        build=_upsample_build,
        doc="Scale the spatial axes up by scale_factor with interpolation (nn.Upsample).",
        family="reshape",
        label=lambda p: f"upsample ×{p.scale_factor:g}",
        positional=("scale_factor", "mode"),
    )
)
