"""``netdsl render SPEC``: draw the net with graphviz as SVG, PNG, PDF or DOT source."""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from netdsl.atomic import write_atomic
from netdsl.cli.common import UsageError, parse_input, parse_overrides, report
from netdsl.cli.options import spec_options
from netdsl.pipeline import analyze

DESCRIPTION = (
    "Draw the net with graphviz: nodes are layers named as in the spec, edges carry "
    "tensor shapes, blocks are clusters; repeated blocks fold as ×N unless --expand."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("-o", "--output", metavar="OUT", help="output file (default: SPEC name + format suffix)")
    p.add_argument("--format", choices=list(FORMATS), help="default: from OUT's suffix, else svg")
    p.add_argument("--depth", type=int, metavar="D", help="collapse modules deeper than D into one node")
    p.add_argument("--expand", action="store_true", help="draw every repetition instead of folding ×N")
    p.add_argument("--direction", choices=["TB", "LR"], default="TB", help="layout direction (default TB)")
    spec_options(p)


SUFFIXES = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}
INSTALL_HINT = (
    "install graphviz with `sudo apt-get install graphviz` (Debian/Ubuntu; `brew install graphviz` on macOS), "
    "or write the DOT source with --format dot"
)


def output_and_format(spec: str, output: str | None, fmt: str | None) -> tuple[Path, str]:
    """The file to write and its format: --format, else OUT's suffix, else svg; OUT defaults to SPEC's stem."""
    if output is None:
        fmt = fmt or "svg"
        return Path(f"{Path(spec).stem}.{fmt}"), fmt
    suffix = Path(output).suffix.lower()
    if fmt is None:
        if suffix and suffix not in SUFFIXES:
            raise UsageError(f"cannot tell the format of {output!r} from its suffix; pass --format svg|png|pdf|dot")
        fmt = SUFFIXES.get(suffix, "svg")
    return Path(output), fmt


def _missing_dot(fmt: str) -> int:
    print(
        f"netdsl render: error: graphviz's `dot` program is not on PATH; it is needed for --format {fmt}\n"
        f"  hint: {INSTALL_HINT}",
        file=sys.stderr,
    )
    return 1


def run(args: argparse.Namespace) -> int:
    if args.depth is not None and args.depth < 1:
        raise UsageError("--depth must be at least 1")
    out, fmt = output_and_format(args.spec, args.output, args.format)
    if FORMATS[fmt].needs_dot and shutil.which("dot") is None:
        return _missing_dot(fmt)  # before the (slower) analysis: nothing could be written anyway
    result = analyze(args.spec, parse_overrides(args.overrides), parse_input(args.input))
    if not result.ok or result.shapes is None:
        report(result.diagnostics, result.sources, args)
        return 1
    report(result.warnings, result.sources, args)

    from netdsl.backends.graphviz import RenderOptions, to_dot

    source = to_dot(result.shapes, RenderOptions(args.depth, args.expand, args.direction))
    data = FORMATS[fmt].produce(source)
    if data is None:
        return 1
    write_atomic(out, data)
    print(f"wrote {out} ({fmt})")
    return 0


def _dot_source(source: str) -> bytes:
    return source.encode("utf-8")


def _laid_out(fmt: str) -> Callable[[str], bytes | None]:
    """A writer that lays the DOT source out with graphviz's ``dot`` into ``fmt``; None (reported) if dot fails."""

    def write(source: str) -> bytes | None:
        import graphviz

        try:
            data: bytes = graphviz.Source(source).pipe(format=fmt)
        except graphviz.ExecutableNotFound:
            _missing_dot(fmt)
            return None
        except graphviz.CalledProcessError as err:  # a crash inside dot: report it, keep any old output
            detail = (err.stderr or b"").decode("utf-8", "replace").strip()
            print(
                f"netdsl render: error: graphviz `dot` failed (exit {err.returncode})"
                + (f": {detail}" if detail else ""),
                file=sys.stderr,
            )
            return None
        return data

    return write


@dataclass(frozen=True)
class Format:
    """An output format of ``netdsl render``: its producer (DOT source → bytes) and whether it needs ``dot``."""

    produce: Callable[[str], bytes | None]
    needs_dot: bool = True


#: Output format → writer (a new format is one writer plus one row here).
FORMATS: dict[str, Format] = {
    "svg": Format(_laid_out("svg")),
    "png": Format(_laid_out("png")),
    "pdf": Format(_laid_out("pdf")),
    "dot": Format(_dot_source, needs_dot=False),
}
