"""The formatter's tokenizer: the grammar's terminals, plus the comments and newlines Lark drops.

The parser ``%ignore``s comments, so its tokens cannot rebuild a file: this tokenizer keeps
every comment and every newline. Its regular expressions are the grammar's terminals
(``netdsl/syntax/grammar.lark``), tried in the order Lark's basic lexer tries them, so it
splits a file that parses exactly as the parser does. :func:`classify_newlines` then marks
each newline the way the parser's newline filter treats it (a statement separator, or
dropped: inside brackets, in a header before its ``{``, before ``else``/``elif``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["name", "kw", "int", "float", "str", "op", "comment", "nl"]
Break = Literal["sep", "wrap", "header", "else"]

#: The reserved words of the grammar (docs/language.md, "Reserved words").
KEYWORDS = frozenset(
    {
        *("and", "as", "block", "elif", "else", "false", "if", "import", "in"),
        *("inline", "input", "let", "net", "not", "or", "repeat", "requires", "true"),
    }
)
OPENERS = frozenset("([{")
CLOSERS = frozenset(")]}")

_TOKEN = re.compile(
    r"""
    (?P<float>[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+)
  | (?P<int>0|[1-9][0-9_]*)
  | (?P<name>[A-Za-z_][A-Za-z_0-9]*)
  | (?P<str>"[^"\n]*"|'[^'\n]*')
  | (?P<comment>\#[^\n]*)
  | (?P<nl>(?:\r?\n)+)
  | (?P<ws>[ \t\f]+)
  | (?P<op>->|\*\*|//|==|!=|<=|>=|[-+*/%<>=()\[\]{},;:@.])
    """,
    re.VERBOSE,
)


@dataclass(slots=True)
class Tok:
    """One token: its kind, its text, where it starts (1-based), and what the layout needs to know."""

    kind: Kind
    text: str
    line: int
    col: int
    newlines: int = 0  # for "nl": how many line breaks (blank lines + 1)
    depth: int = 0  # ( ) and [ ] open around the token
    unary: bool = False  # a prefix `-` or `+`
    brk: Break = "sep"  # for "nl": how the parser treats it
    body: bool = False  # for "{": opens the body of a net, block, if, elif or else (not a group or a merge)

    def __repr__(self) -> str:
        return f"Tok({self.kind}, {self.text!r}, {self.line}:{self.col})"


class LexError(Exception):
    """A character the tokenizer does not know (the parser accepted it: a formatter bug)."""

    def __init__(self, line: int, col: int) -> None:
        super().__init__(f"{line}:{col}: unexpected character")
        self.line, self.col = line, col


def tokenize(text: str) -> list[Tok]:
    """Every token of ``text`` but spaces, consecutive newlines merged into one ``nl`` token."""
    out: list[Tok] = []
    pos, line, line_start = 0, 1, 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise LexError(line, pos - line_start + 1)
        kind, value = m.lastgroup or "", m.group()
        if kind == "nl":
            count = value.count("\n")
            if out and out[-1].kind == "nl":
                out[-1].newlines += count
            else:
                out.append(Tok("nl", "\n", line, pos - line_start + 1, newlines=count))
            line += count
            line_start = m.end()
        elif kind == "comment":
            out.append(Tok("comment", value.rstrip(), line, pos - line_start + 1))
        elif kind != "ws":
            tok_kind: Kind = "kw" if kind == "name" and value in KEYWORDS else kind  # type: ignore[assignment]
            out.append(Tok(tok_kind, value, line, pos - line_start + 1))
        pos = m.end()
    return out


def ends_operand(tok: Tok | None) -> bool:
    """Whether ``tok`` can end an operand (so a following ``-`` is binary and a ``[`` indexes)."""
    if tok is None:
        return False
    if tok.kind in ("name", "int", "float", "str"):
        return True
    return tok.text in (")", "]") or (tok.kind == "kw" and tok.text in ("true", "false", "in"))


_STATEMENT_START = (None, "nl", ";", "{", "}")


def classify_newlines(toks: list[Tok]) -> None:
    """Fill in ``depth``, ``unary`` and, for newlines, ``brk``: the parser's newline filter, replayed.

    A newline inside brackets is a ``wrap``; between ``net``/``block``/``if``/``elif``/``else`` and
    its ``{`` a ``header``; before ``else``/``elif`` an ``else``; any other ends a statement (``sep``).
    """
    depth = 0
    header = False
    prev: str | None = None  # what the filter calls `prev`: the last token passed on
    last: Tok | None = None  # the last significant token (for unary operators)
    before_else = _before_else(toks)
    for i, tok in enumerate(toks):
        tok.depth = depth
        if tok.kind == "comment":
            continue
        if tok.kind == "nl":
            if depth:
                tok.brk = "wrap"
            elif header:
                tok.brk = "header"
            elif before_else[i]:
                tok.brk = "else"
            else:
                tok.brk, prev = "sep", "nl"
            continue
        text, is_op = tok.text, tok.kind == "op"
        if is_op and text in ("(", "["):
            depth += 1
        elif is_op and text in (")", "]"):
            depth = max(0, depth - 1)
        elif tok.kind == "kw" and (
            text in ("net", "block") or (not depth and text in ("if", "elif", "else") and prev in _STATEMENT_START)
        ):
            header = True
        elif is_op and text == "{":
            tok.body, header = header, False
        tok.unary = is_op and text in ("-", "+") and not ends_operand(last)
        prev = text if is_op and text in (";", "{", "}") else tok.kind
        last = tok


def _before_else(toks: list[Tok]) -> list[bool]:
    """For each token: whether the next significant token after it is ``else`` or ``elif``."""
    out = [False] * len(toks)
    following = False
    for i in range(len(toks) - 1, -1, -1):
        out[i] = following
        tok = toks[i]
        if tok.kind not in ("nl", "comment"):
            following = tok.kind == "kw" and tok.text in ("else", "elif")
    return out
