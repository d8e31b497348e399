"""``netdsl shapes SPEC``: the dry run. Static shapes, parameters and MACs per layer; no torch."""

from __future__ import annotations

import argparse
import sys

from netdsl import report as fmt
from netdsl.atomic import write_atomic
from netdsl.commands.common import UsageError, parse_input, parse_overrides, report
from netdsl.pipeline import analyze


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
    if args.format == "json":
        text = fmt.to_json(result.shapes, args.depth, args.explain, args.batch)
    elif args.format == "csv":
        text = fmt.to_csv(result.shapes, args.depth)
    else:
        text = fmt.table(result.shapes, args.depth, args.explain, args.batch, markdown=args.format == "markdown")
    if args.output:
        write_atomic(args.output, text)
    else:
        sys.stdout.write(text)
    return 0
