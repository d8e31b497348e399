"""Run an LALR(1) table computed by Lark, building the caller's nodes at each reduction.

Lark's own path first builds a parse tree (a ``Tree`` and a ``Meta`` per rule, positions
propagated by wrapper objects) that a ``Transformer`` then walks again; for small files that
costs more than the parsing. :class:`Driver` runs the tables :mod:`netdsl.syntax.tables` extracts
from Lark (the analysed table, each rule's recipe, the lexer's terminals) and at each
reduction does what :mod:`lark.parse_tree_builder` and the Transformer would do: shape the
children (filtered tokens dropped, ``_rule`` children inlined, ``[x]`` placeholders as
``None``, a ``?rule``'s only child in its place), give the node the position Lark's
``PropagatePositions`` would (first to last non-empty child *before* filtering, so dropped
keywords and brackets count), and call the builder named after the rule. It also tracks each
node's height in Lark's tree. It does not import Lark: its tokens are :class:`Tok`.

Only successful parses are handled: on any lexing or parsing error :meth:`Driver.parse` raises,
and the caller asks Lark itself, whose exceptions carry what error reporting needs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from itertools import chain
from typing import Any, Final

# A stack entry: (value, height, line, column, end_line, end_column). A tree (a built node) has
# height ≥ 1, a token or a `None` placeholder 0, an inlined `_rule`'s list its tallest child's.
# The position is the extent a parent sees (Lark's "container" position); Nones when empty.
Entry = tuple[Any, int, Any, Any, Any, Any]
# A builder: (span, or None when empty; children) → value. Spans come from `make_span`.
Builder = Callable[[Any, list[Any]], Any]
Include = tuple[tuple[int, bool, int], ...]  # kept children: (index, spliced, Nones before it)
# A reduction: (kind, size, origin, builder, template, include, trailing Nones); see netdsl.syntax.tables._plan.
Plan = tuple[int, int, str, Builder | None, tuple[int, ...] | None, Include, int]
# A table action: the next state (int) for a shift or a goto; the rule's name (str) for a `?a: b`
# reduction (only the state changes: the commonest reduction); else the reduction's Plan. Any,
# as the parsing loop tells them apart by class.
Action = Any

_BUILD, _EXPAND, _INLINE = 0, 1, 2  # a new node; a `?rule` (the child alone, if one); a `_rule`
_EMPTY: Final[Entry] = (None, 0, None, None, None, None)  # a `[x]` placeholder


class _End:
    type = "$END"  # the end-of-input lookahead, as Lark's `$END` token


class ParseFailed(Exception):
    """The driver did not parse this text (a syntax error, or too deep); ask Lark for the details."""


class Tok(str):
    """A token: its text, with its terminal type and position (the attributes of ``lark.Token``)."""

    type: str
    start_pos: int
    line: int
    column: int
    end_line: int
    end_column: int
    end_pos: int

    def __new__(
        cls, type: str, value: str, start_pos: int, line: int, column: int, end_line: int, end_column: int, end_pos: int
    ) -> Tok:
        tok = super().__new__(cls, value)
        tok.type, tok.start_pos, tok.line, tok.column = type, start_pos, line, column
        tok.end_line, tok.end_column, tok.end_pos = end_line, end_column, end_pos
        return tok

    @property
    def value(self) -> str:
        return str(self)

    def __repr__(self) -> str:
        return f"Tok({self.type!r}, {str(self)!r})"


class Driver:
    """An LALR(1) table (from :func:`netdsl.syntax.tables.load`), run with nodes built during the reductions."""

    def __init__(
        self,
        tables: Mapping[str, Any],
        builders: Mapping[str, Builder],
        postlex: Callable[[Iterator[Tok]], Iterator[Tok]],
    ) -> None:
        """``builders`` maps rules' callback names (alias, else name) to builders; ``postlex`` filters
        the token stream (as Lark's post-lexer does) before the parser sees it."""
        self._root: str = tables["root"]
        self._start: int = tables["start"]
        self._end: int = tables["end"]
        lexer = tables["lexer"]
        self._regex = re.compile(lexer["pattern"], lexer["flags"])
        self._keywords: dict[str, dict[str, str]] = lexer["keywords"]
        self._ignore, self._newline = frozenset(lexer["ignore"]), frozenset(lexer["newline"])
        self._postlex = postlex

        def plan(p: Any) -> Action:  # a plan's builder by name, and tuples for the parsing loop
            if isinstance(p, str):
                return p
            kind, size, origin, name, template, include, tail = p
            return (
                kind,
                size,
                origin,
                None if name is None else builders[name],
                None if template is None else tuple(template),
                tuple((i, bool(splice), nones) for i, splice, nones in include),
                tail,
            )

        plans = [plan(p) for p in tables["plans"]]
        # state → lookahead (or rule name, for a goto) → action: a state (int), a `?a: b` rule (str), a plan
        self._table: dict[int, dict[str, Action]] = {
            int(state): {sym: plans[a[0]] if a.__class__ is list else a for sym, a in row.items()}
            for state, row in tables["states"].items()
        }
        # (state below, state, lookahead) → the state after the chain of `?a: b` reductions there
        self._chains: dict[tuple[Any, Any, str], Any] = {}

    def tokens(self, text: str) -> Iterator[Tok]:
        """``text``'s tokens as the parser sees them (post-lexed)."""
        return self._postlex(self._scan(text))

    def _scan(self, text: str) -> Iterator[Tok]:
        """The tokens Lark's ``BasicLexer`` gives, from its terminal regex, keyword and ignore sets.
        A character no terminal matches ends the parse (Lark's path reports it)."""
        match, keywords, ignore, newline = self._regex.match, self._keywords, self._ignore, self._newline
        pos, line, line_start, size = 0, 1, 0, len(text)
        while pos < size:
            found = match(text, pos)
            if found is None:
                raise ParseFailed(f"no token at {line}:{pos - line_start + 1}")
            # (every terminal is a named group: `lastgroup` is its name)
            value, kind, start, start_line, col = found.group(0), found.lastgroup, pos, line, pos - line_start + 1
            pos = found.end()
            if kind in newline and (count := value.count("\n")):
                line += count
                line_start = start + value.rindex("\n") + 1
            if kind in ignore:
                continue
            if kind in keywords:  # `net`, `if` … match NAME too: Lark retypes the whole-word matches
                kind = keywords[kind].get(value, kind)
            yield Tok(kind, value, start, start_line, col, line, pos - line_start + 1, pos)  # type: ignore[arg-type]

    def parse(
        self,
        text: str,
        make_span: Callable[[int, int, int, int], Any],
        max_height: int,
        guard: Callable[[Iterator[Tok]], Iterator[Tok]] | None = None,
    ) -> tuple[Any, int]:
        """The start rule's value for ``text``, and the height of Lark's tree for it.

        ``make_span(line, column, end_line, end_column)`` makes the spans passed to builders.
        Raises :class:`ParseFailed` on a lexing or syntax error, or as soon as the tree would grow
        taller than ``max_height`` levels; builders' exceptions propagate, and so do ``guard``'s,
        a filter of the token stream (:func:`netdsl.syntax.depth.guard`) run as the parser reads it.
        """
        table, root, end = self._table, self._root, self._end
        states: list[Any] = [self._start]
        stack: list[Entry] = []
        push = stack.append
        chains = self._chains
        tok: Any
        tokens = self.tokens(text) if guard is None else guard(self.tokens(text))
        for tok in chain(tokens, (_End,)):
            ttype = tok.type
            while True:  # reduce as long as the table says so, then shift (as Lark's `feed_token`)
                act = table[states[-1]].get(ttype)
                if act.__class__ is str:  # `?a: b`, and such reductions after it: the entry stays as it is
                    below = states[-2]
                    key = (below, states[-1], ttype)
                    top = chains.get(key)
                    if top is None:  # follow the chain once: it depends on nothing else
                        top = table[below][act]
                        while (nxt := table[top].get(ttype)).__class__ is str:
                            top = table[below][nxt]
                        chains[key] = top
                    states[-1] = top
                    act = table[top].get(ttype)
                if act.__class__ is int:
                    states.append(act)
                    push((tok, 0, tok.line, tok.column, tok.end_line, tok.end_column))
                    break
                if act is None:
                    raise ParseFailed(f"unexpected {ttype}")
                origin, entry = _reduce(act, stack, states, max_height, make_span, root)
                states.append(table[states[-1]][origin])
                push(entry)
                if states[-1] == end:  # only reached by reducing the start rule, on `$END`
                    return entry[0], entry[1]
        raise ParseFailed("input ended before the start rule")  # pragma: no cover - `$END` always ends above


def _reduce(
    act: Any,
    stack: list[Entry],
    states: list[Any],
    max_height: int,
    make_span: Callable[[int, int, int, int], Any],
    root: Any,
) -> tuple[Any, Entry]:
    """Apply one reduction: pop its children off ``stack``/``states``, build its value; (the rule, the new entry).

    Entries are plain tuples ``(value, height, line, col, end_line, end_col)``: the driver makes one per
    token and per reduction, and a tuple is built in C (this is the parser's hot path).
    """
    kind, size, origin, build, template, include, tail = act
    if size == 1:  # the commonest: the rule has the child's position and height
        ents = [stack.pop()]
        del states[-1]
        _, height, line, col, end_line, end_col = ents[0]
    elif size:
        ents = stack[-size:]
        del stack[-size:], states[-size:]
        first, last = ents[0], ents[-1]
        if first[2] is None or last[2] is None:  # an empty child at an edge
            line, col, end_line, end_col = _bounds(ents)
        else:
            line, col, end_line, end_col = first[2], first[3], last[4], last[5]
        height = max([e[1] for e in ents])
    else:
        ents, line, col, end_line, end_col, height = [], None, None, None, None, 0
    # A `?rule` with one child gives the child itself. A tree keeps its own span (already built
    # into its value), but its new parent sees it with this rule's extent (Lark's container
    # position, so `(a + b) * c` starts at its `(`); a token or a None stays as it is.
    entry: Entry | None = None
    if template is not None:  # nothing spliced: pick the children (-1 for a None)
        if kind == _EXPAND and len(template) == 1:
            kid = _EMPTY if template[0] < 0 else ents[template[0]]
            entry = kid if kid[1] == 0 else (kid[0], kid[1], line, col, end_line, end_col)
        else:
            vals = [ents[i][0] if i >= 0 else None for i in template]
    else:
        vals = _shape(ents, include, tail)
        if kind == _EXPAND and len(vals) == 1:  # its height is this rule's: tokens only beside it
            one = vals[0]
            entry = (
                (one, height, line, col, end_line, end_col) if height
                else _EMPTY if one is None
                else (one, 0, one.line, one.column, one.end_line, one.end_column)
            )  # fmt: skip
    if entry is None and kind == _INLINE:  # a `_rule`: its children, spliced into the parent's later
        entry = (vals, height, line, col, end_line, end_col)
    elif entry is None:  # a new node
        if height >= max_height:  # it would be one level too many
            raise ParseFailed(f"deeper than {max_height} levels")
        if build is None or (line is None and origin != root):
            # A `?rule` with several children but no builder (Lark would keep a Tree), or an
            # empty node inside others (a later `?rule` would move its position): neither in
            # our grammar, and Lark's path does them right.
            raise ParseFailed(f"unsupported reduction of {origin!r}")
        span = None if line is None else make_span(line, col, end_line, end_col)
        entry = (build(span, vals), height + 1, line, col, end_line, end_col)
    return origin, entry


def _shape(ents: list[Entry], include: Include, tail: int) -> list[Any]:
    """The children Lark's child filter would keep (the values of what it keeps, Nones, spliced lists)."""
    out: list[Any] = []
    for i, splice, nones in include:
        if nones:
            out += [None] * nones
        if not splice:
            out.append(ents[i][0])
        elif out:
            out += ents[i][0]
        else:  # take over the inlined list: left-recursive `x*` rules would otherwise copy it at every item
            out = ents[i][0]
    if tail:
        out += [None] * tail
    return out


def _bounds(ents: list[Entry]) -> tuple[Any, Any, Any, Any]:
    """Start of the first and end of the last non-empty entry (all None when every one is empty)."""
    full = [e for e in ents if e[2] is not None]
    if not full:
        return None, None, None, None
    return full[0][2], full[0][3], full[-1][4], full[-1][5]
