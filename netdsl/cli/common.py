"""Shared plumbing of the subcommands: options → values, plugins, diagnostics, dispatch."""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Any

from netdsl.errors import Diagnostic, format_diagnostics, printable
from netdsl.limits import Limits
from netdsl.lower.expr import Value


class UsageError(Exception):
    """A command-line mistake (exit code 2)."""


def parse_value(text: str) -> Value:
    """A --set value, read as a spec expression (:mod:`netdsl.cli.values`). Never eval'd."""
    from netdsl.cli.values import parse_value as read

    return read(text)


def parse_overrides(items: list[str]) -> dict[str, Value]:
    out: dict[str, Value] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise UsageError(f"--set expects NAME=VALUE, got {item!r}")
        out[name.strip()] = parse_value(value)
    return out


def parse_input(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    if not re.fullmatch(r"\d+(x\d+){0,2}", text.strip()):
        raise UsageError(f"--input expects CxHxW, CxL or F (positive integers), got {text!r}")
    dims = tuple(int(d) for d in text.strip().split("x"))
    if any(d < 1 for d in dims):
        raise UsageError(f"--input dimensions must be positive, got {text!r}")
    return dims


def use_color(args: argparse.Namespace, stream: Any = None) -> bool:
    # The stream is looked up at call time: a default bound at import would outlive a replaced sys.stderr.
    stream = sys.stderr if stream is None else stream
    return not getattr(args, "no_color", False) and "NO_COLOR" not in os.environ and stream.isatty()


def report(diags: list[Diagnostic], sources: dict[str, str], args: argparse.Namespace) -> None:
    """Print diagnostics to stderr, compiler style."""
    if diags:
        print(format_diagnostics(diags, sources, use_color(args)), file=sys.stderr)


def load_plugins(args: argparse.Namespace) -> int | None:
    """Load plugins named by --plugin / NETDSL_PLUGINS / entry points; an exit code on failure."""
    from netdsl.layers.plugins import PluginError
    from netdsl.layers.plugins import load_plugins as load

    try:
        load(getattr(args, "plugin", []) or [])
    except PluginError as err:
        print(f"netdsl: error: {printable(str(err))}", file=sys.stderr)
        return 3
    return None


def limits_from(args: argparse.Namespace) -> Limits:
    """The limits of this run: defaults, then NETDSL_* variables, then the --max-…/--timeout options."""
    given = {k.removeprefix("limit_"): v for k, v in vars(args).items() if k.startswith("limit_")}
    try:
        return Limits.from_env(**given)
    except ValueError as err:  # a malformed NETDSL_* variable
        raise UsageError(str(err)) from None
