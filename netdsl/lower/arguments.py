"""Binding a call's arguments: a layer's to its parameter schema, a block's to its parameters.

Both follow Python's rules (positional first, then keywords; no argument twice)
and report each mistake once, at the offending argument, with the signature or a
did-you-mean hint. Layer values are validated by the kind's pydantic schema,
whose errors are translated into one sentence per argument ("must be an integer
or a pair like (3, 3), got 3.5") instead of pydantic's one line per union member.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from pydantic import ValidationError

from netdsl.errors import Abort, Span, did_you_mean
from netdsl.layers import LayerKind, Params
from netdsl.lower.expr import Value, show, type_name
from netdsl.syntax import tree as S


class Report(Protocol):
    """Records one diagnostic (in the caller's block chain)."""

    def __call__(self, code: str, message: str, span: Span | None, **kw: Any) -> None: ...


Evaluate = Callable[[S.Expr, Mapping[str, Value] | None], Value]


def block_signature(block: S.BlockDef) -> str:
    """``Bottleneck(planes, stride=1)`` as written in the definition (defaults shown as `=…`)."""
    parts = [p.name if p.default is None else f"{p.name}=…" for p in block.params]
    return f"{block.name}({', '.join(parts)})"


def layer_signature(kind: LayerKind) -> str:
    """``conv2d(out_channels, kernel_size, stride=1, …)`` from the kind's schema."""
    parts = []
    for name, f in kind.schema.model_fields.items():
        parts.append(name if f.is_required() else f"{name}={show(f.default) if f.default is not None else 'none'}")
    return f"{kind.name}({', '.join(parts)})"


def _positional(args: tuple[S.Arg, ...]) -> int:
    """How many of a call's arguments are positional (for the messages that count them)."""
    return sum(a.name is None for a in args)


def bind_block(
    block: S.BlockDef,
    args: tuple[S.Arg, ...],
    overrides: Mapping[str, Value],
    span: Span,
    report: Report,
    evaluate: Evaluate,
) -> dict[str, Value]:
    """Parameter values of one use of ``block``; defaults may read earlier parameters."""
    names = [p.name for p in block.params]
    given: dict[str, Value] = {}
    seen_kw = False
    npos = 0
    for a in args:
        if a.name is None:
            if seen_kw:
                report(
                    "E106",
                    "a positional argument follows a keyword argument",
                    a.span,
                    hint=f"{block.name} takes {block_signature(block)}",
                )
                raise Abort()
            if npos >= len(names):
                plural = "s" if len(names) != 1 else ""
                report(
                    "E105",
                    f"block `{block.name}` takes {len(names)} argument{plural}, got {_positional(args)}",
                    a.span,
                    hint=f"its signature: {block_signature(block)}",
                )
                raise Abort()
            key = names[npos]
            npos += 1
        else:
            seen_kw = True
            key = a.name
            if key not in names:
                hint = did_you_mean(key, names) or f"its signature: {block_signature(block)}"
                report("E104", f"block `{block.name}` has no parameter `{key}`", a.span, hint=hint)
                raise Abort()
        if key in given:
            report("E109", f"argument `{key}` given twice", a.span, hint=f"its signature: {block_signature(block)}")
            raise Abort()
        given[key] = evaluate(a.value, None)
    env: dict[str, Value] = {}
    for p in block.params:
        if p.name in overrides:
            env[p.name] = overrides[p.name]
        elif p.name in given:
            env[p.name] = given[p.name]
        elif p.default is not None:
            env[p.name] = evaluate(p.default, env)
        else:
            if block.is_net:
                msg = f"net `{block.name}` needs a value for its parameter `{p.name}`"
                hint = f"give it a default in the file, or pass --set {p.name}=VALUE"
            else:
                msg = f"block `{block.name}` is missing argument `{p.name}`"
                hint = f"its signature: {block_signature(block)}"
            report("E108", msg, span, hint=hint)
            raise Abort()
    return env


def bind_layer(kind: LayerKind, args: tuple[S.Arg, ...], at: Span, report: Report, evaluate: Evaluate) -> Params:
    """Validated parameters of one layer call (``at`` is the call, for missing arguments)."""
    fields = kind.schema.model_fields
    values: dict[str, Value] = {}
    spans: dict[str, Span] = {}
    npos = 0
    seen_kw = False
    for a in args:
        if a.name is None:
            if seen_kw:
                report(
                    "E106",
                    "a positional argument follows a keyword argument",
                    a.span,
                    hint=layer_signature(kind),
                )
                raise Abort()
            if npos >= len(kind.positional):
                n = len(kind.positional)
                names = f" ({', '.join(kind.positional)})" if n else ""
                report(
                    "E105",
                    f"`{kind.name}` takes {n} positional argument{'s' if n != 1 else ''}{names}, "
                    f"got {_positional(args)}",
                    a.span,
                    hint=f"pass the others by keyword: {layer_signature(kind)}",
                )
                raise Abort()
            key = kind.positional[npos]
            npos += 1
        else:
            seen_kw = True
            key = kind.aliases.get(a.name, a.name)
            if key not in fields:
                hint = did_you_mean(a.name, [*fields, *kind.aliases]) or f"its arguments: {layer_signature(kind)}"
                report("E104", f"`{kind.name}` has no argument `{a.name}`", a.span, hint=hint)
                raise Abort()
        if key in values:
            report("E109", f"argument `{key}` given twice", a.span, hint=_alias_note(kind, key))
            raise Abort()
        values[key] = evaluate(a.value, None)
        spans[key] = a.span
    # Blocks repeat the same layer calls many times: validate each distinct call once. The key tells
    # `true` from `1` and `1.0` (equal in Python, not to a strict schema) by the values' repr.
    memo = (kind.schema, tuple((k, repr(v)) for k, v in values.items()))
    cached = _VALIDATED.get(memo)
    if cached is not None:
        return cached
    try:
        params = kind.schema(**values)
    except ValidationError as err:
        _report_validation(kind, err, values, spans, at, report)
        raise Abort() from None
    if len(_VALIDATED) >= 4096:
        _VALIDATED.clear()
    _VALIDATED[memo] = params
    return params


_VALIDATED: dict[tuple[type[Params], tuple[tuple[str, str], ...]], Params] = {}  # frozen, so safe to share


def _alias_note(kind: LayerKind, key: str) -> str | None:
    aliases = [a for a, k in kind.aliases.items() if k == key]
    return f"`{aliases[0]}` is short for `{key}`" if aliases else None


_TYPE_WORDS = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "a string",
    "tuple_type": "a tuple",
}


def _branch_words(branch: str, etype: str, msg: str) -> str:
    """What one member of a union type accepts, in words."""
    if etype == "literal_error":
        return msg.removeprefix("Input should be ")
    if branch.startswith("tuple["):
        n = branch.count(",") + 1
        return {1: "a 1-tuple like (3,)", 2: "a pair like (3, 3)"}.get(n, f"a tuple of {n} values")
    return _TYPE_WORDS.get(etype, branch)


def _report_validation(
    kind: LayerKind,
    err: ValidationError,
    values: Mapping[str, Value],
    spans: Mapping[str, Span],
    at: Span,
    report: Report,
) -> None:
    """One diagnostic per offending argument (pydantic reports each member of a union separately)."""
    by_field: dict[str, list[Any]] = {}
    for e in err.errors(include_url=False):
        by_field.setdefault(str(e["loc"][0]) if e["loc"] else "", []).append(e)
    for name, errors in by_field.items():
        if any(e["type"] == "missing" for e in errors):
            report("E108", f"`{kind.name}` is missing argument `{name}`", at, hint=layer_signature(kind))
            continue
        where = spans.get(name, at)
        custom = [e for e in errors if e["type"] == "value_error"]
        if custom or not name:  # a validator's own sentence ("kernel_size must be ≥ 1, got 0")
            msg = str((custom or errors)[0]["msg"]).removeprefix("Value error, ")
            report("E107", f"`{kind.name}`: {msg}", where)
            continue
        wanted: list[str] = []
        for e in errors:
            branch = str(e["loc"][-1]) if len(e["loc"]) > 1 else ""
            words = _branch_words(branch, e["type"], str(e["msg"]))
            if words not in wanted:
                wanted.append(words)
        value = values.get(name)
        expected = ", ".join(wanted[:-1]) + f" or {wanted[-1]}" if len(wanted) > 1 else wanted[0]
        report(
            "E107",
            f"`{kind.name}` argument `{name}` must be {expected}, got {type_name(value)} {show(value)}",
            where,
            hint=_value_hint(value, errors) or _describe_field(kind, name),
        )


def _describe_field(kind: LayerKind, name: str) -> str | None:
    field = kind.schema.model_fields.get(name)
    return f"`{name}`: {field.description}" if field is not None and field.description else None


def _value_hint(value: Value | None, errors: list[Any]) -> str | None:
    if isinstance(value, float) and value.is_integer():
        return "`/` always gives a float; use `//` for integer division"
    if isinstance(value, int) and not isinstance(value, bool) and any(e["type"] == "bool_type" for e in errors):
        return "write `true` or `false`"
    if isinstance(value, str):
        options = [
            o.strip(" '")
            for e in errors
            if e["type"] == "literal_error"
            for o in str(e["msg"]).removeprefix("Input should be ").replace(" or ", ",").split(",")
        ]
        return did_you_mean(value, options)
    return None
