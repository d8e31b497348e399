"""The syntax tree's builder, shared by both parse paths: one method per grammar rule.

:mod:`netdsl.syntax.lalr` calls it during the fast parse (:mod:`netdsl.syntax.parser`), and
Lark's Transformer calls it on Lark's own path (:mod:`netdsl.syntax.lark_parse`), so both
build the same frozen nodes (:mod:`netdsl.syntax.tree`) with the same spans. Also here:
the grammar file's location and the newline filter both parsers run after the lexer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from netdsl.errors import Span
from netdsl.syntax import tree as S
from netdsl.syntax.lalr import Tok

__all__ = ["BUILDER", "LOCK", "RULE_NAMES", "Builder", "NewlineFilter", "grammar_path", "span_of"]


def grammar_path() -> Path:
    """The grammar file, beside this module (shipped inside the package)."""
    path = Path(__file__).resolve().parent / "grammar.lark"
    if not path.is_file():
        raise FileNotFoundError(f"netdsl grammar file {path} not found (broken installation)")
    return path


class NewlineFilter:
    """Where a newline does not end a statement, drop it before the parser sees it.

    * inside ``( )`` and ``[ ]``, so long argument lists may wrap;
    * between a header (``net``/``block`` …, ``if``/``elif`` condition, ``else``) and its ``{``,
      so the brace may open the next line;
    * before ``else`` / ``elif``, so ``}`` and ``else {`` may sit on separate lines.
    """

    always_accept = ("_NL",)
    _STATEMENT_START = (None, "_NL", "SEMICOLON", "LBRACE", "RBRACE")

    def process(self, stream: Iterator[Tok]) -> Iterator[Tok]:
        depth = 0
        header = False  # between a header keyword and its `{`
        prev: str | None = None  # type of the last token passed on
        pending: Tok | None = None  # a newline held back until we know whether `else` follows
        for tok in stream:
            if tok.type == "_NL":
                if not depth and not header and pending is None:
                    pending = tok
                continue
            if pending is not None:
                if tok.type not in ("ELSE", "ELIF"):
                    yield pending
                    prev = "_NL"
                pending = None
            if tok.type in ("LPAR", "LSQB"):
                depth += 1
            elif tok.type in ("RPAR", "RSQB"):
                depth = max(0, depth - 1)
            elif tok.type in ("NET", "BLOCK") or (
                not depth and tok.type in ("IF", "ELIF", "ELSE") and prev in self._STATEMENT_START
            ):  # `if` as a statement (not `a if c else b`) and `} else`
                header = True
            elif tok.type == "LBRACE":
                header = False
            prev = tok.type
            yield tok
        if pending is not None:
            yield pending


def span_of(file: str, meta: Any) -> Span:
    return Span(file, meta.line, meta.column, meta.end_line, meta.end_column)


def _tok_span(file: str, tok: Tok) -> Span:  # also given lark.Token, on Lark's path
    return Span(file, tok.line or 0, tok.column or 0, tok.end_line or 0, tok.end_column or 0)


_BINOPS = ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "eq", "ne", "lt", "le", "gt", "ge")


class Builder:
    """Builds :mod:`netdsl.syntax.tree` nodes from a rule's span and children (one method per rule or alias).

    Shared by both paths: :mod:`netdsl.syntax.lalr` calls it during the reductions, and :class:`_Reference`
    after Lark has built its tree. ``span`` is None only for an empty rule (the empty file's ``start``).
    """

    file = "<spec>"

    # -- top level
    def start(self, s: Span | None, items: list[Any]) -> S.Module:
        return S.Module(
            self.file,
            tuple(i for i in items if isinstance(i, S.Import)),
            tuple(i for i in items if isinstance(i, S.Requires)),
            tuple(i for i in items if isinstance(i, S.BlockDef)),
        )

    def import_stmt(self, s: Span, c: list[Any]) -> S.Import:
        return S.Import(c[0][1:-1], s)

    def requires_stmt(self, s: Span, c: list[Any]) -> S.Requires:
        return S.Requires(tuple(t[1:-1] for t in c), s)

    def _def(self, s: Span, c: list[Any], is_net: bool) -> S.BlockDef:
        name, params, body = c
        return S.BlockDef(str(name), params or (), body, is_net, s, _tok_span(self.file, name))

    def block_def(self, s: Span, c: list[Any]) -> S.BlockDef:
        return self._def(s, c, False)

    def net_def(self, s: Span, c: list[Any]) -> S.BlockDef:
        return self._def(s, c, True)

    def params(self, s: Span, c: list[Any]) -> tuple[S.Param, ...]:
        return tuple(p for p in c if p is not None)

    def param(self, s: Span, c: list[Any]) -> S.Param:
        return S.Param(str(c[0]), c[1], s)

    def body(self, s: Span, c: list[Any]) -> S.Body:
        return S.Body(tuple(c), s)

    # -- statements
    def node(self, s: Span, c: list[Any]) -> S.Node:
        label, core, capture = c
        return S.Node(label, core, capture, s)

    def label(self, s: Span, c: list[Any]) -> S.Label:
        return S.Label(str(c[0]), c[1], s)

    def capture(self, s: Span, c: list[Any]) -> str:
        return str(c[0])

    def call(self, s: Span, c: list[Any]) -> S.Call:
        inline, name, args = c
        return S.Call(str(name), args or (), inline is not None, s, _tok_span(self.file, name))

    def merge(self, s: Span, c: list[Any]) -> S.Merge:
        name, args, body = c
        return S.Merge(str(name), args or (), body, s, _tok_span(self.file, name))

    def group(self, s: Span, c: list[Any]) -> S.Group:
        return S.Group(c[0], s)

    def repeat(self, s: Span, c: list[Any]) -> S.Repeat:
        count, var, label, core = c
        return S.Repeat(count, str(var) if var is not None else None, label, core, s)

    def let_stmt(self, s: Span, c: list[Any]) -> S.Let:
        return S.Let(str(c[0]), c[1], s)

    def if_stmt(self, s: Span, c: list[Any]) -> S.If:
        cond, body, *rest = c
        orelse = rest.pop() if rest and (rest[-1] is None or isinstance(rest[-1], S.Body)) else None
        return S.If(((cond, body), *rest), orelse, s)

    def elif_clause(self, s: Span, c: list[Any]) -> tuple[S.Expr, S.Body]:
        return (c[0], c[1])

    def else_clause(self, s: Span, c: list[Any]) -> S.Body:
        return c[0]  # type: ignore[no-any-return]

    def input_stmt(self, s: Span, c: list[Any]) -> S.Input:
        return S.Input(c[0], s)

    def use_stmt(self, s: Span, c: list[Any]) -> S.Use:
        return S.Use(str(c[0]), s)

    def args(self, s: Span, c: list[Any]) -> tuple[S.Arg, ...]:
        return tuple(a for a in c if a is not None)

    def pos_arg(self, s: Span, c: list[Any]) -> S.Arg:
        return S.Arg(None, c[0], s)

    def kw_arg(self, s: Span, c: list[Any]) -> S.Arg:
        return S.Arg(str(c[0]), c[1], s)

    # -- expressions
    def int_lit(self, s: Span, c: list[Any]) -> S.Lit:
        return S.Lit(int(str(c[0]).replace("_", "")), s)

    def float_lit(self, s: Span, c: list[Any]) -> S.Lit:
        return S.Lit(float(c[0]), s)

    def str_lit(self, s: Span, c: list[Any]) -> S.Lit:
        return S.Lit(str(c[0])[1:-1], s)

    def true_lit(self, s: Span, c: list[Any]) -> S.Lit:
        return S.Lit(True, s)

    def false_lit(self, s: Span, c: list[Any]) -> S.Lit:
        return S.Lit(False, s)

    def name(self, s: Span, c: list[Any]) -> S.Name:
        return S.Name(str(c[0]), s)

    def func(self, s: Span, c: list[Any]) -> S.Func:
        return S.Func(str(c[0]), tuple(x for x in c[1:] if x is not None), s)

    def tuple_lit(self, s: Span, c: list[Any]) -> S.TupleLit:
        return S.TupleLit(tuple(x for x in c if x is not None), s)

    list_lit = tuple_lit

    def cond_expr(self, s: Span, c: list[Any]) -> S.Cond:
        return S.Cond(c[0], c[1], c[2], s)

    def or_op(self, s: Span, c: list[Any]) -> S.BinOp:
        return S.BinOp("or", c[0], c[1], s)

    def and_op(self, s: Span, c: list[Any]) -> S.BinOp:
        return S.BinOp("and", c[0], c[1], s)

    def not_op(self, s: Span, c: list[Any]) -> S.Unary:
        return S.Unary("not", c[0], s)

    def neg(self, s: Span, c: list[Any]) -> S.Unary:
        return S.Unary("neg", c[0], s)

    def index(self, s: Span, c: list[Any]) -> S.Index:
        return S.Index(c[0], c[1], s)

    def attr(self, s: Span, c: list[Any]) -> S.Attr:
        return S.Attr(c[0], str(c[1]), s)


def _binop(op: str) -> Any:
    def build(self: Builder, s: Span, c: list[Any]) -> S.BinOp:
        return S.BinOp(op, c[0], c[1], s)

    return build


for _op in _BINOPS:
    setattr(Builder, _op, _binop(_op))

BUILDER = Builder()
LOCK = threading.Lock()
# The rule (and alias) names the grammar's callbacks use: every public method of the builder.
RULE_NAMES = tuple(n for n in dir(Builder) if not n.startswith("_") and n != "file")
