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
    """A literal: ``3``, ``0.5``, ``true``, ``'same'``."""

    value: int | float | bool | str
    span: Span


@dataclass(frozen=True, slots=True)
class Name:
    """A name read in an expression: a parameter, a ``let``, a loop variable, ``in``."""

    id: str
    span: Span


@dataclass(frozen=True, slots=True)
class BinOp:
    """A binary operator applied to two expressions: ``a + b``, ``x == 1``, ``p and q``."""

    op: str  # add sub mul truediv floordiv mod pow eq ne lt le gt ge and or
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Unary:
    """A prefix operator: ``-x``, ``not x``."""

    op: str  # neg not
    operand: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Cond:
    """A conditional expression: ``a if c else b``."""

    then: Expr
    test: Expr
    orelse: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class TupleLit:
    """A tuple or list: ``(3, 3)``, ``[1, 2]``."""

    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Index:
    """Indexing: ``sizes[i]``."""

    obj: Expr
    index: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Attr:
    """An attribute: ``in.c``."""

    obj: Expr
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class Func:
    """A call of a built-in function: ``max(a, b)``."""

    name: str
    args: tuple[Expr, ...]
    span: Span


Expr = Lit | Name | BinOp | Unary | Cond | TupleLit | Index | Attr | Func

# ---------------------------------------------------------------- statements


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument of a call: positional (``name`` is None) or ``name=value``."""

    name: str | None  # None for a positional argument
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Label:
    """A statement's label: ``conv1:`` or ``block[i]:``."""

    name: str
    index: Expr | None  # `denselayer[i + 1]` → name "denselayer" + str(value)
    span: Span


@dataclass(frozen=True, slots=True)
class Body:
    """The statements between braces."""

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
    """Braces as a statement: a sequence of its own (a module when labelled)."""

    body: Body
    span: Span


@dataclass(frozen=True, slots=True)
class Repeat:
    """``repeat n [as i] item``."""

    count: Expr
    var: str | None
    label: Label | None
    core: Core
    span: Span


Core = Call | Merge | Group | Repeat


@dataclass(frozen=True, slots=True)
class Node:
    """One statement that makes modules: its label, its core (call, merge, group, repeat), its capture."""

    label: Label | None
    core: Core
    capture: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class Let:
    """``let name = expression``."""

    name: str
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class If:
    """``if``/``elif``/``else`` and their bodies."""

    branches: tuple[tuple[Expr, Body], ...]
    orelse: Body | None
    span: Span


@dataclass(frozen=True, slots=True)
class Input:
    """``input(c, h, w)``: the net's input shape."""

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
    """One parameter of a net or block, with its default."""

    name: str
    default: Expr | None
    span: Span


@dataclass(frozen=True, slots=True)
class BlockDef:
    """A ``block`` or ``net`` definition."""

    name: str
    params: tuple[Param, ...]
    body: Body
    is_net: bool
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Import:
    """``import "file.net"``."""

    path: str
    span: Span


@dataclass(frozen=True, slots=True)
class Requires:
    """``requires "plugin"``."""

    plugins: tuple[str, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Module:
    """One parsed ``.net`` file."""

    file: str
    imports: tuple[Import, ...]
    requires: tuple[Requires, ...]
    blocks: tuple[BlockDef, ...]
