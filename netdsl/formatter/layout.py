"""From tokens to source lines: where the formatter keeps, joins and drops line breaks.

The formatter keeps the author's line structure (like gofmt): each statement separator that
is a newline stays one, and a bracket wrapped over several lines stays wrapped. What it
changes is what the parser ignores anyway: a ``{`` or an ``else`` moved up to the line before,
redundant ``;`` dropped, a body or a statement that spans lines taken out of its line's
``;`` group, runs of blank lines shortened to one (and none right inside a bracket).
:mod:`netdsl.formatter.render` then lays each line out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

from netdsl.formatter.tokens import CLOSERS, OPENERS, Break, Tok


@dataclass
class Line:
    """One output line: its code tokens, its trailing (or only) comment, and the blank lines before it."""

    toks: list[Tok] = field(default_factory=list)
    comment: str | None = None
    blank: int = 0
    brk: Break | None = None  # how the parser treats the line break before it (None: the first line)


def build_lines(toks: list[Tok]) -> list[Line]:
    """The source's lines, with header and ``else`` breaks joined, ``;`` tidied and blank lines normalised."""
    lines: list[Line] = []
    cur = Line()
    for tok in toks:
        if tok.kind == "nl":
            lines.append(cur)
            cur = Line(blank=tok.newlines - 1, brk=tok.brk)
        elif tok.kind == "comment":
            cur.comment = tok.text
        else:
            cur.toks.append(tok)
    lines.append(cur)
    return _blank_lines(_statements_apart(_unhang_bodies(_tidy(_join(lines)))))


def _join(lines: list[Line]) -> list[Line]:
    """Move a header's ``{`` and an ``else``/``elif`` up to the line before (unless a comment is between)."""
    out: list[Line] = []
    for line in lines:
        prev = out[-1] if out else None
        if prev is not None and line.brk in ("header", "else") and line.toks and prev.toks and prev.comment is None:
            prev.toks.extend(line.toks)
            prev.comment = line.comment
        else:
            out.append(line)
    return out


def _is(tok: Tok, texts: str | frozenset[str]) -> bool:
    return tok.kind == "op" and tok.text in texts


def _tidy_semicolons(toks: list[Tok]) -> list[Tok]:
    """Drop each ``;`` that separates nothing: at a line's ends, after ``{`` or ``;``, before ``}``."""
    out: list[Tok] = []
    for tok in toks:
        if _is(tok, ";") and (not out or _is(out[-1], ";") or _is(out[-1], "{")):
            continue
        if _is(tok, "}") and out and _is(out[-1], ";"):
            out.pop()
        out.append(tok)
    while out and _is(out[-1], ";"):
        out.pop()
    return out


def _tidy(lines: list[Line]) -> list[Line]:
    out: list[Line] = []
    carry = 0  # blank lines before a line that turned out empty
    for line in lines:
        line.toks = _tidy_semicolons(line.toks)
        if not line.toks and line.comment is None:
            carry = max(carry, line.blank) if line.brk in (None, "sep") else carry
            continue
        if line.brk in (None, "sep"):
            line.blank = max(line.blank, carry)
        carry = 0
        out.append(line)
    return out


def _unhang_bodies(lines: list[Line]) -> list[Line]:
    """A body (of a net, block, if, elif, else) over several lines opens at a line's end and closes on its own.

    ``net N { input(3)`` / ``    relu }`` becomes three lines. Groups may hang (``{ conv1: …`` with the
    next line under ``conv1``), as the shipped specs write residual paths.
    """
    where: dict[int, tuple[int, int]] = {}  # id(token) → (line, position)
    stack: list[Tok] = []
    cuts: dict[int, set[int]] = {}
    for n, line in enumerate(lines):
        for k, tok in enumerate(line.toks):
            where[id(tok)] = (n, k)
            if _is(tok, "{"):
                stack.append(tok)
            elif _is(tok, "}") and stack:
                opener = stack.pop()
                (lo, ko), (lc, kc) = where[id(opener)], (n, k)
                if opener.body and lo != lc and ko + 1 < len(lines[lo].toks):
                    cuts.setdefault(lo, set()).add(ko + 1)
                    if kc:
                        cuts.setdefault(lc, set()).add(kc)
    if not cuts:
        return lines
    out: list[Line] = []
    for n, line in enumerate(lines):
        bounds = [0, *sorted(cuts.get(n, ())), len(line.toks)]
        pieces = [Line(line.toks[a:b], None, 0, "sep") for a, b in pairwise(bounds)]
        pieces[0].blank, pieces[0].brk, pieces[-1].comment = line.blank, line.brk, line.comment
        out.extend(pieces)
    return out


def _multiline_cuts(toks: list[Tok]) -> list[int]:
    """Where a line's ``;`` groups a statement that spans lines with others: those ``;`` positions.

    A ``;`` after a ``}`` that closes a brace of an earlier line, and the last ``;`` before a brace
    that this line opens and does not close.
    """
    opened: list[int] = []
    semis: list[int] = []
    cuts: list[int] = []
    closed_earlier = False  # a `}` of a brace opened on an earlier line came before
    for k, tok in enumerate(toks):
        if _is(tok, "{"):
            opened.append(k)
        elif _is(tok, "}"):
            if opened:
                opened.pop()
            else:
                closed_earlier = True
        elif _is(tok, ";") and not opened:
            semis.append(k)
            if closed_earlier:
                cuts.append(k)
                closed_earlier = False
    if opened and (before := [k for k in semis if k < opened[0]]):
        cuts.append(before[-1])
    return sorted(set(cuts))


def _statements_apart(lines: list[Line]) -> list[Line]:
    """A statement over several lines is not part of a ``;`` group: ``}; relu`` and ``relu; x: {`` split."""
    out: list[Line] = []
    for line in lines:
        cuts = _multiline_cuts(line.toks)
        if not cuts:
            out.append(line)
            continue
        bounds = [(0, 0), *((k, k + 1) for k in cuts), (len(line.toks), len(line.toks))]
        pieces = [Line(line.toks[a[1] : b[0]], None, 0, "sep") for a, b in pairwise(bounds)]
        pieces[0].blank, pieces[0].brk, pieces[-1].comment = line.blank, line.brk, line.comment
        out.extend(pieces)
    return out


def _blank_lines(lines: list[Line]) -> list[Line]:
    """At most one blank line; none at the start, inside brackets, after an opener or before a closer."""
    for i, line in enumerate(lines):
        prev = lines[i - 1] if i else None
        keep = (
            prev is not None
            and line.brk == "sep"
            and not (prev.toks and _is(prev.toks[-1], OPENERS))
            and not (line.toks and _is(line.toks[0], CLOSERS))
        )
        line.blank = min(line.blank, 1) if keep else 0
    return lines
