"""Laying out the formatter's lines: spacing between tokens, indentation, long lines, comments.

* Indentation follows the brackets: inside a ``{``, ``(`` or ``[`` that ends its line, one level
  (4 spaces) deeper than that line; inside one followed by more on its line, aligned under what
  follows it (``{ conv1: …`` continues under ``conv1``); a line that starts with a closer goes back
  to the indentation of the line that opened it.
* Spacing as the shipped specs write it: ``a + b``, ``f(x, y=1)``, ``let n = 2``, ``name: layer``,
  ``x -> skip``, ``@skip``, ``in.c``, ``-1``, ``{}`` and ``{ a; b }``.
* A line longer than :data:`LINE_LENGTH` is split at its ``;`` separators, else after the first ``{``
  of a group and before its ``}``; lines that still do not fit stay as they are.
* Trailing comments on consecutive lines are aligned two spaces after the longest code (gofmt style).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from netdsl.formatter.layout import Line
from netdsl.formatter.tokens import CLOSERS, OPENERS, Tok, ends_operand

#: The width a ``;`` group or a one-line group may take before it is split (the project's line length).
LINE_LENGTH = 120
INDENT = 4

_NO_SPACE_AFTER = frozenset(("(", "[", ".", "@"))
_NO_SPACE_BEFORE = frozenset((",", ";", ":", ")", "]", "."))


def _space(prev: Tok, tok: Tok) -> bool:
    """Whether one space separates ``prev`` and ``tok`` on a line."""
    p, t = prev.text, tok.text
    if prev.kind == "op" and (p in _NO_SPACE_AFTER or prev.unary or (p == "=" and prev.depth > 0)):
        return False
    if tok.kind != "op":
        return True
    if t == ".":
        return prev.kind == "int"  # `1 .c` stays apart: `1.c` would read as the float `1.`
    if t in _NO_SPACE_BEFORE:
        return False
    if t == "}":
        return p != "{"
    if t == "(":
        return not (prev.kind == "name" or (prev.kind == "kw" and p == "input"))
    if t == "[":
        return not ends_operand(prev)  # indexing: `depths[s]`; a list: `= [1, 2]`
    if t == "=":
        return tok.depth == 0
    return True


@dataclass
class _Frame:
    inner: int  # the indentation of lines inside the bracket
    outer: int  # the indentation of the line that opened it (for a line starting with its closer)


@dataclass
class _Row:
    blank: int
    code: str  # indentation included; for a comment-only line, the indentation alone
    comment: str | None
    has_code: bool


def _indent(toks: list[Tok], stack: list[_Frame]) -> int:
    if not stack:
        return 0
    if toks and toks[0].kind == "op" and toks[0].text in CLOSERS:
        return stack[-1].outer
    return stack[-1].inner


def _render_code(toks: list[Tok], indent: int) -> tuple[str, list[int]]:
    parts, cols, col = [" " * indent], [], indent
    for i, tok in enumerate(toks):
        if i and _space(toks[i - 1], tok):
            parts.append(" ")
            col += 1
        cols.append(col)
        parts.append(tok.text)
        col += len(tok.text)
    return "".join(parts), cols


def _advance(stack: list[_Frame], toks: list[Tok], cols: list[int], indent: int) -> None:
    for i, tok in enumerate(toks):
        if tok.kind != "op":
            continue
        if tok.text in OPENERS:
            stack.append(_Frame(cols[i + 1] if i + 1 < len(toks) else indent + INDENT, indent))
        elif tok.text in CLOSERS and stack:
            stack.pop()


def _pieces(line: Line, cuts: list[tuple[int, int]]) -> list[Line]:
    """``line`` cut into lines: each cut is (end of a piece, start of the next)."""
    out, start = [], 0
    for end, nxt in cuts:
        out.append(Line(line.toks[start:end], None, 0, "sep"))
        start = nxt
    out.append(Line(line.toks[start:], line.comment, 0, "sep"))
    out[0].blank, out[0].brk = line.blank, line.brk
    return [p for p in out if p.toks] or [line]


def split_line(line: Line) -> list[Line] | None:
    """A too-long line as several, or None when it has no place to split.

    In order: at the ``;`` between statements of the enclosing body; at those of a group that opens
    on this line and goes on below (its next lines stay under its first statement); after the ``{``
    and before the ``}`` of the first group opened and closed on this line; after a ``{`` that ends
    nothing on this line.
    """
    toks = line.toks
    opened: list[int] = []  # braces opened on this line and not yet closed
    semis: list[tuple[int, tuple[int, ...]]] = []  # each `;` and the braces open around it
    first_group = None
    for i, tok in enumerate(toks):
        if tok.kind != "op":
            continue
        if tok.text == "{":
            opened.append(i)
        elif tok.text == "}" and opened:
            start = opened.pop()
            if first_group is None and not opened and i > start + 1:
                first_group = (start, i)
        elif tok.text == ";":
            semis.append((i, tuple(opened)))
    for around in ((), tuple(opened[:1])):
        if cuts := [(i, i + 1) for i, where in semis if where == around]:
            return _pieces(line, cuts)
    if first_group is not None:
        start, end = first_group
        return _pieces(line, [(start + 1, start + 1), (end, end)])
    if opened and opened[0] + 1 < len(toks):
        return _pieces(line, [(opened[0] + 1, opened[0] + 1)])
    return None


def render(lines: list[Line]) -> str:
    """The formatted text of ``lines``: one final newline, nothing when there is nothing."""
    stack: list[_Frame] = []
    queue = deque(lines)
    rows: list[_Row] = []
    while queue:
        line = queue.popleft()
        indent = _indent(line.toks, stack)
        code, cols = _render_code(line.toks, indent)
        if len(code) > LINE_LENGTH and (pieces := split_line(line)) is not None and len(pieces) > 1:
            queue.extendleft(reversed(pieces))
            continue
        _advance(stack, line.toks, cols, indent)
        rows.append(_Row(line.blank, code, line.comment, bool(line.toks)))
    return _assemble(rows)


def _assemble(rows: list[_Row]) -> str:
    out: list[str] = []
    i = 0
    while i < len(rows):
        j = i + 1  # rows[i:j]: a run of consecutive lines with code and a trailing comment
        if rows[i].has_code and rows[i].comment is not None:
            while j < len(rows) and rows[j].has_code and rows[j].comment is not None and not rows[j].blank:
                j += 1
        width = max(len(r.code) for r in rows[i:j])
        for row in rows[i:j]:
            out.extend([""] * row.blank)
            if row.comment is None:
                out.append(row.code)
            elif row.has_code:
                out.append(row.code.ljust(width) + "  " + row.comment)
            else:
                out.append(row.code + row.comment)
        i = j
    return "\n".join(out) + "\n" if out else ""
