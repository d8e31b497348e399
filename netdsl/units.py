"""The one module that formats shapes, counts and sizes for people (tables, messages, diagrams).

Each form is used where it reads best: ``shape_text`` (``64×56×56``) in tables, diagrams and
most messages; ``shape_tuple`` (``(64, 56, 56)``) in shape-rule errors, which name the values
as Python would; ``count`` (``4.09G``) for parameters and MACs; ``fmt_bytes`` for memory.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["count", "fmt_bytes", "shape_text", "shape_tuple"]


def shape_text(shape: Sequence[int] | None) -> str:
    """``64×56×56``; ``?`` for an unknown shape, ``()`` for a scalar."""
    if shape is None:
        return "?"
    return "×".join(map(str, shape)) if len(shape) else "()"


def shape_tuple(shape: Sequence[int]) -> str:
    """``(64, 56, 56)`` / ``(4096,)``: the Python tuple spelling."""
    return str(tuple(shape))


def count(n: float, style: str = "table") -> str:
    """``4.09G``, ``75K``: a count with a unit. ``style`` is ``"table"`` (two decimals) or ``"label"`` (3 digits)."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.2f}{unit}" if style == "table" else f"{n / size:.3g}{unit}"
    return str(n)


def fmt_bytes(n: float) -> str:
    """``3.7 TB``, ``512.0 MB``: decimal units, as the memory guard of the compiler prints them."""
    if n >= 1e18:  # exact int/float comparison; dividing a 600-digit int would overflow a float
        return f"about 10^{len(str(int(n))) - 1} bytes"
    for unit, size in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n / 1e3:.1f} KB"
