"""Lines per shipped spec: the spec file plus every library block it uses.

Counts non-blank, non-comment lines. A spec's share of the block library is the
definitions of the blocks its net actually instantiates (both arms of shape-
dependent `if`s included), so the figure is what a reader must read to know the net.
"""

from __future__ import annotations

import sys
from pathlib import Path

from netdsl.imports import load
from netdsl.lower import ir
from netdsl.pipeline import analyze


def _code_lines(text: str, first: int = 1, last: int | None = None) -> int:
    lines = text.splitlines()[first - 1 : last]
    return sum(1 for line in lines if line.strip() and not line.strip().startswith("#"))


def count(spec: Path) -> tuple[int, int]:
    """(lines in the spec file, lines of library blocks it uses)."""
    result = analyze(spec)
    if result.net is None:
        raise SystemExit(f"{spec}: does not check")
    used = {n.block for n in ir.walk(result.net.body) if isinstance(n, ir.ScopeNode) and n.block}
    own = _code_lines(spec.read_text())
    lib = 0
    for module in load(spec).modules[1:]:
        text = Path(module.file).read_text()
        for block in module.blocks:
            if block.name in used:
                lib += _code_lines(text, block.span.line, block.span.end_line)
    return own, lib


def main(paths: list[str]) -> None:
    specs = [Path(p) for p in paths] or sorted(Path("specs").glob("*.net"))
    print(f"{'spec':<22}{'file':>5}{'library':>9}{'total':>7}")
    for spec in specs:
        own, lib = count(spec)
        print(f"{spec.stem:<22}{own:>5}{lib:>9}{own + lib:>7}")


if __name__ == "__main__":
    main(sys.argv[1:])
