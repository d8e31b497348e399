"""``netdsl shapes SPEC``: the dry run. Static shapes, parameters and MACs per layer; no torch."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from netdsl.atomic import write_atomic
from netdsl.cli.common import UsageError, parse_input, parse_overrides, report
from netdsl.cli.options import spec_options
from netdsl.pipeline import analyze
from netdsl.shapes import ShapeResult
from netdsl.shapes import report as fmt

DESCRIPTION = (
    "Static shape inference: a per-layer table of output shapes, parameters, MACs, "
    "receptive field and jump, with totals and memory estimates. Never imports torch."
)


#: Output format → writer (a new format is one writer in netdsl/shapes/report.py plus one row here).
FORMATS: dict[str, Callable[[ShapeResult, argparse.Namespace], str]] = {
    "table": lambda r, a: fmt.table(r, a.depth, a.explain, a.batch),
    "json": lambda r, a: fmt.to_json(r, a.depth, a.explain, a.batch),
    "markdown": lambda r, a: fmt.table(r, a.depth, a.explain, a.batch, markdown=True),
    "csv": lambda r, a: fmt.to_csv(r, a.depth),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--batch", type=int, default=1, metavar="N", help="batch size for activation memory (default 1)")
    p.add_argument("--depth", type=int, metavar="D", help="fold modules deeper than D into their block's row")
    p.add_argument("--explain", action="store_true", help="show the arithmetic behind every spatial size")
    p.add_argument("--format", choices=list(FORMATS), default="table", help="output format (default table)")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE (atomically) instead of stdout")
    spec_options(p)


def run(args: argparse.Namespace) -> int:
    if args.batch < 1:
        raise UsageError("--batch must be at least 1")
    if args.depth is not None and args.depth < 1:
        raise UsageError("--depth must be at least 1")
    result = analyze(args.spec, parse_overrides(args.overrides), parse_input(args.input))
    if not result.ok or result.shapes is None:
        report(result.diagnostics, result.sources, args)
        return 1
    if args.format != "json":
        report(result.warnings, result.sources, args)
    text = FORMATS[args.format](result.shapes, args)
    if args.output:
        write_atomic(args.output, text)
    else:
        sys.stdout.write(text)
    return 0
