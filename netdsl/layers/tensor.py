"""Tensor plumbing of any rank: ``permute``, ``transpose``, ``reshape``, ``to_tokens`` and ``to_map``.

Sizes exclude the batch, as everywhere in netdsl (``reshape([768, 196])`` reshapes each
sample); dim indices follow PyTorch and count the batch as 0 (``permute([0, 2, 3, 1])``
is torchvision's ``Permute([0, 2, 3, 1])``, ``transpose(1, 2)`` is ``x.transpose(1, 2)``).
None of them has parameters or MACs; the modules are :mod:`netdsl.layers.modules`'.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod
from typing import TYPE_CHECKING, Self

from pydantic import Field, model_validator

from netdsl.layers.common import LayerParams, NoParams, Pos, fmt_shape, normalize_dim, one_input
from netdsl.layers.ranks import ANY, RANK_NAMES, expect_declared
from netdsl.layers.registry import LayerKind, Shape, ShapeError, register

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

# --- permute -----------------------------------------------------------------------------------


class PermuteParams(LayerParams):
    """Parameters of ``permute``."""

    dims: tuple[int, ...] = Field(
        description="the new order of all dims, the batch included as 0 and kept first: [0, 2, 3, 1] "
        "turns (C, H, W) into (H, W, C)"
    )


def _permutation(p: PermuteParams, shape: Shape) -> tuple[int, ...]:
    """The dims resolved to 0..rank (negatives counted from the end), checked to be a permutation."""
    full = len(shape) + 1
    if len(p.dims) != full:
        raise ShapeError(
            f"permute needs {full} dims for a {fmt_shape(shape)} input (the batch is dim 0), got {list(p.dims)}",
            hint=f"list every dim of the batched {full}-D tensor, starting with 0",
        )
    dims = tuple(d + full if d < 0 else d for d in p.dims)
    if sorted(dims) != list(range(full)):
        raise ShapeError(f"permute dims {list(p.dims)} are not a permutation of 0..{full - 1}")
    if dims[0] != 0:
        raise ShapeError(
            f"permute dims {list(p.dims)} move the batch dimension",
            hint="the batch stays dim 0: start the dims with 0",
        )
    return dims


def _permute_shape(p: PermuteParams, inputs: Sequence[Shape]) -> Shape:
    """Sizes reordered: (C, H, W) with [0, 2, 3, 1] → (H, W, C)."""
    shape = one_input(inputs)
    expect_declared("permute", shape)
    return tuple(shape[d - 1] for d in _permutation(p, shape)[1:])


def _permute_build(p: PermuteParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    from netdsl.layers.modules import Permute

    return Permute(list(_permutation(p, inputs[0])))


# --- transpose ---------------------------------------------------------------------------------


class TransposeParams(LayerParams):
    """Parameters of ``transpose``."""

    dim0: int = Field(description="first dim to swap (PyTorch convention: 0 is the batch, which cannot move)")
    dim1: int = Field(description="second dim to swap")


def _transpose_shape(p: TransposeParams, inputs: Sequence[Shape]) -> Shape:
    """Two sizes swapped: (L, D) with (1, 2) → (D, L)."""
    shape = one_input(inputs)
    expect_declared("transpose", shape)
    a, b = normalize_dim("transpose", p.dim0, shape) - 1, normalize_dim("transpose", p.dim1, shape) - 1
    out = list(shape)
    out[a], out[b] = shape[b], shape[a]
    return tuple(out)


def _transpose_build(p: TransposeParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    from netdsl.layers.modules import Transpose

    return Transpose(p.dim0, p.dim1)


# --- reshape -----------------------------------------------------------------------------------


class ReshapeParams(LayerParams):
    """Parameters of ``reshape``."""

    shape: int | tuple[int, ...] = Field(
        description="the new size of each sample, without the batch (1 to 4 values); one may be -1, inferred"
    )

    @model_validator(mode="after")
    def _sizes(self) -> Self:
        sizes = self.sizes
        if not 1 <= len(sizes) <= max(ANY):
            raise ValueError(f"shape must have 1 to {max(ANY)} sizes (the batch excluded), got {len(sizes)}")
        if any(s < 1 and s != -1 for s in sizes):
            raise ValueError(f"shape sizes must be ≥ 1 or -1, got {self.shape}")
        if sizes.count(-1) > 1:
            raise ValueError(f"shape may infer only one size (-1), got {self.shape}")
        return self

    @property
    def sizes(self) -> tuple[int, ...]:
        return self.shape if isinstance(self.shape, tuple) else (self.shape,)


def _reshape_shape(p: ReshapeParams, inputs: Sequence[Shape]) -> Shape:
    """Any shape → ``shape`` with the same number of values (-1 inferred): (C, H, W) → (C, H·W) …"""
    shape = one_input(inputs)
    expect_declared("reshape", shape)
    total, known = prod(shape), prod(s for s in p.sizes if s != -1)
    if -1 in p.sizes:
        if total % known:
            raise ShapeError(
                f"reshape to {p.sizes}: the input {fmt_shape(shape)} has {total} values per sample, "
                f"not a multiple of {known}"
            )
        return tuple(total // known if s == -1 else s for s in p.sizes)
    if known != total:
        raise ShapeError(
            f"reshape to {fmt_shape(p.sizes)} needs {known} values per sample, the input {fmt_shape(shape)} has {total}"
        )
    return p.sizes


def _reshape_build(p: ReshapeParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    from netdsl.layers.modules import Reshape

    return Reshape(list(p.sizes))


# --- maps and tokens ---------------------------------------------------------------------------


def _to_tokens_shape(p: NoParams, inputs: Sequence[Shape]) -> Shape:
    """(C, H, W) → (H·W, C); also (C, L) → (L, C) and (C, D, H, W) → (D·H·W, C)."""
    shape = one_input(inputs)
    expect_declared("to_tokens", shape, hint="to_tokens turns a map (channels first) into (positions, channels)")
    return (prod(shape[1:]), shape[0])


def _to_tokens_build(p: NoParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    from netdsl.layers.modules import ToTokens

    return ToTokens()


class ToMapParams(LayerParams):
    """Parameters of ``to_map``."""

    height: Pos = Field(description="height of the map; height · width must equal the number of tokens")
    width: Pos = Field(description="width of the map")


def _to_map_shape(p: ToMapParams, inputs: Sequence[Shape]) -> Shape:
    """(L, C) → (C, height, width), with L = height · width."""
    shape = one_input(inputs)
    expect_declared("to_map", shape, hint=f"to_map takes tokens (L, D), written {RANK_NAMES[2]} here")
    tokens, channels = shape
    if p.height * p.width != tokens:
        raise ShapeError(
            f"to_map({p.height}, {p.width}) needs {p.height * p.width} tokens, "
            f"the input {fmt_shape(shape)} has {tokens}",
            hint="height · width must equal the number of tokens (the first size)",
        )
    return (channels, p.height, p.width)


def _to_map_build(p: ToMapParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    from netdsl.layers.modules import ToMap

    return ToMap(p.height, p.width)


# --- registration ------------------------------------------------------------------------------

register(
    LayerKind(
        name="permute",
        schema=PermuteParams,
        shape=_permute_shape,
        build=_permute_build,
        doc="Reorder the dims (x.permute, batch first): permute([0, 2, 3, 1]) makes a map channels-last.",
        family="reshape",
        label=lambda p: f"permute {list(p.dims)}",
        positional=("dims",),
    )
)
register(
    LayerKind(
        name="transpose",
        schema=TransposeParams,
        shape=_transpose_shape,
        build=_transpose_build,
        doc="Swap two dims (x.transpose; dims count the batch as 0): transpose(1, 2) turns (L, D) into (D, L).",
        family="reshape",
        label=lambda p: f"transpose {p.dim0},{p.dim1}",
        positional=("dim0", "dim1"),
    )
)
register(
    LayerKind(
        name="reshape",
        schema=ReshapeParams,
        shape=_reshape_shape,
        build=_reshape_build,
        doc="Give each sample a new shape of the same size (x.reshape(N, *shape)); one size may be -1.",
        family="reshape",
        label=lambda p: "reshape " + "×".join(str(s) for s in p.sizes),
        positional=("shape",),
    )
)
register(
    LayerKind(
        name="to_tokens",
        schema=NoParams,
        shape=_to_tokens_shape,
        build=_to_tokens_build,
        doc="A map to tokens: (C, H, W) → (H·W, C), one token per position (as ViT, x.flatten(2).transpose(1, 2)).",
        family="reshape",
    )
)
register(
    LayerKind(
        name="to_map",
        schema=ToMapParams,
        shape=_to_map_shape,
        build=_to_map_build,
        doc="Tokens back to a map: (H·W, C) → (C, H, W) for to_map(H, W); the inverse of to_tokens.",
        family="reshape",
        label=lambda p: f"to_map {p.height}×{p.width}",
        positional=("height", "width"),
        aliases={"h": "height", "w": "width"},
    )
)
