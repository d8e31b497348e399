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

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError
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
    """Drop newlines inside ( ) and [ ] so argument lists may wrap across lines."""

    always_accept = ("_NL",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        depth = 0
        for tok in stream:
            if tok.type in ("LPAR", "LSQB"):
                depth += 1
            elif tok.type in ("RPAR", "RSQB"):
                depth = max(0, depth - 1)
            elif tok.type == "_NL" and depth:
                continue
            yield tok


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
    """The LALR parser, built once per process (grammar analysis cached on disk by Lark)."""
    return Lark.open(
        str(grammar_path()),
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=True,
        postlex=NewlineFilter(),
        cache=True,
    )


# Labelled bad examples (Lark's load_grammar technique): the parser state a
# mistake leaves behind identifies the mistake better than the raw token does.
_EXAMPLES: dict[str, list[str]] = {
    "missing `)`": [
        "net A { conv2d(64, 3\n}",
        "net A { conv2d(64, 3 }",
        "net A { conv2d(64, 3 relu }",
        "net A { conv2d(64, (3, 3) }",
    ],
    "missing `}`: a block or group is not closed": ["net A { relu", "net A { add { { relu } }", "block B(x) {"],
    "two statements on one line: separate them with `;` or a newline": [
        "net A { relu relu }",
        "net A { conv2d(3) relu }",
        "net A { relu conv2d(3) }",
    ],
    "`=` assigns a keyword argument or a `let`; compare with `==`": ["net A { if a = 1 { relu } }"],
    "missing `=` after the name in `let`": ["net A { let x 3 }"],
    "a statement cannot start here": ["net A { ) }", "net A { , }", "net A { = 3 }"],
    "an expression is incomplete": ["net A { conv2d(64 + ) }", "net A { conv2d(3 * ) }", "net A { conv2d(k=) }"],
    "`else` must follow `}` on the same line": ["net A { else { relu } }"],
    "`repeat` needs a count and then what to repeat: `repeat 3 Block(64)`": [
        "net A { repeat { relu } }",
        "net A { repeat 3 }",
    ],
    "top level holds only `import`, `requires`, `block` and `net`": ["relu", "conv2d(3)", "x = 3"],
    "a positional argument cannot follow a keyword argument name without `=`": ["net A { conv2d(k 3) }"],
}


def _describe_expected(expected: set[str]) -> str:
    names = {
        "RPAR": "`)`", "LPAR": "`(`", "RBRACE": "`}`", "LBRACE": "`{`", "COMMA": "`,`", "COLON": "`:`",
        "_NL": "a newline", "SEMICOLON": "`;`", "NAME": "a name", "INT": "a number", "EQUAL": "`=`",
        "RSQB": "`]`", "LSQB": "`[`", "$END": "end of file",
    }  # fmt: skip
    shown = sorted(names.get(e, f"`{e.lower()}`" if e.isupper() else e) for e in expected)
    return ", ".join(shown[:8]) + (" …" if len(shown) > 8 else "")


def _token_text(err: UnexpectedInput, text: str) -> str:
    if isinstance(err, UnexpectedToken):
        tok = err.token
        if tok.type == "$END":
            return "end of file"
        if tok.type == "_NL":
            return "end of line"
        return f"`{tok}`"
    if isinstance(err, UnexpectedCharacters):
        return f"`{text[err.pos_in_stream]}`" if err.pos_in_stream is not None else "character"
    return "end of file"


def _syntax_diagnostic(err: UnexpectedInput, text: str, file: str) -> Diagnostic:
    lines = text.splitlines() or [""]
    line = getattr(err, "line", None) or len(lines)
    col = getattr(err, "column", None) or 1
    if isinstance(err, UnexpectedEOF) or (isinstance(err, UnexpectedToken) and err.token.type == "$END"):
        line = len(lines)
        col = len(lines[-1]) + 1 if lines else 1
    if line < 1 or line > len(lines):
        line = max(1, min(line, len(lines)))
    what = _token_text(err, text)
    label = None
    try:
        label = err.match_examples(_parse_raw, _EXAMPLES, use_accepts=True)
    except Exception:  # noqa: BLE001 - a failed heuristic must not hide the real error
        label = None
    expected = getattr(err, "accepts", None) or getattr(err, "expected", None) or set()
    width = len(str(err.token)) if isinstance(err, UnexpectedToken) and err.token.type not in ("$END", "_NL") else 1
    span = Span(file, line, col, line, col + width)
    if isinstance(err, UnexpectedCharacters):
        return Diagnostic("E001", f"unexpected character {what}", span, hint=label)
    hint = label if label else (f"expected {_describe_expected(set(expected))}" if expected else None)
    return Diagnostic("E002", f"syntax error: unexpected {what}", span, layer=None, hint=hint)


def _parse_raw(text: str) -> Any:
    return parser().parse(text)


def parse_text(text: str, file: str = "<spec>") -> S.Module | Diagnostic:
    """Parse one file's text; returns the syntax tree, or the (first) syntax error."""
    with _LOCK:
        _BUILDER.file = file
        try:
            tree = _BUILDER.transform(parser().parse(text))
        except UnexpectedInput as err:
            _BUILDER.file = "<example>"
            return _syntax_diagnostic(err, text, file)
        except VisitError as err:  # an exception inside a transformer callback: unwrap it
            raise err.orig_exc from err
        finally:
            _BUILDER.file = "<spec>"
    assert isinstance(tree, S.Module)
    return tree
