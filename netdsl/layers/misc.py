"""Shape plumbing and regularisation: ``flatten``, ``identity``, ``zeropad``, ``upsample``, ``dropout``."""

from __future__ import annotations

from collections.abc import Sequence
from math import floor, isfinite, prod
from typing import TYPE_CHECKING, Annotated, Literal, Self

from pydantic import AfterValidator, Field, model_validator

from netdsl.layers.common import (
    RANK_NAMES,
    LayerParams,
    NoParams,
    Pos,
    PosFloat,
    Probability,
    at_least,
    expect_rank,
    fmt_shape,
    fmt_size,
    normalize_dim,
    one_input,
    rank_windows,
    spatial,
    windowed_output,
)
from netdsl.layers.ranks import expect_declared
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


class FlattenParams(LayerParams):
    """Parameters of ``flatten``."""

    start_dim: int = Field(1, description="first dim to merge (PyTorch convention: 0 is the batch, kept)")
    end_dim: int = Field(-1, description="last dim to merge (-1: the last)")


def _flatten_range(p: FlattenParams, shape: Shape) -> tuple[int, int]:
    """The merged dims as indices into the batch-free shape, [lo, hi)."""
    start, end = normalize_dim("flatten", p.start_dim, shape), normalize_dim("flatten", p.end_dim, shape)
    if start > end:
        raise ShapeError(
            f"flatten start_dim={p.start_dim} comes after end_dim={p.end_dim} on a {fmt_shape(shape)} input"
        )
    return start - 1, end


def _flatten_shape(p: FlattenParams, inputs: Sequence[Shape]) -> Shape:
    """Dims start_dim..end_dim merged into one; by default everything: (C, H, W) → (C·H·W,)."""
    shape = one_input(inputs)
    expect_declared("flatten", shape)
    lo, hi = _flatten_range(p, shape)
    return (*shape[:lo], prod(shape[lo:hi]), *shape[hi:])


def _flatten_build(p: FlattenParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    from torch import nn

    return nn.Flatten(p.start_dim, p.end_dim)


def _flatten_label(p: FlattenParams) -> str:
    return "flatten" if (p.start_dim, p.end_dim) == (1, -1) else f"flatten {p.start_dim}..{p.end_dim}"


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

UpsampleMode = Literal["nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear"]
_MODE_RANK = {"linear": 2, "bilinear": 3, "bicubic": 3, "trilinear": 4}
_MODE_HINT = "use 'linear' for (C, L), 'bilinear' or 'bicubic' for (C, H, W) and 'trilinear' for (C, D, H, W)"


class UpsampleParams(LayerParams):
    """Parameters of ``upsample``."""

    scale_factor: PosFloat | tuple[PosFloat, ...] | None = Field(
        None, description="multiplier of every spatial size, or one per axis (output floored); 2 if size is not given"
    )
    mode: UpsampleMode = Field(
        "nearest",
        description="interpolation: nearest, nearest-exact, linear (1-D), bilinear/bicubic (2-D), trilinear (3-D)",
    )
    size: Pos | tuple[Pos, ...] | None = Field(None, description="output spatial size instead of a scale_factor")
    align_corners: bool | None = Field(
        None, description="align the corner pixels of input and output (linear, bilinear, bicubic, trilinear only)"
    )

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if self.size is not None and self.scale_factor is not None:
            raise ValueError("give scale_factor or size, not both")
        if self.align_corners is not None and self.mode not in _MODE_RANK:
            raise ValueError(f"align_corners needs an interpolating mode (linear, bilinear …), not '{self.mode}'")
        return self

    @property
    def factor(self) -> float | tuple[float, ...] | None:
        """The scale factor in effect: 2 when neither scale_factor nor size is given."""
        return 2.0 if self.scale_factor is None and self.size is None else self.scale_factor


def _upsample_sizes(p: UpsampleParams, shape: Shape) -> list[int]:
    """The output spatial sizes, by size or by the floored product with the scale factor."""
    n = len(shape) - 1
    if p.size is not None:
        return list(spatial("upsample", "size", p.size, n))
    factor = 2.0 if p.scale_factor is None else p.scale_factor
    factors = factor if isinstance(factor, tuple) else (factor,) * n
    shown = "×".join(f"{f:g}" for f in factors) if isinstance(factor, tuple) else f"{factor:g}"
    if len(factors) != n:
        raise ShapeError(f"upsample on a {RANK_NAMES[n + 1]} input takes {n} scale factors, got {factor}")
    # Same double-precision floor as torch's interpolate.
    if not all(isfinite(s * f) for s, f in zip(shape[1:], factors, strict=True)):  # 1e308: no size at all
        msg = f"upsample scale_factor={shown} makes {fmt_shape(shape)} infinitely large"
        raise ShapeError(msg, code="E304")
    out = [floor(s * f) for s, f in zip(shape[1:], factors, strict=True)]
    if min(out) < 1:
        raise ShapeError(f"upsample scale_factor={shown} shrinks {fmt_shape(shape)} to nothing ({out})")
    return out


def _upsample_shape(p: UpsampleParams, inputs: Sequence[Shape]) -> Shape:
    """(C, *spatial) → (C, *size) or (C, *floor(spatial · scale_factor))."""
    shape = one_input(inputs)
    rank = expect_declared("upsample", shape)
    want = _MODE_RANK.get(p.mode)
    if want is not None and want != rank:
        raise ShapeError(
            f"upsample mode='{p.mode}' needs a {RANK_NAMES[want]} input, got {fmt_shape(shape)}", hint=_MODE_HINT
        )
    return (shape[0], *_upsample_sizes(p, shape))


def _upsample_build(p: UpsampleParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    from torch import nn

    return nn.Upsample(size=p.size, scale_factor=p.factor, mode=p.mode, align_corners=p.align_corners)


def _upsample_label(p: UpsampleParams) -> str:
    if p.size is not None:
        return f"upsample to {fmt_size(p.size)}"
    factor = p.factor
    return "upsample ×" + ("×".join(f"{f:g}" for f in factor) if isinstance(factor, tuple) else f"{factor:g}")


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
        schema=FlattenParams,
        shape=_flatten_shape,
        build=_flatten_build,
        doc="Merge dims start_dim..end_dim (default: all but the batch, (C, H, W) → (C·H·W,)) (nn.Flatten).",
        family="reshape",
        label=_flatten_label,
        positional=("start_dim", "end_dim"),
        aliases={"start": "start_dim", "end": "end_dim"},
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
        doc="Resize the spatial axes by scale_factor (default 2) or to size, with interpolation (nn.Upsample).",
        family="reshape",
        label=_upsample_label,
        positional=("scale_factor", "mode"),
    )
)
