"""``netdsl layers [NAME]``: the registry, browsable. Lists every kind, or documents one.

Everything printed comes from the :class:`~netdsl.registry.LayerKind` itself (its
``doc``, schema field descriptions, positional order, aliases, arity, family, and
the first docstring line of its shape and cost rules), so built-ins and plugins
are documented the same way and the text cannot drift from the code. No torch.
"""

from __future__ import annotations

import argparse
import sys
import types
from collections.abc import Callable
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic.fields import FieldInfo

from netdsl.cli.options import plugin_option
from netdsl.errors import did_you_mean
from netdsl.layers import FAMILIES, REGISTRY, LayerKind
from netdsl.lower.expr import show

DESCRIPTION = (
    "List every registered layer kind with its origin, or show one kind's parameters, defaults and documentation."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", metavar="NAME")
    plugin_option(p)


def first_line(text: str | None) -> str:
    """The first non-empty line of a docstring, stripped; empty if there is none."""
    for line in (text or "").strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def rule_summary(rule: Callable[..., Any] | None) -> str:
    """A rule's one-line summary: its docstring's first line."""
    return first_line(getattr(rule, "__doc__", None)) if rule is not None else ""


def type_name(tp: Any) -> str:
    """A field type as a spec writer reads it: ``int | (int, int)``, ``'same' | 'valid'``, ``float ≥ 0``."""
    origin = get_origin(tp)
    if origin is Annotated:
        return type_name(get_args(tp)[0])
    if origin in (Union, types.UnionType):
        parts: list[str] = []
        for arg in get_args(tp):
            name = type_name(arg)
            if name not in parts:
                parts.append(name)
        return " | ".join(parts)
    if origin is Literal:
        return " | ".join(show(a) for a in get_args(tp))
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"({type_name(args[0])}, ...)"
        return "(" + ", ".join(type_name(a) for a in args) + ("," if len(args) == 1 else "") + ")"
    if tp is type(None):
        return "none"
    return tp.__name__ if isinstance(tp, type) else str(tp)


def _bounds(f: FieldInfo) -> str:
    """Numeric bounds declared with ``Field(ge=..., gt=..., le=..., lt=...)``."""
    marks = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
    out = []
    for m in f.metadata:
        for attr, sym in marks.items():
            value = getattr(m, attr, None)
            if value is not None:
                out.append(f"{sym} {value}")
    return " " + ", ".join(out) if out else ""


def _default(f: FieldInfo) -> str:
    if f.is_required():
        return "required"
    return "none" if f.default is None else show(f.default)


def usage(kind: LayerKind) -> str:
    """``conv2d(out_channels, kernel_size, stride=1, ...)``: positional parameters first, in order."""
    fields = kind.schema.model_fields
    order = [*kind.positional, *(n for n in fields if n not in kind.positional)]
    args = ", ".join(n if fields[n].is_required() else f"{n}={_default(fields[n])}" for n in order)
    call = f"{kind.name}({args})" if args else kind.name
    return f"{call} {{ path; path; ... }}" if kind.is_merge else call


def arity(kind: LayerKind) -> str:
    """``1``, ``2 or more``, ``2 to 4``."""
    lo, hi = kind.inputs
    if hi is None:
        return f"{lo} or more (one per path)"
    return str(lo) if lo == hi else f"{lo} to {hi}"


def describe(kind: LayerKind) -> str:
    """The full ``netdsl layers NAME`` text of one kind."""
    lines = [f"{kind.name}: {kind.doc}", ""]
    facts = [
        ("origin", kind.origin),
        ("family", kind.family),
        ("usage", usage(kind)),
        (
            "positional",
            ", ".join(kind.positional) + " (in this order; the rest by keyword)"
            if kind.positional
            else "none (all arguments by keyword)",
        ),
        ("aliases", ", ".join(f"{a} = {n}" for a, n in sorted(kind.aliases.items())) or "none"),
        ("inputs", arity(kind)),
        ("shape", rule_summary(kind.shape) or "(the shape rule has no docstring)"),
        ("cost", rule_summary(kind.cost) or "(the cost rule has no docstring)"),
    ]
    if kind.windows is not None:
        facts.append(("window", "sliding window: tracked in receptive field, jump and --explain"))
    lines += [f"  {k + ':':<12}{v}" for k, v in facts]
    fields = kind.schema.model_fields
    if not fields:
        return "\n".join([*lines, "", "parameters: none", ""])
    rows = [(n, type_name(f.annotation) + _bounds(f), _default(f), f.description or "") for n, f in fields.items()]
    head = ("name", "type", "default", "description")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(3)]
    lines += ["", "parameters:"]
    for r in [head, *rows]:
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r[:3], widths, strict=True)) + "  " + r[3])
    return "\n".join(lines) + "\n"


def listing() -> str:
    """Every kind, grouped by family, with its origin and one-line doc."""
    kinds = list(REGISTRY)
    width = max(len(k.name) for k in kinds)
    owidth = max(len(k.origin) for k in kinds)
    lines = []
    for family in FAMILIES:
        members = [k for k in kinds if k.family == family]
        if not members:
            continue
        lines.append(f"{family}:")
        lines += [f"  {k.name:<{width}}  {k.origin:<{owidth}}  {first_line(k.doc)}" for k in members]
    from netdsl.layers.plugins import loaded_plugins

    plugins = loaded_plugins()
    builtin = sum(k.origin == "built-in" for k in kinds)
    lines += ["", f"{len(kinds)} layer kinds: {builtin} built-in, {len(kinds) - builtin} from plugins."]
    for p in plugins:
        libs = f"; block library {', '.join(p.libraries)}" if p.libraries else ""
        lines.append(f"  plugin {p.name} ({p.how}): {', '.join(p.kinds) or 'no layer kinds'}{libs}")
    lines.append("`netdsl layers NAME` shows a kind's parameters.")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    if args.name is None:
        sys.stdout.write(listing())
        return 0
    kind = REGISTRY.get(args.name)
    if kind is None:
        hint = did_you_mean(args.name, REGISTRY.names())
        print(f"netdsl layers: error: unknown layer kind `{args.name}`", file=sys.stderr)
        print(f"  hint: {hint or 'run `netdsl layers` for the list'}", file=sys.stderr)
        return 1
    sys.stdout.write(describe(kind))
    return 0
