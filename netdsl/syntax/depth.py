"""How deeply a file nests, counted on its tokens: one level per bracket and per operator.

Every bracket kind counts the same: each open ``(``, ``[`` and ``{`` is one level. Inside
brackets, each operator of an expression is one more (``-(-(-x))`` is six levels; an operator
nests its operands in the syntax tree, which later passes walk recursively). A flat chain
``1 + 1 + …`` of *n* terms is *n − 1* levels where it stands, whatever the grammar's own rules
add around it; the levels of a statement's condition end at its ``{``. Past the limit, the
parse stops with E003 at the token that crossed it, so 400,000 nested ``(`` cost microseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from netdsl.errors import Diagnostic, Span

_OPEN = frozenset({"LPAR", "LSQB", "LBRACE"})
_CLOSE = frozenset({"RPAR", "RSQB", "RBRACE"})
# Where one expression ends and the next begins, at the same bracket level.
_RESET = frozenset({"COMMA", "SEMICOLON", "_NL", "EQUAL", "COLON"})
_STATEMENT = frozenset({"IF", "ELIF", "ELSE", "REPEAT", "LET", "AS"})
_OPERATORS = frozenset(
    {"+", "-", "*", "/", "//", "%", "**", "==", "!=", "<", "<=", ">", ">=", "and", "or", "not", "if", "."}
)


class TooDeep(Exception):
    """The token stream crossed the nesting limit at ``token``; ``start`` begins the expression (operators)."""

    def __init__(self, token: Any, start: Any, by_operator: bool) -> None:
        super().__init__("too deep")
        self.token, self.start, self.by_operator = token, start, by_operator


class TooMany(Exception):
    """The file holds more statements than the net may have modules (``token`` starts the first one too many)."""

    def __init__(self, token: Any, limit: int) -> None:
        super().__init__("too many statements")
        self.token, self.limit = token, limit


def guard(limit: int, max_statements: int | None = None) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """A filter of a post-lexed token stream raising :class:`TooDeep` once the levels pass ``limit``,
    and :class:`TooMany` once the file holds more than ``max_statements`` statements: each is at least
    one module, so a 5 MB file of layers stops as its parse crosses the limit, not seconds later."""
    most = (1 << 62) if max_statements is None else max_statements

    def run(tokens: Iterator[Any]) -> Iterator[Any]:
        outer, ops, start = 0, 0, None  # levels of the enclosing brackets; operators at this level; first token
        body = False  # whether the innermost bracket is a `{` (statements)
        stack: list[tuple[int, int, Any, bool]] = []
        statements = 0
        for tok in tokens:
            kind = tok.type
            if kind in _OPEN:
                stack.append((outer, ops, start, body))
                # A `{` opens statements: the condition before it does not enclose them.
                body = kind == "LBRACE"
                outer = outer + 1 + (0 if body else ops)
                ops, start = 0, None
                if outer > limit:
                    raise TooDeep(tok, tok, False)
            elif kind in _CLOSE:
                if stack:
                    outer, ops, start, body = stack.pop()
                    if kind == "RBRACE":  # a body ends its statement or clause: `elif` starts a new condition
                        ops, start = 0, None
            elif kind in _RESET:
                ops, start = 0, None
            elif start is None and kind in _STATEMENT:
                pass  # `if cond {`: a statement's keyword, not the ternary `a if c else b`
            else:
                if start is None:
                    start = tok
                    if body:
                        statements += 1
                        if statements > most:
                            raise TooMany(tok, most)
                if tok in _OPERATORS:  # (a string token keeps its quotes, so never equals one)
                    ops += 1
                    if outer + ops > limit:
                        raise TooDeep(tok, start, True)
            yield tok

    return run


def first_too_deep(
    tokens: Iterator[Any], limit: int, before: int, max_statements: int | None = None
) -> TooDeep | TooMany | None:
    """Where ``tokens`` (up to offset ``before``) cross a limit, if they do; a lexing error ends the stream."""
    try:
        for tok in guard(limit, max_statements)(tokens):
            if tok.start_pos >= before:
                break
    except (TooDeep, TooMany) as deep:
        return deep
    except Exception:  # the lexer stopped at a character no token matches: what came before was fine
        return None
    return None


def too_deep(deep: TooDeep | TooMany, file: str, limit: int) -> Diagnostic:
    """The E003 diagnostic at the place the nesting crossed ``limit`` (E132 past the statements' limit)."""
    from netdsl.limits import how_to_raise

    if isinstance(deep, TooMany):
        tok = deep.token
        return Diagnostic(
            "E132",
            f"the file holds more than {deep.limit:,} statements, so the net expands to more than "
            f"{deep.limit:,} modules and repeat iterations",
            Span(file, tok.line, tok.column, tok.end_line, tok.end_column),
            hint="a generated spec? use `repeat` and blocks (real nets have far fewer); " + how_to_raise("max_nodes"),
        )
    first, tok = deep.start, deep.token
    span = Span(file, first.line, first.column, tok.end_line, tok.end_column)
    if deep.by_operator:
        message = (
            f"this expression is more than {limit} levels deep here: each operator counts one level "
            "(a chain `1 + 1 + …` of n terms is n − 1), as each bracket does"
        )
    else:
        message = f"brackets nest more than {limit} levels deep here (each `(`, `[` and `{{` is one level)"
    return Diagnostic(
        "E003",
        message,
        span,
        hint="split long expressions with `let` and flatten nested groups; " + how_to_raise("max_syntax_depth", limit),
    )


def deepest(tokens: Iterator[Any]) -> int:
    """The most levels the tokens reach: the smallest limit :func:`guard` lets them pass (tests, tools)."""
    items = list(tokens)

    def passes(limit: int) -> bool:
        return first_too_deep(iter(items), limit, 1 << 62) is None

    if passes(0):
        return 0
    high = 1
    while not passes(high):
        high *= 2
    low = high // 2  # `low` fails (or is 0, which failed above), `high` passes
    while low + 1 < high:
        mid = (low + high) // 2
        low, high = (low, mid) if passes(mid) else (mid, high)
    return high
