"""Formatting the shape pass's result: table, markdown, CSV and JSON for ``netdsl shapes``.

Conventions (stated in the footer and in the JSON): MACs count the
multiply-accumulates of convolutions and linear layers only (bias, normalisation,
activations and pooling are not counted), FLOPs = 2 × MACs: the convention of
torchvision's published GFLOPS and fvcore. Memory assumes float32.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from netdsl.errors import printable, show_name
from netdsl.shapes.inference import NodeInfo, ShapeResult, fmt_shape
from netdsl.units import count

JSON_SCHEMA_VERSION = 1
BYTES = 4  # float32


@dataclass(frozen=True)
class Totals:
    """Footer figures for a net at a batch size."""

    params: int
    trainable: int
    buffers: int
    macs: int
    flops: int
    param_mb: float
    activation_mb: float
    training_mb: float
    batch: int


def totals(result: ShapeResult, batch: int = 1) -> Totals:
    cost = result.total
    acts = sum(_numel(n.output) for n in result.layers() if n.output is not None) * batch * BYTES
    param_bytes = (cost.params + cost.buffers) * BYTES
    # Training keeps forward activations for backward and their gradients (×2), plus
    # weights, gradients and two Adam moments (×4 parameters).
    training = 2 * acts + 4 * cost.params * BYTES + cost.buffers * BYTES
    mb = 1024 * 1024
    return Totals(
        cost.params,
        cost.params,
        cost.buffers,
        cost.macs,
        2 * cost.macs,
        param_bytes / mb,
        acts / mb,
        training / mb,
        batch,
    )


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def human(n: int) -> str:
    """``4.09G``: counts in tables and summaries."""
    return count(n)


def visible(result: ShapeResult, depth: int | None) -> list[NodeInfo]:
    """Rows to show: everything, or only modules no deeper than ``depth`` (deeper ones fold into their block)."""
    rows = [n for n in result.nodes if n.kind != "net"]
    if depth is None:
        return rows
    return [n for n in rows if n.depth <= depth]


def _folded(rows: list[NodeInfo], depth: int | None) -> list[tuple[NodeInfo, int, NodeInfo]]:
    """Fold runs of identical sibling blocks into one row marked ×N (only when depth-limited).

    Each entry is (first, count, last): shapes and costs are the first's (all equal), the
    receptive field the last's (it grows along the run).
    """
    out: list[tuple[NodeInfo, int, NodeInfo]] = []
    for n in rows:
        prev = out[-1][0] if out else None
        if (
            depth is not None
            and prev is not None
            and n.is_scope
            and prev.is_scope
            and n.depth == depth
            and prev.parent == n.parent
            and prev.label == n.label
            and prev.inputs == n.inputs
            and prev.output == n.output
            and prev.cost == n.cost
        ):
            out[-1] = (prev, out[-1][1] + 1, n)
        else:
            out.append((n, 1, n))
    return out


def _rf(n: NodeInfo) -> str:
    return "×".join(map(str, n.rf)) if n.rf else "-"


def _jump(n: NodeInfo) -> str:
    return "×".join(map(str, n.jump)) if n.jump else "-"


def rows_for(result: ShapeResult, depth: int | None = None, explain: bool = False) -> list[dict[str, Any]]:
    """The table's rows as plain dicts (also the JSON ``layers`` entries)."""
    out = []
    for n, times, last in _folded(visible(result, depth), depth):
        out.append({
            "name": n.id, "local_name": n.name, "depth": n.depth, "kind": n.kind, "label": n.label,
            "block": n.block, "repeat": times,
            "input": [list(s) for s in n.inputs], "output": list(n.output) if n.output else None,
            "params": n.cost.params * times, "buffers": n.cost.buffers * times, "macs": n.cost.macs * times,
            "receptive_field": list(last.rf) if last.rf else None, "jump": list(last.jump) if last.jump else None,
            "explain": list(n.explain) if explain else [],
            "line": n.span.line, "column": n.span.col, "file": n.span.file,
        })  # fmt: skip
    return out


def _footer_lines(t: Totals) -> list[str]:
    return [
        f"Total params: {t.params:,}",
        f"Trainable params: {t.trainable:,}",
        f"Non-trainable buffers: {t.buffers:,}",
        f"MACs: {t.macs:,} ({human(t.macs)})   FLOPs: {t.flops:,} ({human(t.flops)})",
        "  (MACs of conv and linear layers; bias, normalisation, activations and pooling not counted; "
        "FLOPs = 2 × MACs, as torchvision and fvcore count)",
        f"Parameter memory: {t.param_mb:.2f} MB (float32, params + buffers)",
        f"Forward activations (batch {t.batch}): {t.activation_mb:.2f} MB",
        f"Training estimate (batch {t.batch}): {t.training_mb:.2f} MB "
        "(activations + their gradients, weights, gradients, 2 Adam moments)",
    ]


def table(
    result: ShapeResult, depth: int | None = None, explain: bool = False, batch: int = 1, markdown: bool = False
) -> str:
    """The human table, tree-indented by block, like torchinfo."""
    header = ["Layer (module name)", "Kind", "Output", "Params", "MACs", "RF", "Jump"]
    body: list[list[str]] = []
    extra: list[list[str]] = []
    for r, (n, times, last) in zip(
        rows_for(result, depth, explain), _folded(visible(result, depth), depth), strict=False
    ):
        indent = "" if markdown else "  " * (n.depth - 1)
        # Full ids (markdown) such as `3.5` read like floats: shown as `3.5 (module 3, child 5)`.
        name = show_name(n.id) if markdown else (n.name or n.id)
        if times > 1:
            name = f"{name} … {show_name(last.id) if markdown else last.name} (×{times})"
        body.append(
            [
                printable(indent + name),
                printable(n.label),
                "N×" + fmt_shape(n.output),
                f"{r['params']:,}",
                f"{r['macs']:,}",
                _rf(last),
                _jump(last),
            ]
        )
        extra.append([printable(e) for e in n.explain] if explain else [])
    net = result.net
    title = f"{net.name}  input N×{fmt_shape(result.input_shape)}  →  output N×{fmt_shape(result.output)}"
    foot = _footer_lines(totals(result, batch))
    if markdown:
        lines = [f"**{title}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for row in body:
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
        return "\n".join([*lines, "", *(f"- {f.strip()}" for f in foot)]) + "\n"
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(header)]
    right = {3, 4}

    def fmt(row: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=False))
        ).rstrip()

    rule = "─" * len(fmt(header))
    lines = [title, rule, fmt(header), rule]
    for row, ex in zip(body, extra, strict=False):
        lines.append(fmt(row))
        lines.extend(" " * 6 + "· " + e for e in ex)
    return "\n".join([*lines, rule, *foot]) + "\n"


def to_json(result: ShapeResult, depth: int | None = None, explain: bool = False, batch: int = 1) -> str:
    """Stable machine-readable form (schema documented in docs/shapes-json.md)."""
    t = totals(result, batch)
    doc = {
        "schema": JSON_SCHEMA_VERSION,
        "net": result.net.name,
        "file": result.net.file,
        "params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in result.net.params},
        "input": list(result.input_shape),
        "output": list(result.output) if result.output else None,
        "batch": batch,
        "layers": rows_for(result, depth, explain),
        "totals": {
            "params": t.params,
            "trainable_params": t.trainable,
            "buffers": t.buffers,
            "macs": t.macs,
            "flops": t.flops,
            "param_mb": round(t.param_mb, 4),
            "activation_mb": round(t.activation_mb, 4),
            "training_mb": round(t.training_mb, 4),
        },
        "conventions": {
            "macs": "conv and linear multiply-accumulates; bias/norm/activation/pool not counted",
            "flops": "2 * macs",
            "dtype": "float32",
            "shape": "batch dimension excluded",
        },
        "diagnostics": [d.to_dict() for d in result.diagnostics],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def to_csv(result: ShapeResult, depth: int | None = None) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["name", "kind", "label", "depth", "output", "params", "buffers", "macs", "receptive_field", "jump"])
    for r in rows_for(result, depth):
        w.writerow(
            [
                r["name"],
                r["kind"],
                r["label"],
                r["depth"],
                "x".join(map(str, r["output"] or [])),
                r["params"],
                r["buffers"],
                r["macs"],
                "x".join(map(str, r["receptive_field"] or [])),
                "x".join(map(str, r["jump"] or [])),
            ]
        )
    return buf.getvalue()
