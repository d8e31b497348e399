"""Lark's own path: the parser, its tree, and a Transformer over netdsl's builder.

:mod:`netdsl.syntax.parser` builds syntax trees with :mod:`netdsl.syntax.lalr` and imports this module
only for what that fast path leaves: syntax errors (Lark's exceptions, with the parser
state that :mod:`netdsl.syntax.messages` matches against labelled examples), files nested
too deeply, and the tables of :mod:`netdsl.syntax.tables` when its cache has none yet. The
tests compare the fast path with :func:`parse_reference`.
"""

from __future__ import annotations

from typing import Any

from lark import Token, Transformer, v_args
from lark.exceptions import UnexpectedInput, VisitError

from netdsl.errors import Diagnostic, Span
from netdsl.syntax import tree as S
from netdsl.syntax.builder import BUILDER, LOCK, RULE_NAMES, span_of
from netdsl.syntax.depth import TooDeep, TooMany, first_too_deep, too_deep
from netdsl.syntax.lark_grammar import parser


class _Reference(Transformer[Token, Any]):
    """Lark's own path: the builder applied to Lark's tree (positions from Lark's ``Meta``)."""


def _adapt(name: str) -> Any:
    def method(self: _Reference, meta: Any, c: list[Any]) -> Any:
        return getattr(BUILDER, name)(None if meta.empty else span_of(BUILDER.file, meta), c)

    return v_args(meta=True)(method)


for _name in RULE_NAMES:
    setattr(_Reference, _name, _adapt(_name))

_REFERENCE = _Reference()


def parse_raw(text: str) -> Any:
    """Lark's tree for ``text`` (raises Lark's exceptions)."""
    return parser().parse(text)


def _error_offset(err: UnexpectedInput, text: str) -> int:
    tok = getattr(err, "token", None)
    if tok is not None:
        return len(text) if tok.type == "$END" else (tok.start_pos or 0)
    return err.pos_in_stream or 0


def _nesting(text: str, max_depth: int | None, before: int, max_statements: int | None) -> TooDeep | TooMany | None:
    if max_depth is None:
        return None
    return first_too_deep(iter(parser().lex(text)), max_depth, before, max_statements)  # as the parser sees them


def parse_reference(
    text: str, file: str = "<spec>", max_depth: int | None = None, max_statements: int | None = None
) -> S.Module | Diagnostic:
    """:func:`netdsl.syntax.parser.parse_text` through Lark's own tree and a Transformer: the fallback for what
    the fast path does not parse (errors, very deep files), and the tests' reference."""
    with LOCK:
        try:
            raw = parser().parse(text)
        except UnexpectedInput as err:
            from netdsl.syntax.messages import syntax_diagnostic  # only on the error path

            # Nesting past the limit before the syntax error is the first mistake (as on the fast path).
            deep = _nesting(text, max_depth, _error_offset(err, text), max_statements)
            return too_deep(deep, file, max_depth or 0) if deep else syntax_diagnostic(err, text, file)
        if (deep := _nesting(text, max_depth, len(text) + 1, max_statements)) is not None:
            return too_deep(deep, file, max_depth or 0)
        BUILDER.file = file
        try:
            try:
                tree = _REFERENCE.transform(raw)
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
            BUILDER.file = "<spec>"
    assert isinstance(tree, S.Module)
    return tree
