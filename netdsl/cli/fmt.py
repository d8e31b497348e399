"""``netdsl fmt [--check] [--diff] PATH...``: rewrite specs in the canonical layout (:mod:`netdsl.formatter`)."""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

DESCRIPTION = (
    "Format .net specs in the canonical layout: indentation by brackets, spacing around operators and after "
    "commas, one statement per line except short `;` groups, at most one blank line; comments are kept. "
    "Directories are searched for *.net files; `-` formats standard input to standard output. A file that does "
    "not parse is left untouched and reported (exit 1). With --check nothing is written: exit 1 and a diff if "
    "any file would change."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help=".net files or directories (searched for *.net), or -")
    p.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 (and print a diff) if a file would change"
    )
    p.add_argument("--diff", action="store_true", help="print a unified diff instead of rewriting files")
    p.add_argument("--quiet", "-q", action="store_true", help="print only errors and diffs")


def spec_files(paths: list[str]) -> Iterator[Path]:
    """The files to format: each file named, and the ``*.net`` files under each directory (hidden ones skipped)."""
    seen: set[Path] = set()
    for name in paths:
        path = Path(name)
        found = [path]
        if path.is_dir():
            found = []
            for folder, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found += [Path(folder, f) for f in sorted(files) if f.endswith(".net") and not f.startswith(".")]
        for f in found:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                yield f


def unified_diff(before: str, after: str, name: str) -> str:
    """The change as a unified diff (with git's marker for a last line without a newline)."""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"{name} (original)", f"{name} (formatted)"
    )
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def _report_error(name: str, text: str, err: Exception) -> None:
    from netdsl.errors import format_diagnostic
    from netdsl.formatter import FormatError

    if isinstance(err, FormatError) and err.diagnostic is not None:
        d = err.diagnostic
        span = d.span
        if span is not None:
            from dataclasses import replace

            d = replace(d, span=replace(span, file=name))
        print(format_diagnostic(d, {name: text}), file=sys.stderr)
    elif isinstance(err, FormatError):
        print(f"{name}:{err.line}:{err.column}: error: {err.message}", file=sys.stderr)
    else:
        print(f"{name}: error: {err}", file=sys.stderr)


def _format_one(path: Path) -> tuple[str, str] | None:
    """(before, after) for one file, or None after reporting why it cannot be formatted."""
    from netdsl.formatter import FormatError, format_text

    name = str(path)
    try:
        text = sys.stdin.read() if name == "-" else path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = "not UTF-8 text" if isinstance(err, UnicodeDecodeError) else (err.strerror or str(err))
        print(f"{name}: error: {reason}", file=sys.stderr)
        return None
    try:
        return text, format_text(text)
    except FormatError as err:
        _report_error(name, text, err)
        return None


def _rewrite(path: Path, text: str) -> None:
    """Replace the file atomically, through a symbolic link (not over it), keeping its permissions."""
    from netdsl.atomic import write_atomic

    real = os.path.realpath(path)
    mode = os.stat(real).st_mode & 0o7777
    write_atomic(real, text)
    os.chmod(real, mode)


def run(args: argparse.Namespace) -> int:
    status, changed, unchanged = 0, 0, 0
    write = not (args.check or args.diff)
    for path in spec_files(args.paths):
        result = _format_one(path)
        if result is None:
            status = 1
            continue
        before, after = result
        if str(path) == "-" and write:
            sys.stdout.write(after)
        if before == after:
            unchanged += 1
            continue
        changed += 1
        if not write:
            sys.stdout.write(unified_diff(before, after, str(path)))
            status = 1 if args.check else status
        elif str(path) != "-":
            _rewrite(path, after)
            if not args.quiet:
                print(f"reformatted {path}", file=sys.stderr)
    if not args.quiet:
        verb = "reformatted" if write else "would be reformatted"
        print(f"{changed} file(s) {verb}, {unchanged} already formatted", file=sys.stderr)
    return status
