"""netdsl: a text language for convolutional networks, checked statically and compiled to PyTorch.

Public API::

    netdsl.check(path, **params)  -> list of diagnostics (no torch import)
    netdsl.load(path, **params)   -> torch.nn.Module

``params`` override the net's parameters (``num_classes=10``); ``input=(1, 28, 28)``
overrides the declared input shape; ``limits=netdsl.limits.Limits(max_nodes=…)``
raises or lowers the guards against runaway specs (see :mod:`netdsl.limits`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["__version__", "analyze", "check", "load"]

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from netdsl.errors import Diagnostic
    from netdsl.pipeline import Analysis


def check(path: str | Path, **params: Any) -> list[Diagnostic]:
    """Validate a spec fully (parse, lower, shape inference) and return its diagnostics."""
    from netdsl.pipeline import check as _check

    return _check(path, **params)


def analyze(path: str | Path, **params: Any) -> Analysis:
    """Run the front end and return the IR, shapes and diagnostics."""
    from netdsl.pipeline import analyze as _analyze

    shape = params.pop("input", None)
    limits = params.pop("limits", None)
    return _analyze(path, params, tuple(shape) if shape else None, limits)


def load(path: str | Path, **params: Any) -> nn.Module:
    """Compile a spec into a ``torch.nn.Module`` (raises :class:`netdsl.errors.NetdslError` on errors)."""
    from netdsl.backends.torch.compile import load as _load

    return _load(path, **params)
