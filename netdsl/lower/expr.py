"""Evaluating spec expressions: integer/boolean arithmetic on parameters, no Python eval.

Values are Python ``int``, ``float``, ``bool``, ``str`` and tuples of values.
``in`` (the input shape of the enclosing block) is only known after shape
inference, so an expression that reads it raises :class:`NeedsShape`; the
lowering pass keeps such ``if`` conditions for the shape pass to decide.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from netdsl.errors import Span, did_you_mean
from netdsl.limits import MAX_INT, MAX_LIST
from netdsl.memo import IdentityMemo
from netdsl.syntax import tree as S
from netdsl.units import shape_text

Value = int | float | bool | str | tuple[Any, ...]


class EvalError(Exception):
    """An expression cannot be evaluated; carries the offending sub-expression's span."""

    def __init__(self, message: str, span: Span, code: str = "E110", hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.code = code
        self.hint = hint


class UndefinedName(EvalError):
    """A name that is neither a parameter, a ``let`` nor a repeat variable in scope."""

    def __init__(self, name: str, span: Span, hint: str | None):
        super().__init__(f"undefined name `{name}`", span, "E110", hint)
        self.name = name


class NeedsShape(Exception):
    """The expression reads ``in``: it can only be decided by the shape pass."""

    def __init__(self, text: str, span: Span):
        super().__init__(f"`{text}` read outside a shape condition")
        self.text = text  # `in.c` (or `in`)
        self.span = span


@dataclass(frozen=True, slots=True)
class InShape:
    """What ``in`` means inside a condition: the block input's shape (batch excluded)."""

    shape: tuple[int, ...]

    def attr(self, name: str, span: Span) -> Value:
        s = self.shape
        table: dict[str, int | tuple[int, ...]] = {"rank": len(s), "shape": s}
        if s:
            table["c"] = s[0]
        if len(s) == 3:
            table["h"], table["w"] = s[1], s[2]
        if len(s) == 2:
            table["l"] = s[1]
        if name not in table:
            guess = _IN_SYNONYMS.get(name, name.lower())
            has = f"`in` has {', '.join(table)} for an input of shape {shape_text(s)}"
            hint = f"did you mean `in.{guess}`?" if guess in table else has
            # The message names no shape, so a block used at several sizes reports its mistake once.
            raise EvalError(f"`in` has no attribute `{name}`", span, "E111", hint)
        return table[name]


_IN_SYNONYMS = {"channels": "c", "height": "h", "width": "w", "length": "l", "C": "c", "H": "h", "W": "w", "L": "l"}


def _check_int(v: Value, span: Span) -> Value:
    """Refuse results no layer size could ever need: huge integers, infinities, NaN, complex numbers."""
    t = type(v)
    if t is int:  # the common case first: the lowering evaluates thousands of small ints
        if -MAX_INT <= v <= MAX_INT:  # type: ignore[operator]
            return v
    elif t is bool or t is str:
        return v
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_INT:
        raise EvalError(f"integer {v} is too large (limit {MAX_INT})", span, "E112")
    if isinstance(v, float) and not math.isfinite(v):
        raise EvalError(f"the result is {v}, not a finite number", span, "E112")
    if isinstance(v, complex):
        raise EvalError("the result is a complex number (a fractional power of a negative number)", span, "E112")
    if isinstance(v, tuple) and len(v) > MAX_LIST:
        raise EvalError(f"a list of {len(v):,} items is too long (limit {MAX_LIST:,})", span, "E117")
    return v


def _num(v: Value, span: Span, what: str) -> int | float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise EvalError(f"{what} needs numbers, got {type_name(v)} `{show(v)}`", span, "E113")
    return v


def type_name(v: object) -> str:
    """The type of a value as messages name it: int, float, bool, string, tuple."""
    if isinstance(v, bool):
        return "bool"
    return {int: "int", float: "float", str: "string", tuple: "tuple"}.get(type(v), type(v).__name__)


def show(v: object) -> str:
    """A value written as in a spec: ``true``, ``'same'``, ``(1, 7)``."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, tuple):
        return "(" + ", ".join(show(x) for x in v) + ")"
    return str(v)


_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
    "floordiv": operator.floordiv, "mod": operator.mod, "pow": operator.pow,
}  # fmt: skip
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge,
}  # fmt: skip
_INT_CLOSED = frozenset({"add", "sub", "mul"})  # int op int → int, never an error but the size limit
_SYMBOL = {"add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%", "pow": "**"}


_FUNCS = "min, max, abs, int, len"


def _func(name: str, args: list[Value], span: Span) -> Value:
    if name in ("min", "max"):
        items = list(args[0]) if len(args) == 1 and isinstance(args[0], tuple) else args  # min([1, 2]) too
        nums = [_num(a, span, name) for a in items]
        if not nums:
            raise EvalError(f"{name}() needs at least one value", span, "E114")
        return min(nums) if name == "min" else max(nums)
    arity = {"abs": 1, "int": 1, "len": 1}
    if name not in arity:
        hint = did_you_mean(name, ["min", "max", *arity]) or f"functions: {_FUNCS}"
        raise EvalError(f"unknown function `{name}`", span, "E114", hint=hint)
    if len(args) != arity[name]:
        raise EvalError(f"{name}() takes one argument, got {len(args)}", span, "E114")
    if name == "len":
        if not isinstance(args[0], tuple):
            raise EvalError(f"len() needs a list or tuple, got {type_name(args[0])}", span, "E113")
        return len(args[0])
    x = _num(args[0], span, name)
    return abs(x) if name == "abs" else int(x)


def evaluate(e: S.Expr, env: Mapping[str, Value], in_shape: InShape | None = None) -> Value:
    """Evaluate an expression in an environment of parameter values."""
    if isinstance(e, S.Lit):
        return _check_int(e.value, e.span)
    if isinstance(e, S.Name):
        if e.id in env and e.id != "in":
            return env[e.id]
        raise _name_error(e, env, in_shape)
    if isinstance(e, S.BinOp):
        if e.op == "and":
            left = evaluate(e.left, env, in_shape)
            return evaluate(e.right, env, in_shape) if left else left
        if e.op == "or":
            left = evaluate(e.left, env, in_shape)
            return left if left else evaluate(e.right, env, in_shape)
        a, b = evaluate(e.left, env, in_shape), evaluate(e.right, env, in_shape)
        if type(a) is int and type(b) is int:  # the common case (sizes, counts): no checks can fail
            if e.op in _COMPARE:
                return _COMPARE[e.op](a, b)
            if e.op in _INT_CLOSED or (e.op == "pow" and 0 <= b <= 62):  # (a negative power is a float)
                r = _ARITH[e.op](a, b)
                if -MAX_INT <= r <= MAX_INT:
                    return r  # type: ignore[no-any-return]
        return _binop(e, a, b)
    if isinstance(e, S.Unary):
        v = evaluate(e.operand, env, in_shape)
        if e.op == "not":
            return not v
        return -_num(v, e.span, "-")
    if isinstance(e, S.Cond):
        return evaluate(e.then if evaluate(e.test, env, in_shape) else e.orelse, env, in_shape)
    if isinstance(e, S.TupleLit):
        return _check_int(tuple(evaluate(x, env, in_shape) for x in e.items), e.span)
    if isinstance(e, S.Index):
        return _index(e, evaluate(e.obj, env, in_shape), evaluate(e.index, env, in_shape))
    if isinstance(e, S.Attr):
        if isinstance(e.obj, S.Name) and e.obj.id == "in":
            if in_shape is None:
                raise NeedsShape(f"in.{e.name}", e.span)
            return in_shape.attr(e.name, e.span)
        raise EvalError(f"`.{e.name}`: only `in` has attributes", e.span, "E111")
    if isinstance(e, S.Func):
        return _check_int(_func(e.name, [evaluate(a, env, in_shape) for a in e.args], e.span), e.span)
    raise AssertionError(f"unknown expression node {e!r}")


def _name_error(e: S.Name, env: Mapping[str, Value], in_shape: InShape | None) -> Exception:
    """Why a name has no value here (``in`` alone, or a name nobody defined)."""
    if e.id == "in":
        if in_shape is None:
            return NeedsShape("in", e.span)
        return EvalError("`in` is a shape; use `in.c`, `in.h`, `in.w` …", e.span, "E111")
    return UndefinedName(e.id, e.span, _undefined_hint(e.id, env))


def _binop(e: S.BinOp, a: Value, b: Value) -> Value:
    """A binary operation off the integer fast path: comparisons, list concatenation, floats, and its errors."""
    if e.op in _COMPARE:
        try:
            return _COMPARE[e.op](a, b)
        except TypeError:
            raise EvalError(f"cannot compare {type_name(a)} with {type_name(b)}", e.span, "E113") from None
    if e.op == "add" and isinstance(a, tuple) and isinstance(b, tuple):
        if len(a) + len(b) > MAX_LIST:  # checked before concatenating: `a + a` doubling must not allocate
            raise EvalError(f"a list of {len(a) + len(b):,} items is too long (limit {MAX_LIST:,})", e.span, "E117")
        return a + b
    x, y = _num(a, e.left.span, _SYMBOL[e.op]), _num(b, e.right.span, _SYMBOL[e.op])
    if e.op in ("truediv", "floordiv", "mod") and y == 0:
        what = f" (`{e.right.id}` is 0)" if isinstance(e.right, S.Name) else ""
        raise EvalError(f"division by zero{what}", e.span, "E115")
    if e.op == "pow" and (abs(y) > 256 or (isinstance(y, int) and abs(x) > 1 and y > 62)):
        raise EvalError(f"exponent {y} is too large", e.span, "E112")
    try:
        return _check_int(_ARITH[e.op](x, y), e.span)
    except ZeroDivisionError:
        raise EvalError("division by zero (a negative power of 0)", e.span, "E115") from None
    except (OverflowError, ValueError) as err:
        raise EvalError(f"arithmetic error: {err}", e.span, "E112") from None


def _index(e: S.Index, obj: Value, idx: Value) -> Value:
    if not isinstance(obj, tuple) or isinstance(idx, bool) or not isinstance(idx, int):
        raise EvalError(f"cannot index {type_name(obj)} with {type_name(idx)}", e.span, "E113")
    if not -len(obj) <= idx < len(obj):
        raise EvalError(f"index {idx} is out of range for a list of {len(obj)}", e.span, "E116")
    return obj[idx]  # type: ignore[no-any-return]


def _undefined_hint(name: str, env: Mapping[str, Value]) -> str | None:
    if name in ("True", "False"):
        return f"write `{name.lower()}`"
    if name in ("None", "null", "none"):
        return "netdsl has no `None`: leave the argument out to get its default"
    return did_you_mean(name, env)


def free_names(e: S.Expr) -> tuple[S.Name, ...]:
    """Every name an expression reads, in order (``in`` included).

    Memoised by the expression's identity (syntax trees are immutable and, for a file
    parsed once, shared by every check): the lowering asks for each argument and condition.
    """
    hit = _FREE_NAMES.get(e, None)
    if hit is None:
        hit = _FREE_NAMES.put(e, None, (), tuple(_free_names(e)))
    return hit


_FREE_NAMES: IdentityMemo[tuple[S.Name, ...]] = IdentityMemo()


def _free_names(e: S.Expr) -> list[S.Name]:
    if isinstance(e, S.Name):
        return [e]
    return [n for c in _children(e) for n in _free_names(c)]


def reads_shape(e: S.Expr) -> bool:
    """Whether an expression mentions ``in`` (and so waits for shape inference)."""
    if isinstance(e, S.Name):
        return e.id == "in"
    if isinstance(e, S.Lit):
        return False
    return any(reads_shape(c) for c in _children(e))


def _children(e: S.Expr) -> tuple[S.Expr, ...]:
    if isinstance(e, S.BinOp):
        return (e.left, e.right)
    if isinstance(e, S.Unary):
        return (e.operand,)
    if isinstance(e, S.Cond):
        return (e.then, e.test, e.orelse)
    if isinstance(e, (S.TupleLit,)):
        return e.items
    if isinstance(e, S.Func):
        return e.args
    if isinstance(e, S.Index):
        return (e.obj, e.index)
    if isinstance(e, S.Attr):
        return (e.obj,)
    return ()
