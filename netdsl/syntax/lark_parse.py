"""Lark's own path: the parser, its tree, and a Transformer over netdsl's builder.

:mod:`netdsl.syntax.parser` builds syntax trees with :mod:`netdsl.syntax.lalr` and imports this module
only for what that fast path leaves: syntax errors (Lark's exceptions, with the parser
state that :mod:`netdsl.syntax.messages` matches against labelled examples), files nested
too deeply, and the tables of :mod:`netdsl.syntax.tables` when its cache has none yet. The
tests compare the fast path with :func:`parse_reference`.
"""

from __future__ import annotations

from typing import Any

from lark import Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedInput, VisitError

from netdsl.errors import Diagnostic, Span
from netdsl.syntax import tree as S
from netdsl.syntax.builder import BUILDER, LOCK, RULE_NAMES, span_of
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


def _too_deep(tree: Tree[Token], limit: int) -> Tree[Token] | None:
    """The first subtree (in source order) deeper than ``limit`` levels; iterative, so never a RecursionError."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return node
        stack.extend((c, depth + 1) for c in reversed(node.children) if isinstance(c, Tree))
    return None


def parse_reference(text: str, file: str = "<spec>", max_depth: int | None = None) -> S.Module | Diagnostic:
    """:func:`netdsl.syntax.parser.parse_text` through Lark's own tree and a Transformer: the fallback for what
    the fast path does not parse (errors, very deep files), and the tests' reference."""
    with LOCK:
        try:
            raw = parser().parse(text)
        except UnexpectedInput as err:
            from netdsl.syntax.messages import syntax_diagnostic  # only on the error path

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
