"""``netdsl fmt``: the canonical layout of a ``.net`` file, comments kept.

:func:`format_text` is the whole formatter (the CLI command and the language server's
``textDocument/formatting`` call it). It parses the text first (a file that does not parse
raises :class:`FormatError` with the parser's location and message), lays it out
(:mod:`~netdsl.formatter.tokens` → :mod:`~netdsl.formatter.layout` → :mod:`~netdsl.formatter.render`),
and then proves its output: the output must parse to the same syntax tree (positions aside)
and hold the same comments, or it is refused. The formatter therefore never changes what a
spec means; the layout is idempotent (``format_text(format_text(x)) == format_text(x)``).
"""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any

from netdsl.errors import Diagnostic, Span
from netdsl.formatter.layout import build_lines
from netdsl.formatter.render import LINE_LENGTH, render
from netdsl.formatter.tokens import LexError, Tok, classify_newlines, tokenize

__all__ = ["LINE_LENGTH", "FormatError", "format_text"]


class FormatError(Exception):
    """The text cannot be formatted: it does not parse (or, never expected, the formatter failed its own check).

    ``line`` and ``column`` are 1-based; ``diagnostic`` is the parser's diagnostic when there is one.
    """

    def __init__(self, line: int, column: int, message: str, diagnostic: Diagnostic | None = None) -> None:
        super().__init__(f"{line}:{column}: {message}")
        self.line = line
        self.column = column
        self.message = message
        self.diagnostic = diagnostic


_FILE = "<fmt>"


def _parse(text: str) -> Any:
    """The syntax tree of ``text``; FormatError where it does not parse."""
    from netdsl.limits import current
    from netdsl.syntax.parser import parse_text

    result = parse_text(text, _FILE, current().max_syntax_depth)
    if isinstance(result, Diagnostic):
        span = result.span or Span(_FILE, 1, 1, 1, 1)
        raise FormatError(span.line, span.col, f"error[{result.code}]: {result.message}", result)
    return result


@cache
def _fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _skeleton(node: Any) -> Any:
    """A syntax tree without its positions, comparable with ``==``."""
    cls: type = type(node)
    if cls is Span:
        return None
    if cls is tuple or cls is list:
        return tuple(map(_skeleton, node))
    if hasattr(cls, "__dataclass_fields__"):
        return (cls.__name__, *[_skeleton(getattr(node, name)) for name in _fields(cls)])
    return node


def _tokens(text: str) -> list[Tok]:
    try:
        return tokenize(text)
    except LexError as err:  # the parser accepted what the tokenizer does not know: a formatter bug
        raise FormatError(err.line, err.col, "internal formatter error: unexpected character") from err


def _comments(toks: list[Tok]) -> list[str]:
    return [t.text for t in toks if t.kind == "comment"]


def format_text(text: str) -> str:
    """``text`` in the canonical layout; raises :class:`FormatError` if it does not parse."""
    tree = _parse(text)
    toks = _tokens(text)
    comments = _comments(toks)
    classify_newlines(toks)
    out = render(build_lines(toks))
    if out == text:
        return out
    try:
        same = _comments(_tokens(out)) == comments and _skeleton(_parse(out)) == _skeleton(tree)
    except (FormatError, RecursionError):
        same = False
    if not same:  # a formatter bug: refuse rather than change the spec
        raise FormatError(1, 1, "internal formatter error: the formatted text would differ in meaning; left unchanged")
    return out
