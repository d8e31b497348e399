"""The syntax tree: what the parser produces, one frozen dataclass per construct.

Every node keeps its :class:`~netdsl.errors.Span` so later passes can point at the
user's source. Nothing here is evaluated; :mod:`netdsl.lower.lowerer` gives it meaning.
"""

from __future__ import annotations

from dataclasses import dataclass

from netdsl.errors import Span

# ---------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Lit:
    value: int | float | bool | str
    span: Span


@dataclass(frozen=True, slots=True)
class Name:
    id: str
    span: Span


@dataclass(frozen=True, slots=True)
class BinOp:
    op: str  # add sub mul truediv floordiv mod pow eq ne lt le gt ge and or
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # neg not
    operand: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Cond:
    then: Expr
    test: Expr
    orelse: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class TupleLit:
    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Index:
    obj: Expr
    index: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Attr:
    obj: Expr
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class Func:
    name: str
    args: tuple[Expr, ...]
    span: Span


Expr = Lit | Name | BinOp | Unary | Cond | TupleLit | Index | Attr | Func

# ---------------------------------------------------------------- statements


@dataclass(frozen=True, slots=True)
class Arg:
    name: str | None  # None for a positional argument
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Label:
    name: str
    index: Expr | None  # `denselayer[i + 1]` → name "denselayer" + str(value)
    span: Span


@dataclass(frozen=True, slots=True)
class Body:
    stmts: tuple[Stmt, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Call:
    """A layer or block use: ``conv2d(64, 3)``, ``relu``, ``inline Stage(64)``."""

    name: str
    args: tuple[Arg, ...]
    inline: bool
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Merge:
    """Several paths from one input, merged: ``add { {...}; downsample: {...} }``."""

    name: str
    args: tuple[Arg, ...]
    paths: Body
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Group:
    body: Body
    span: Span


@dataclass(frozen=True, slots=True)
class Repeat:
    count: Expr
    var: str | None
    label: Label | None
    core: Core
    span: Span


Core = Call | Merge | Group | Repeat


@dataclass(frozen=True, slots=True)
class Node:
    label: Label | None
    core: Core
    capture: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class Let:
    name: str
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class If:
    branches: tuple[tuple[Expr, Body], ...]
    orelse: Body | None
    span: Span


@dataclass(frozen=True, slots=True)
class Input:
    args: tuple[Arg, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Use:
    """``@name``: continue from a named value (``-> name`` captured it)."""

    name: str
    span: Span


Stmt = Node | Let | If | Input | Use

# ---------------------------------------------------------------- top level


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    default: Expr | None
    span: Span


@dataclass(frozen=True, slots=True)
class BlockDef:
    name: str
    params: tuple[Param, ...]
    body: Body
    is_net: bool
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Import:
    path: str
    span: Span


@dataclass(frozen=True, slots=True)
class Requires:
    plugins: tuple[str, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Module:
    """One parsed ``.net`` file."""

    file: str
    imports: tuple[Import, ...]
    requires: tuple[Requires, ...]
    blocks: tuple[BlockDef, ...]
