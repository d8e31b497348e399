"""``netdsl check SPEC...``: full validation, one summary line per valid file."""

from __future__ import annotations

import argparse
import json
import sys

from netdsl.cli.common import parse_input, parse_overrides, report
from netdsl.cli.options import spec_options
from netdsl.errors import printable
from netdsl.pipeline import analyze
from netdsl.units import count as human  # (not shapes.report: its csv and json are not needed here)

DESCRIPTION = (
    "Validate each spec fully: syntax, names, blocks, arguments and static shape "
    "inference. A spec that checks clean will build. Exit 1 if any spec has errors."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("specs", nargs="+", metavar="SPEC", help=".net files")
    p.add_argument("--warnings-as-errors", "-W", action="store_true", help="exit 1 on warnings too")
    p.add_argument("--format", choices=["text", "json"], default="text", help="diagnostic format")
    spec_options(p)


def run(args: argparse.Namespace) -> int:
    overrides = parse_overrides(args.overrides)
    shape = parse_input(args.input)
    status = 0
    docs = []
    for spec in args.specs:
        result = analyze(spec, overrides, shape)
        failed = not result.ok or (args.warnings_as_errors and result.warnings)
        status = 1 if failed else status
        if args.format == "json":
            docs.append({"file": spec, "ok": not failed, "diagnostics": [d.to_dict() for d in result.diagnostics]})
            continue
        report(result.diagnostics, result.sources, args)
        if result.ok and result.shapes is not None and result.net is not None:
            t = result.shapes.total
            out = "×".join(map(str, result.shapes.output or ()))
            warn = f", {len(result.warnings)} warning(s)" if result.warnings else ""
            print(
                f"{printable(spec)}: ok: net {result.net.name}, {len(result.shapes.layers())} layers, "
                f"{t.params:,} params, {human(t.macs)} MACs, output N×{out}{warn}"
            )
        else:
            print(f"{printable(spec)}: {len(result.errors)} error(s)", file=sys.stderr)
    if args.format == "json":
        print(json.dumps(docs, indent=2))
    return status
