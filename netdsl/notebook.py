"""Specs from Python and notebooks: every entry point takes a path or ``text=``.

::

    import netdsl
    netdsl.check(text=spec)                      # diagnostics, never raises for the spec's mistakes
    model = netdsl.load(text=spec, width=32)     # a torch.nn.Module
    netdsl.summary(text=spec)                    # the dry run: a table in Jupyter, .to_dict() for JSON
    netdsl.render(text=spec, depth=1)            # a graphviz.Digraph, drawn inline by Jupyter

A spec given as text is named ``<text>.net`` in messages and imports relative to
the working directory (pass ``path=`` as well to name it and anchor its imports).
A spec with errors raises :class:`SpecError` (a :class:`~netdsl.errors.NetdslError`),
whose ``str`` is the located message ``netdsl check`` prints. Nothing here imports
torch or graphviz until :func:`load` or :func:`render` needs it.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netdsl.errors import Diagnostic, NetdslError

if TYPE_CHECKING:  # pragma: no cover
    import graphviz
    from torch import nn

    from netdsl.pipeline import Analysis
    from netdsl.shapes import ShapeResult

__all__ = ["SpecError", "Summary", "analyze", "check", "load", "render", "summary"]

#: How a spec given only as text is named in messages.
TEXT_NAME = "<text>.net"

#: Keyword arguments of :func:`load` that are build options, not net parameters.
BUILD_OPTIONS = ("seed", "init", "device", "optimize", "inplace")


class SpecError(NetdslError):
    """A spec has errors: ``.diagnostics`` holds them all, ``str()`` is the CLI's located message."""


def _source(path: str | Path | None, text: str | None) -> str | Path:
    if path is None and text is None:
        raise TypeError("give a spec: a path, or text=…")
    return TEXT_NAME if path is None else path


def analyze(path: str | Path | None = None, *, text: str | None = None, **params: Any) -> Analysis:
    """Parse, lower and shape-check a spec; never raises for its mistakes (see ``.diagnostics``).

    ``params`` override the net's parameters; ``input=(C, H, W)`` the declared input shape;
    ``limits=`` the guards of :mod:`netdsl.limits`.
    """
    from netdsl.pipeline import analyze as _analyze

    shape = params.pop("input", None)
    limits = params.pop("limits", None)
    return _analyze(_source(path, text), params, tuple(shape) if shape else None, limits, text=text)


def check(path: str | Path | None = None, *, text: str | None = None, **params: Any) -> list[Diagnostic]:
    """Every diagnostic of a spec (an empty list, or only warnings, means it builds). No torch."""
    return analyze(path, text=text, **params).diagnostics


def _checked(path: str | Path | None, text: str | None, params: dict[str, Any]) -> Analysis:
    analysis = analyze(path, text=text, **params)
    try:
        analysis.raise_for_errors()
    except NetdslError as err:
        raise SpecError(err.diagnostics, err.sources) from None
    return analysis


def load(path: str | Path | None = None, *, text: str | None = None, **params: Any) -> nn.Module:
    """Compile a spec into a ``torch.nn.Module``; raises :class:`SpecError` if it has errors.

    Build options (``seed``, ``init``, ``device``, ``optimize``, ``inplace``) are those of
    :func:`netdsl.backends.torch.compile.load`; the other keywords override net parameters.
    """
    from netdsl.backends.torch.compile import build

    options = {k: params.pop(k) for k in BUILD_OPTIONS if k in params}
    analysis = _checked(path, text, params)
    try:
        return build(analysis, **options)
    except SpecError:
        raise
    except NetdslError as err:  # the memory guard, a builder's failure: still the spec's diagnostics
        raise SpecError(err.diagnostics, err.sources) from None


@dataclass(frozen=True, repr=False)
class Summary:
    """The dry run of a spec: per-module shapes and costs, shown as a table by Jupyter.

    Attributes of the :class:`~netdsl.shapes.ShapeResult` (``nodes``, ``by_id``, ``total``,
    ``output`` …) are read through; ``to_dict()`` is the ``netdsl shapes --format json``
    document (docs/shapes-json.md); ``str()`` is the text table.
    """

    result: ShapeResult
    depth: int | None = None
    explain: bool = False

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "result":  # copy and pickle probe before `result` exists
            raise AttributeError(name)
        return getattr(self.result, name)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``netdsl shapes --format json``, as a dict."""
        from netdsl.shapes.report import to_json

        doc: dict[str, Any] = json.loads(to_json(self.result, self.depth, self.explain))
        return doc

    def __str__(self) -> str:
        from netdsl.shapes.report import table

        return table(self.result, self.depth, self.explain)

    def __repr__(self) -> str:
        from netdsl.shapes.report import human
        from netdsl.shapes.result import fmt_shape

        r = self.result
        shapes = f"N×{fmt_shape(r.input_shape)} → N×{fmt_shape(r.output)}"
        return f"<netdsl.Summary {r.net.name}: {shapes}, {r.total.params:,} params, {human(r.total.macs)} MACs>"

    def _repr_markdown_(self) -> str:
        from netdsl.shapes.report import table

        return table(self.result, self.depth, self.explain, markdown=True)

    def _repr_html_(self) -> str:
        return summary_html(self.result, self.depth)


def summary_html(result: ShapeResult, depth: int | None = None) -> str:
    """An HTML table of the dry run (what Jupyter shows for :class:`Summary`)."""
    from netdsl.shapes.report import human, rows_for, totals
    from netdsl.shapes.result import fmt_shape

    e = html.escape
    head = ("Layer (module name)", "Kind", "Output", "Params", "MACs", "RF")
    cells = "".join(f"<th>{h}</th>" for h in head)
    rows = []
    for r in rows_for(result, depth):
        indent = "&nbsp;" * 2 * (r["depth"] - 1)
        name = e(r["name"]) + (f" (×{r['repeat']})" if r["repeat"] > 1 else "")
        output = "N×" + fmt_shape(tuple(r["output"])) if r["output"] else "?"
        rf = "×".join(map(str, r["receptive_field"])) if r["receptive_field"] else "-"
        rows.append(
            f"<tr><td style='text-align:left'>{indent}{name}</td><td style='text-align:left'>{e(r['label'])}</td>"
            f"<td>{e(output)}</td><td>{r['params']:,}</td><td>{r['macs']:,}</td><td>{rf}</td></tr>"
        )
    t = totals(result)
    shapes = f"input N×{e(fmt_shape(result.input_shape))} → output N×{e(fmt_shape(result.output))}"
    title = f"<b>{e(result.net.name)}</b> {shapes}"
    foot = f"{t.params:,} params · {human(t.macs)} MACs · {t.param_mb:.2f} MB of parameters (float32)"
    return (
        f"<div class='netdsl-summary'><p>{title}</p><table><thead><tr>{cells}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table><p>{foot}</p></div>"
    )


def summary(
    path: str | Path | None = None,
    *,
    text: str | None = None,
    depth: int | None = None,
    explain: bool = False,
    **params: Any,
) -> Summary:
    """The dry run of a spec (``netdsl shapes``); raises :class:`SpecError` if it has errors."""
    analysis = _checked(path, text, params)
    assert analysis.shapes is not None
    return Summary(analysis.shapes, depth, explain)


def render(
    path: str | Path | None = None, *, text: str | None = None, depth: int | None = None, **params: Any
) -> graphviz.Digraph:
    """The diagram of a spec (``netdsl render``) as a ``graphviz.Digraph``; Jupyter draws it inline."""
    from netdsl.backends.graphviz import RenderOptions, to_digraph

    analysis = _checked(path, text, params)
    assert analysis.shapes is not None
    return to_digraph(analysis.shapes, RenderOptions(depth=depth))
