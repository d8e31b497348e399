"""Lark's own path: the parser, its tree, and a Transformer over netdsl's builder.

:mod:`netdsl.parse` builds syntax trees with :mod:`netdsl.lalr` and imports this module
only for what that fast path leaves: syntax errors (Lark's exceptions, with the parser
state that :mod:`netdsl.syntax_errors` matches against labelled examples), files nested
too deeply, and the tables of :mod:`netdsl.tables` when its cache has none yet. The
tests compare the fast path with :func:`parse_reference`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedInput, VisitError

from netdsl import syntax as S
from netdsl.errors import Diagnostic, Span
from netdsl.parse import _BUILDER, _LOCK, _RULE_NAMES, NewlineFilter, _span, grammar_path


class _Reference(Transformer[Token, Any]):
    """Lark's own path: the builder applied to Lark's tree (positions from Lark's ``Meta``)."""


def _adapt(name: str) -> Any:
    def method(self: _Reference, meta: Any, c: list[Any]) -> Any:
        return getattr(_BUILDER, name)(None if meta.empty else _span(_BUILDER.file, meta), c)

    return v_args(meta=True)(method)


for _name in _RULE_NAMES:
    setattr(_Reference, _name, _adapt(_name))

_REFERENCE = _Reference()


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
        postlex=NewlineFilter(),  # type: ignore[arg-type]  # Lark's PostLex protocol: process, always_accept
        cache=True,
    )


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
    """:func:`netdsl.parse.parse_text` through Lark's own tree and a Transformer: the fallback for what
    the fast path does not parse (errors, very deep files), and the tests' reference."""
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
            _BUILDER.file = "<spec>"
    assert isinstance(tree, S.Module)
    return tree
