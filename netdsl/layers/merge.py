"""Merges of several paths: ``add``, ``mul`` and ``concat`` (family "merge", two or more inputs).

The built modules (:mod:`netdsl.layers.modules`) take one list of tensors, in the
order the paths are written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import Field

from netdsl.layers.common import LayerParams, NoParams, dim_name, fmt_shapes, normalize_dim
from netdsl.layers.registry import LayerKind, Shape, ShapeError, register

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

_MERGE_INPUTS: tuple[int, None] = (2, None)


def _at_least_two(kind: str, inputs: Sequence[Shape]) -> None:
    if len(inputs) < 2:
        raise ShapeError(f"{kind} needs at least 2 inputs, got {len(inputs)}")


def _same_rank(kind: str, inputs: Sequence[Shape], hint: str | None = None) -> None:
    if len({len(s) for s in inputs}) > 1:
        raise ShapeError(f"{kind} needs inputs of the same rank, got {fmt_shapes(inputs)}", hint=hint)


def _add_shape(p: NoParams, inputs: Sequence[Shape]) -> Shape:
    """All inputs must have the same shape, which is the output shape."""
    _at_least_two("add", inputs)
    first = inputs[0]
    if all(tuple(s) == tuple(first) for s in inputs):
        return tuple(first)
    hint = None
    if len({len(s) for s in inputs}) == 1 and len(first) > 1:
        if len({tuple(s[1:]) for s in inputs}) == 1:
            hint = "a 1×1 conv on the shortcut path can project it to the other path's channels"
        else:
            hint = "a strided 1×1 conv (or pooling) on the shortcut path can match the spatial size"
    raise ShapeError(f"add needs equal shapes, got {fmt_shapes(inputs)}", hint=hint)


def _mul_shape(p: NoParams, inputs: Sequence[Shape]) -> Shape:
    """Broadcasting product: per axis the sizes must be equal or 1; the output takes the larger."""
    _at_least_two("mul", inputs)
    _same_rank(
        "mul",
        inputs,
        hint="a gate needs the map's rank: `adaptive_avgpool 1` gives (C, 1, 1), `global_avgpool` (C,)",
    )
    out: list[int] = []
    for sizes in zip(*inputs, strict=True):
        big = max(sizes)
        if any(s not in (1, big) for s in sizes):
            raise ShapeError(f"mul needs broadcast-compatible shapes (each axis equal or 1), got {fmt_shapes(inputs)}")
        out.append(big)
    return tuple(out)


class ConcatParams(LayerParams):
    """Parameters of ``concat``."""

    dim: int = Field(1, description="axis to join along, PyTorch convention (0 = batch, 1 = channels)")


def _concat_shape(p: ConcatParams, inputs: Sequence[Shape]) -> Shape:
    """Sizes add up along dim; every other axis must agree."""
    _at_least_two("concat", inputs)
    _same_rank("concat", inputs)
    rank = len(inputs[0])
    d = normalize_dim("concat", p.dim, inputs[0])
    axis = d - 1  # index into the batch-free shape
    others = {tuple(s[:axis]) + tuple(s[axis + 1 :]) for s in inputs}
    if len(others) > 1:
        name = dim_name(d, rank)
        what = "spatial sizes" if d == 1 else "sizes on the other axes"
        raise ShapeError(f"concat along {name} needs equal {what}, got {fmt_shapes(inputs)}")
    first = tuple(inputs[0])
    return (*first[:axis], sum(s[axis] for s in inputs), *first[axis + 1 :])


def _add_build(p: NoParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    from netdsl.layers.modules import Add

    return Add()


def _add_inplace(module: nn.Module) -> nn.Module:
    from netdsl.layers.modules import AddInplace

    return AddInplace()


def _mul_build(p: NoParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    from netdsl.layers.modules import Mul

    return Mul()


def _concat_build(p: ConcatParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
    from netdsl.layers.modules import Concat

    return Concat(p.dim)


register(
    LayerKind(
        name="add",
        schema=NoParams,
        shape=_add_shape,
        build=_add_build,
        doc="Element-wise sum of two or more paths of equal shape (residual connections).",
        family="merge",
        inputs=_MERGE_INPUTS,
        inplace=_add_inplace,
        output_free=True,
    )
)
register(
    LayerKind(
        name="mul",
        schema=NoParams,
        shape=_mul_shape,
        build=_mul_build,
        doc="Element-wise product of paths with broadcasting, e.g. (C, H, W) · (C, 1, 1) gates.",
        family="merge",
        inputs=_MERGE_INPUTS,
    )
)
register(
    LayerKind(
        name="concat",
        schema=ConcatParams,
        shape=_concat_shape,
        build=_concat_build,
        doc="Join paths along dim (PyTorch convention: 1 = channels), as in Inception and DenseNet.",
        family="merge",
        label=lambda p: "concat" if p.dim == 1 else f"concat dim={p.dim}",
        positional=("dim",),
        inputs=_MERGE_INPUTS,
        output_free=True,
    )
)
