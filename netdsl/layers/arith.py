"""The one place that knows sliding-window size arithmetic (conv and pool, 1-D and 2-D).

PyTorch's rule, per axis, with effective kernel ``d·(k−1)+1``::

    out = floor((H + pad_lo + pad_hi − d·(k−1) − 1) / s) + 1

With ``ceil_mode`` the division rounds up, except that a last window starting
beyond the input (in the right padding) is dropped. Every shape rule, the
``--explain`` text and the "rows dropped" warning use these functions, so they
cannot disagree.
"""

from __future__ import annotations

from fractions import Fraction

from netdsl.layers.registry import Window


def same_padding(kernel: int, dilation: int = 1) -> tuple[int, int]:
    """PyTorch's split of 'same' padding: the extra odd pixel goes to the end."""
    total = dilation * (kernel - 1)
    return total // 2, total - total // 2


def effective_kernel(w: Window) -> int:
    return w.dilation * (w.kernel - 1) + 1


def window_out(size: int, w: Window) -> int:
    """Output length of one axis; may be ≤ 0 when the input is too small (callers report it)."""
    span = size + w.pad_lo + w.pad_hi - effective_kernel(w)
    if w.ceil_mode:
        # Checked before the span < 0 test: rounding up, a window hanging past the end still
        # counts (PyTorch: MaxPool2d(3, 2, ceil_mode=True) on a 2×2 input gives 1×1).
        out = -(-span // w.stride) + 1
        # PyTorch: the last window must start inside the input or the left padding.
        if (out - 1) * w.stride >= size + w.pad_lo:
            out -= 1
        return max(out, 0)
    if span < 0:
        return 0
    return span // w.stride + 1


def dropped(size: int, w: Window) -> int:
    """How many input rows/columns (right side) no window covers because of the floor."""
    out = window_out(size, w)
    if out <= 0:
        return 0
    covered = (out - 1) * w.stride + effective_kernel(w)
    return max(0, size + w.pad_lo + w.pad_hi - covered - w.pad_hi)


def explain(size: int, w: Window) -> str:
    """The arithmetic behind one output size, e.g. ``(224 + 2·3 − 7) / 2 + 1 = 112.5 → 112 (floor)``."""
    k = effective_kernel(w)
    if w.pad_lo == w.pad_hi:
        pad = f" + 2·{w.pad_lo}" if w.pad_lo else ""
    else:
        pad = f" + {w.pad_lo}+{w.pad_hi}"
    kern = f"{w.dilation}·({w.kernel}−1) − 1" if w.dilation > 1 else f"{k}"
    head = f"({size}{pad} − {kern})"
    exact = Fraction(size + w.pad_lo + w.pad_hi - k, w.stride) + 1
    out = window_out(size, w)
    text = f"{head} / {w.stride} + 1" if w.stride != 1 else f"{head} + 1"
    value = _fmt(exact)
    if exact.denominator == 1:
        return f"{text} = {value}"
    rule = "ceil" if w.ceil_mode else "floor"
    return f"{text} = {value} → {out} ({rule})"


def _fmt(x: Fraction) -> str:
    if x.denominator == 1:
        return str(x.numerator)
    return f"{float(x):.4g}"
