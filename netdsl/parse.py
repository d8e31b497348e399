"""Pass 1: text → syntax tree (:mod:`netdsl.syntax`), with friendly syntax errors.

The Lark LALR grammar lives in ``grammar/netdsl.lark`` and is loaded once per
process (and its analysis cached on disk by Lark). A Transformer turns Lark's
tree into the frozen syntax nodes (Lark's in-parser transformer cannot see
positions, which every node needs).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedInput, VisitError
from lark.lark import PostLex

from netdsl import syntax as S
from netdsl.errors import Diagnostic, Span


def grammar_path() -> Path:
    """The grammar file: inside the installed package, or ``grammar/`` of a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "grammar" / "netdsl.lark", here.parent / "grammar" / "netdsl.lark"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("netdsl grammar file netdsl.lark not found (broken installation)")


class NewlineFilter(PostLex):
    """Where a newline does not end a statement, drop it before the parser sees it.

    * inside ``( )`` and ``[ ]``, so long argument lists may wrap;
    * between a header (``net``/``block`` …, ``if``/``elif`` condition, ``else``) and its ``{``,
      so the brace may open the next line;
    * before ``else`` / ``elif``, so ``}`` and ``else {`` may sit on separate lines.
    """

    always_accept = ("_NL",)
    _STATEMENT_START = (None, "_NL", "SEMICOLON", "LBRACE", "RBRACE")

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        depth = 0
        header = False  # between a header keyword and its `{`
        prev: str | None = None  # type of the last token passed on
        pending: Token | None = None  # a newline held back until we know whether `else` follows
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


def _span(file: str, meta: Any) -> Span:
    return Span(file, meta.line, meta.column, meta.end_line, meta.end_column)


def _tok_span(file: str, tok: Token) -> Span:
    return Span(file, tok.line or 0, tok.column or 0, tok.end_line or 0, tok.end_column or 0)


_BINOPS = ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "eq", "ne", "lt", "le", "gt", "ge")


@v_args(meta=True)
class _Build(Transformer[Token, Any]):
    """Builds :mod:`netdsl.syntax` nodes while the LALR parser reduces."""

    file = "<spec>"

    def _s(self, meta: Any) -> Span:
        return _span(self.file, meta)

    # -- top level
    def start(self, meta: Any, items: list[Any]) -> S.Module:
        return S.Module(
            self.file,
            tuple(i for i in items if isinstance(i, S.Import)),
            tuple(i for i in items if isinstance(i, S.Requires)),
            tuple(i for i in items if isinstance(i, S.BlockDef)),
        )

    def import_stmt(self, meta: Any, c: list[Any]) -> S.Import:
        return S.Import(c[0][1:-1], self._s(meta))

    def requires_stmt(self, meta: Any, c: list[Any]) -> S.Requires:
        return S.Requires(tuple(t[1:-1] for t in c), self._s(meta))

    def _def(self, meta: Any, c: list[Any], is_net: bool) -> S.BlockDef:
        name, params, body = c
        return S.BlockDef(str(name), params or (), body, is_net, self._s(meta), _tok_span(self.file, name))

    def block_def(self, meta: Any, c: list[Any]) -> S.BlockDef:
        return self._def(meta, c, False)

    def net_def(self, meta: Any, c: list[Any]) -> S.BlockDef:
        return self._def(meta, c, True)

    def params(self, meta: Any, c: list[Any]) -> tuple[S.Param, ...]:
        return tuple(p for p in c if p is not None)

    def param(self, meta: Any, c: list[Any]) -> S.Param:
        return S.Param(str(c[0]), c[1], self._s(meta))

    def body(self, meta: Any, c: list[Any]) -> S.Body:
        return S.Body(tuple(c), self._s(meta))

    # -- statements
    def node(self, meta: Any, c: list[Any]) -> S.Node:
        label, core, capture = c
        return S.Node(label, core, capture, self._s(meta))

    def label(self, meta: Any, c: list[Any]) -> S.Label:
        return S.Label(str(c[0]), c[1], self._s(meta))

    def capture(self, meta: Any, c: list[Any]) -> str:
        return str(c[0])

    def call(self, meta: Any, c: list[Any]) -> S.Call:
        inline, name, args = c
        return S.Call(str(name), args or (), inline is not None, self._s(meta), _tok_span(self.file, name))

    def merge(self, meta: Any, c: list[Any]) -> S.Merge:
        name, args, body = c
        return S.Merge(str(name), args or (), body, self._s(meta), _tok_span(self.file, name))

    def group(self, meta: Any, c: list[Any]) -> S.Group:
        return S.Group(c[0], self._s(meta))

    def repeat(self, meta: Any, c: list[Any]) -> S.Repeat:
        count, var, label, core = c
        return S.Repeat(count, str(var) if var is not None else None, label, core, self._s(meta))

    def let_stmt(self, meta: Any, c: list[Any]) -> S.Let:
        return S.Let(str(c[0]), c[1], self._s(meta))

    def if_stmt(self, meta: Any, c: list[Any]) -> S.If:
        cond, body, *rest = c
        orelse = rest.pop() if rest and (rest[-1] is None or isinstance(rest[-1], S.Body)) else None
        return S.If(((cond, body), *rest), orelse, self._s(meta))

    def elif_clause(self, meta: Any, c: list[Any]) -> tuple[S.Expr, S.Body]:
        return (c[0], c[1])

    def else_clause(self, meta: Any, c: list[Any]) -> S.Body:
        return c[0]  # type: ignore[no-any-return]

    def input_stmt(self, meta: Any, c: list[Any]) -> S.Input:
        return S.Input(c[0], self._s(meta))

    def use_stmt(self, meta: Any, c: list[Any]) -> S.Use:
        return S.Use(str(c[0]), self._s(meta))

    def args(self, meta: Any, c: list[Any]) -> tuple[S.Arg, ...]:
        return tuple(a for a in c if a is not None)

    def pos_arg(self, meta: Any, c: list[Any]) -> S.Arg:
        return S.Arg(None, c[0], self._s(meta))

    def kw_arg(self, meta: Any, c: list[Any]) -> S.Arg:
        return S.Arg(str(c[0]), c[1], self._s(meta))

    # -- expressions
    def int_lit(self, meta: Any, c: list[Any]) -> S.Lit:
        return S.Lit(int(str(c[0]).replace("_", "")), self._s(meta))

    def float_lit(self, meta: Any, c: list[Any]) -> S.Lit:
        return S.Lit(float(c[0]), self._s(meta))

    def str_lit(self, meta: Any, c: list[Any]) -> S.Lit:
        return S.Lit(str(c[0])[1:-1], self._s(meta))

    def true_lit(self, meta: Any, c: list[Any]) -> S.Lit:
        return S.Lit(True, self._s(meta))

    def false_lit(self, meta: Any, c: list[Any]) -> S.Lit:
        return S.Lit(False, self._s(meta))

    def name(self, meta: Any, c: list[Any]) -> S.Name:
        return S.Name(str(c[0]), self._s(meta))

    def func(self, meta: Any, c: list[Any]) -> S.Func:
        return S.Func(str(c[0]), tuple(x for x in c[1:] if x is not None), self._s(meta))

    def tuple_lit(self, meta: Any, c: list[Any]) -> S.TupleLit:
        return S.TupleLit(tuple(x for x in c if x is not None), self._s(meta))

    list_lit = tuple_lit

    def cond_expr(self, meta: Any, c: list[Any]) -> S.Cond:
        return S.Cond(c[0], c[1], c[2], self._s(meta))

    def or_op(self, meta: Any, c: list[Any]) -> S.BinOp:
        return S.BinOp("or", c[0], c[1], self._s(meta))

    def and_op(self, meta: Any, c: list[Any]) -> S.BinOp:
        return S.BinOp("and", c[0], c[1], self._s(meta))

    def not_op(self, meta: Any, c: list[Any]) -> S.Unary:
        return S.Unary("not", c[0], self._s(meta))

    def neg(self, meta: Any, c: list[Any]) -> S.Unary:
        return S.Unary("neg", c[0], self._s(meta))

    def index(self, meta: Any, c: list[Any]) -> S.Index:
        return S.Index(c[0], c[1], self._s(meta))

    def attr(self, meta: Any, c: list[Any]) -> S.Attr:
        return S.Attr(c[0], str(c[1]), self._s(meta))


def _binop(op: str) -> Any:
    def build(self: _Build, meta: Any, c: list[Any]) -> S.BinOp:
        return S.BinOp(op, c[0], c[1], self._s(meta))

    return build


for _op in _BINOPS:
    setattr(_Build, _op, v_args(meta=True)(_binop(_op)))

_BUILDER = _Build()
_LOCK = threading.Lock()


@cache
def parser() -> Lark:
    """The LALR parser, built once per process (grammar analysis cached on disk by Lark).

    The basic (not contextual) lexer: keywords are reserved everywhere, and the
    post-lexer may look one token ahead without confusing the lexer's state.
    """
    return Lark.open(
        str(grammar_path()),
        parser="lalr",
        lexer="basic",
        propagate_positions=True,
        maybe_placeholders=True,
        postlex=NewlineFilter(),
        cache=True,
    )


def _parse_raw(text: str) -> Any:
    return parser().parse(text)


def _too_deep(tree: Tree[Token], limit: int) -> Tree[Token] | None:
    """The first subtree (in source order) deeper than ``limit`` levels; iterative, so never a RecursionError."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return node
        stack.extend((c, depth + 1) for c in reversed(node.children) if isinstance(c, Tree))
    return None


def parse_text(text: str, file: str = "<spec>", max_depth: int | None = None) -> S.Module | Diagnostic:
    """Parse one file's text; returns the syntax tree, or the (first) syntax error.

    ``max_depth`` bounds the nesting of the syntax tree (braces, brackets, operators), so
    that the recursive passes after parsing can never run out of stack (E003 at the place).
    """
    with _LOCK:
        try:
            raw = parser().parse(text)
        except UnexpectedInput as err:
            from netdsl.syntax_errors import syntax_diagnostic  # only on the error path

            return syntax_diagnostic(err, text, file)
        if max_depth is not None and (deep := _too_deep(raw, max_depth)) is not None:
            from netdsl.limits import how_to_raise

            meta = deep.meta
            line, col = getattr(meta, "line", 1), getattr(meta, "column", 1)
            return Diagnostic(
                "E003",
                f"the file nests more than {max_depth} levels deep here (braces, brackets and operators)",
                Span(file, line, col, line, col + 1),
                hint="split long expressions with `let` and flatten nested groups; "
                + how_to_raise("max_syntax_depth", max_depth),
            )
        _BUILDER.file = file
        try:
            try:
                tree = _BUILDER.transform(raw)
            except VisitError as err:  # an exception inside a transformer callback: unwrap it
                raise err.orig_exc from err
        except RecursionError:  # nesting beyond a raised max_depth: a diagnostic, not a crash
            return Diagnostic(
                "E003",
                "the file nests too deeply to be read",
                Span(file, 1, 1, 1, 2),
                hint="split very long expressions and deeply nested braces",
            )
        finally:
            _BUILDER.file = "<spec>"
    assert isinstance(tree, S.Module)
    return tree
