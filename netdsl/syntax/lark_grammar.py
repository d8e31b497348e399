"""Lark's LALR parser for the grammar, built once per process.

The syntax errors (:mod:`netdsl.syntax.messages`), Lark's own parse path
(:mod:`netdsl.syntax.lark_parse`) and the table cache (:mod:`netdsl.syntax.tables`) all
use this one parser; a check that parses cleanly never imports Lark.
"""

from __future__ import annotations

from functools import cache

from lark import Lark

from netdsl.syntax.builder import NewlineFilter, grammar_path

__all__ = ["parser"]


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
