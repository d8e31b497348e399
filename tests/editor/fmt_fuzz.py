"""Random re-spacings of a spec that keep its meaning: the formatter's fuzz corpus.

:func:`respace` rewrites the whitespace between the tokens of a file that parses: random spaces
and tabs (none where two tokens would not glue into one), random indentation, blank lines,
``;`` turned into newlines, newlines where the language ignores them (inside brackets, in a
header before its ``{``, before ``else``) or where they separate statements (after ``{``, around
``;``, before ``}``), and comments before those newlines and on lines of their own. The tests check
separately that each variant still means what the original means.
"""

from __future__ import annotations

import random

from netdsl.formatter.tokens import Tok, classify_newlines, tokenize

_STATEMENT_START = (None, "nl", ";", "{", "}")


def _significant(text: str) -> list[str]:
    return [t.text for t in tokenize(text) if t.kind not in ("nl", "comment")]


def _glues(a: Tok, b: Tok) -> bool:
    """Whether ``a`` and ``b`` may touch: written together they still lex as the same two tokens."""
    return _significant(a.text + b.text) == [a.text, b.text]


class _Gen:
    def __init__(self, rng: random.Random, density: float) -> None:
        self.rng = rng
        self.density = density
        self.count = 0

    def spaces(self, least: int) -> str:
        return "".join(self.rng.choice("    \t") for _ in range(self.rng.randint(least, 3)))

    def newline(self, sep: bool, count: int = 1) -> str:
        """A line break (with a comment before it, maybe), blank lines and full-line comments where ``sep``."""
        rng, out = self.rng, ""
        if not self.density:  # only the indentation changes
            return "\n" * count + self.spaces(0)
        if rng.random() < 0.3:
            self.count += 1
            out += f"{self.spaces(0)}# fz{self.count}"
        out += "\n" * count
        if sep and rng.random() < 0.3:
            out += self.spaces(0) + "\n" * rng.randint(1, 3)
        if sep and rng.random() < 0.2:
            self.count += 1
            out += f"{self.spaces(0)}# fz{self.count}, a line of its own\n"
        return out + self.spaces(0) * rng.randint(0, 3)

    def gap(self, a: Tok, b: Tok, depth: int, header: bool) -> str:
        """What goes between two significant tokens ``a`` and ``b``."""
        sep = (a.kind == "op" and a.text in ("{", ";")) or (b.kind == "op" and b.text in ("}", ";"))
        dropped = depth > 0 or header or (b.kind == "kw" and b.text in ("else", "elif"))
        if (sep or dropped) and self.rng.random() < self.density:
            return self.newline(sep and not dropped)
        return self.spaces(0 if _glues(a, b) else 1)


def respace(text: str, seed: int, density: float = 0.25) -> str:
    """A variant of ``text`` (which must parse) with the same tokens and, the tests check, the same meaning.

    With ``density`` 0 only the spaces within lines and the indentation change.
    """
    gen = _Gen(random.Random(seed), density)
    toks = tokenize(text)
    classify_newlines(toks)
    out: list[str] = [gen.spaces(0)]
    depth, header, prev = 0, False, None  # the parser's newline filter, as in netdsl.formatter.tokens
    last: Tok | None = None  # the significant token just written, if nothing came after it yet
    for tok in toks:
        if tok.kind in ("nl", "comment"):
            out.append(gen.newline(tok.brk == "sep", tok.newlines) if tok.kind == "nl" else gen.spaces(1) + tok.text)
            prev = "nl" if tok.kind == "nl" and tok.brk == "sep" else prev
            last = None
            continue
        if last is not None:
            out.append(gen.gap(last, tok, depth, header))
        word, is_op = tok.text, tok.kind == "op"
        if is_op and word in ("(", "["):
            depth += 1
        elif is_op and word in (")", "]"):
            depth -= 1
        elif tok.kind == "kw" and (
            word in ("net", "block") or (not depth and word in ("if", "elif", "else") and prev in _STATEMENT_START)
        ):
            header = True
        elif is_op and word == "{":
            header = False
        if is_op and word == ";" and density and gen.rng.random() < 0.3:
            out.append(gen.newline(True))
            prev, last = "nl", None
            continue
        out.append(word)
        prev = word if is_op and word in (";", "{", "}") else tok.kind
        last = tok
    variant = "".join(out)
    got, want = ([t for t in _significant(s) if t != ";"] for s in (variant, text))
    assert got == want
    return variant
