"""netdsl: a text language for convolutional networks, checked statically and compiled to PyTorch.

Public API::

    netdsl.check(path, **params)    -> list of diagnostics (no torch import)
    netdsl.load(path, **params)     -> torch.nn.Module
    netdsl.summary(path, **params)  -> the dry run (a table in Jupyter; .to_dict())
    netdsl.render(path, depth=…)    -> graphviz.Digraph
    netdsl.train(path, data=…, epochs=…, **options) -> (history, run_dir)

Each takes ``text=…`` instead of a path (a notebook cell); a spec with errors raises
:class:`SpecError` (see :mod:`netdsl.notebook`).

``params`` override the net's parameters (``num_classes=10``); ``input=(1, 28, 28)``
overrides the declared input shape; ``limits=netdsl.limits.Limits(max_nodes=…)``
raises or lowers the guards against runaway specs (see :mod:`netdsl.limits`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["SpecError", "__version__", "analyze", "check", "load", "render", "summary", "train"]

if TYPE_CHECKING:  # pragma: no cover
    import graphviz
    from torch import nn

    from netdsl.errors import Diagnostic
    from netdsl.notebook import SpecError, Summary
    from netdsl.pipeline import Analysis


# `text` travels in `params` (popped below) so that callers passing `**overrides` still type-check.
def check(path: str | Path | None = None, **params: Any) -> list[Diagnostic]:
    """Validate a spec (a path, or ``text=``) fully: parse, lower, shape inference; return its diagnostics."""
    from netdsl.notebook import check as _check

    return _check(path, text=params.pop("text", None), **params)


def analyze(path: str | Path | None = None, **params: Any) -> Analysis:
    """Run the front end on a spec (a path, or ``text=``) and return the IR, shapes and diagnostics."""
    from netdsl.notebook import analyze as _analyze

    return _analyze(path, text=params.pop("text", None), **params)


def load(path: str | Path | None = None, **params: Any) -> nn.Module:
    """Compile a spec (a path, or ``text=``) into a ``torch.nn.Module``; raises :class:`SpecError` on errors."""
    from netdsl.notebook import load as _load

    return _load(path, text=params.pop("text", None), **params)


def summary(path: str | Path | None = None, *, text: str | None = None, **params: Any) -> Summary:
    """The dry run of a spec (``netdsl shapes``): a table in Jupyter, ``to_dict()`` for the JSON document."""
    from netdsl.notebook import summary as _summary

    return _summary(path, text=text, **params)


def render(
    path: str | Path | None = None, *, text: str | None = None, depth: int | None = None, **params: Any
) -> graphviz.Digraph:
    """The diagram of a spec as a ``graphviz.Digraph`` (Jupyter draws it inline)."""
    from netdsl.notebook import render as _render

    return _render(path, text=text, depth=depth, **params)


def __getattr__(name: str) -> Any:
    if name == "SpecError":  # defined with the notebook API; `except netdsl.errors.NetdslError` catches it too
        from netdsl.notebook import SpecError

        return SpecError
    raise AttributeError(f"module 'netdsl' has no attribute {name!r}")


if TYPE_CHECKING:  # pragma: no cover
    from netdsl.training.run import TrainResult


def train(spec: str | Path | None = None, **options: Any) -> TrainResult:
    """Train a spec on a data set, as ``netdsl train`` does; returns ``(history, run_dir)``.

    See :func:`netdsl.training.api.train` for the options (``data=``, ``epochs=``, ``batch_size=``, …).
    """
    from netdsl.training.api import train as _train

    return _train(spec, **options)
