"""Shared parameter types, validators and shape helpers of the built-in layer kinds.

Everything here is torch-free: shape rules, costs and labels run on the dry-run
path, which must never import torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import wraps
from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, ValidationInfo

from netdsl.layers.arith import effective_kernel, window_out

# The rank vocabulary and its one check live in netdsl.layers.ranks; re-exported here.
from netdsl.layers.ranks import AXES as AXES
from netdsl.layers.ranks import RANK_NAMES as RANK_NAMES
from netdsl.layers.ranks import expect_rank as expect_rank
from netdsl.layers.registry import Params, Shape, ShapeError, Window, WindowRule
from netdsl.memo import IdentityMemo
from netdsl.units import shape_tuple


class LayerParams(Params):
    """Base of the built-in schemas: strict, so ``True`` is no int and ``3.5`` is not truncated."""

    model_config = ConfigDict(strict=True)


def as_tuple(value: int | tuple[int, ...]) -> tuple[int, ...]:
    """``3`` → ``(3,)``; tuples unchanged."""
    return value if isinstance(value, tuple) else (value,)


def at_least(minimum: int) -> Callable[[Any, ValidationInfo], Any]:
    """A validator refusing any int (or tuple element) below ``minimum``, naming the field and value."""

    def check(value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):  # 'same' / 'valid' paddings are checked by their Literal type
            return value
        if any(v < minimum for v in as_tuple(value)):
            raise ValueError(f"{info.field_name} must be ≥ {minimum}, got {value}")
        return value

    return check


def in_range(lo: float, hi: float) -> Callable[[Any, ValidationInfo], Any]:
    """A validator for a float in the closed range [lo, hi]."""

    def check(value: Any, info: ValidationInfo) -> Any:
        if not lo <= value <= hi:
            raise ValueError(f"{info.field_name} must be in [{lo:g}, {hi:g}], got {value}")
        return value

    return check


def positive_float(value: float, info: ValidationInfo) -> float:
    """Validator for a strictly positive float (eps, scale factors)."""
    if not value > 0:
        raise ValueError(f"{info.field_name} must be > 0, got {value}")
    return value


# Integer-or-tuple types. The tuple lengths are part of the type, so `netdsl layers conv2d`
# shows exactly what is accepted; which length applies is decided by the input rank later.
Pos = Annotated[int, AfterValidator(at_least(1))]
NonNeg = Annotated[int, AfterValidator(at_least(0))]
PosPair = Annotated[int | tuple[int, int], AfterValidator(at_least(1))]
NonNegPair = Annotated[int | tuple[int, int], AfterValidator(at_least(0))]
PosSingle = Annotated[int | tuple[int], AfterValidator(at_least(1))]
NonNegSingle = Annotated[int | tuple[int], AfterValidator(at_least(0))]
Pos1or2 = Annotated[int | tuple[int] | tuple[int, int], AfterValidator(at_least(1))]
NonNeg1or2 = Annotated[int | tuple[int] | tuple[int, int], AfterValidator(at_least(0))]
PosFloat = Annotated[float, AfterValidator(positive_float)]
Probability = Annotated[float, AfterValidator(in_range(0.0, 1.0))]


class NoParams(LayerParams):
    """Schema of kinds without parameters."""


def fmt_shape(shape: Shape) -> str:
    """``(64, 56, 56)`` / ``(4096,)``: the Python tuple spelling of shape-rule messages."""
    return shape_tuple(shape)


def fmt_shapes(shapes: Sequence[Shape]) -> str:
    """``(1, 2), (3, 4) and (5, 6)``."""
    parts = [fmt_shape(s) for s in shapes]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def fmt_grid(values: Sequence[int]) -> str:
    """``3×3`` for a 2-D window, ``3`` for a 1-D one."""
    return "×".join(str(v) for v in values)


def fmt_size(value: int | tuple[int, ...]) -> str:
    """Label text of a kernel given as int or tuple: an int is drawn square (``3`` → ``3×3``)."""
    return fmt_grid(value) if isinstance(value, tuple) else f"{value}×{value}"


def fmt_stride(value: int | tuple[int, ...]) -> str:
    """Label text of a stride: empty for 1, ``/2`` (or ``/2×1``) otherwise."""
    values = as_tuple(value)
    if all(v == 1 for v in values):
        return ""
    return f"/{compact(value)}"


def compact(value: int | tuple[int, ...]) -> str:
    """``2`` for 2 or (2, 2), ``2×1`` for (2, 1): for strides and dilations in labels."""
    values = as_tuple(value)
    return str(values[0]) if len(set(values)) == 1 else fmt_grid(values)


def one_input(inputs: Sequence[Shape]) -> Shape:
    """The single input of a one-input kind (the shape pass checks the count before calling)."""
    return inputs[0]


def spatial(kind: str, field: str, value: int | tuple[int, ...], n: int) -> tuple[int, ...]:
    """Expand an int to ``n`` spatial values, or check that a tuple has ``n`` of them."""
    if isinstance(value, int):
        return (value,) * n
    if len(value) != n:
        want = {1: "an int", 2: "an int or a pair"}.get(n, f"an int or {n} values")
        raise ShapeError(
            f"{kind} on a {RANK_NAMES[n + 1]} input takes {field} as {want}, got {value}",
            hint=f"the {n}-D form of {kind} needs {n} value{'s' if n > 1 else ''} per window setting",
        )
    return value


def pair(values: tuple[int, ...]) -> tuple[int, int]:
    """Narrow a resolved 2-axis tuple for torch's typed constructors."""
    first, second = values
    return first, second


def windowed_output(kind: str, shape: Shape, windows: Sequence[Window], channels: int) -> Shape:
    """Output shape ``(channels, *spatial)`` of a sliding-window layer, via :func:`arith.window_out`.

    An axis with no output raises a ShapeError naming the axis, the input size and the window.
    """
    sizes = shape[1:]
    axes = AXES[len(sizes)]
    out: list[int] = []
    for axis, size, w in zip(axes, sizes, windows, strict=True):
        n = window_out(size, w)
        if n < 1:
            pad = f"{w.pad_lo}" if w.pad_lo == w.pad_hi else f"{w.pad_lo}+{w.pad_hi}"
            dil = f", dilation {w.dilation} spans {effective_kernel(w)}" if w.dilation > 1 else ""
            grid = fmt_grid([w.kernel for w in windows])
            raise ShapeError(
                f"{kind} output {axis} would be {n}: input {axis} {size} is smaller than "
                f"the {grid} window (padding {pad}{dil})",
                code="E302",  # the shape pass turns E302 into "the smallest valid input is …"
            )
        out.append(n)
    return (channels, *out)


def normalize_dim(kind: str, dim: int, shape: Shape) -> int:
    """Resolve a PyTorch-convention dim (0 = batch) against a batch-free shape; returns 1..rank."""
    full = len(shape) + 1
    if not -full <= dim < full:
        raise ShapeError(
            f"{kind} dim={dim} is out of range for a {fmt_shape(shape)} input "
            f"(dims count the batch as 0, so valid dims are 1..{full - 1} or -{full - 1}..-1)"
        )
    d = dim + full if dim < 0 else dim
    if d == 0:
        raise ShapeError(
            f"{kind} dim={dim} is the batch dimension",
            hint="dims follow PyTorch: 0 is the batch, 1 the channels/features",
        )
    return d


def dim_name(d: int, rank: int) -> str:
    """Name of a (PyTorch-convention) dim of a batch-free shape of ``rank``: ``channels``, ``height``..."""
    if d == 1:
        return "channels" if rank > 1 else "features"
    axes = AXES.get(rank - 1)
    return axes[d - 2] if axes else f"dim {d}"


def rank_windows(rule: WindowRule) -> Callable[[Any, Shape], tuple[Window, ...]]:
    """Memoise a windows rule that reads only the parameters and the input's rank.

    The kind's shape rule and the shape pass both ask for the windows of the same
    layer; a new layer of a real net costs a third less this way. Keyed on the
    parameters' identity (frozen, and shared among equal calls by the lowering pass),
    each entry holding them so that id is not reused. Errors are not memoised.
    """
    memo: IdentityMemo[tuple[Window, ...]] = IdentityMemo(4096)

    @wraps(rule)
    def windows(p: Any, shape: Shape) -> tuple[Window, ...]:
        hit = memo.get(p, None, len(shape))
        if hit is None:
            hit = memo.put(p, None, len(shape), tuple(rule(p, shape)))
        return hit

    return windows
