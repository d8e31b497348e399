"""Pass 1: text → syntax tree (:mod:`netdsl.syntax.tree`), with friendly syntax errors.

The Lark LALR grammar lives in ``grammar.lark`` (beside this module). :mod:`netdsl.syntax.lalr` runs the
table Lark computes from it (kept as plain data by :mod:`netdsl.syntax.tables`, so a check
does not import Lark) and builds the frozen syntax nodes during the parse
(:class:`netdsl.syntax.builder.Builder`, one method per rule), with the positions Lark would give them.
Whatever it does not parse — a syntax error, a too-deep file — goes through Lark's
own path (:mod:`netdsl.syntax.lark_parse`: its tree, then a Transformer over the same
builder), so diagnostics come from Lark's exceptions exactly as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache, partial

from netdsl.errors import Diagnostic, Span
from netdsl.syntax import tree as S
from netdsl.syntax.builder import BUILDER, LOCK, RULE_NAMES, NewlineFilter, grammar_path
from netdsl.syntax.depth import TooDeep, TooMany, guard, too_deep
from netdsl.syntax.lalr import Driver, Tok

# Trees up to this many levels are built by the driver (which never recurses); taller ones go through
# Lark's path, whose Transformer recurses about twice per level: beyond ~490 levels from a shallow
# stack it raises RecursionError, which `lark_parse.parse_reference` reports as E003. Real specs stay under 20.
# With a nesting limit (:mod:`netdsl.syntax.depth`: brackets and operators), each level of it is at most
# a few of the tree's, so the driver builds trees up to `_TREE_PER_LEVEL` times the limit itself.
_FAST_HEIGHT = 100
_TREE_PER_LEVEL = 8


@cache
def _driver() -> Driver:
    """The LALR driver over the grammar's tables (:mod:`netdsl.syntax.tables`), building with the shared builder."""
    from netdsl.syntax.tables import load

    builders = {name: getattr(BUILDER, name) for name in RULE_NAMES}
    try:
        return Driver(load(grammar_path(), builders), builders, NewlineFilter().process)
    except Exception:  # a cached file that passed load's checks yet makes no driver: rebuild it from Lark
        return Driver(load(grammar_path(), builders, fresh=True), builders, NewlineFilter().process)


def parse_text(
    text: str, file: str = "<spec>", max_depth: int | None = None, max_statements: int | None = None
) -> S.Module | Diagnostic:
    """Parse one file's text; returns the syntax tree, or the (first) syntax error.

    ``max_depth`` bounds the nesting (brackets and operators, :mod:`netdsl.syntax.depth`), so
    that the recursive passes after parsing can never run out of stack (E003 at the place).
    ``max_statements`` (with ``max_depth``) bounds the statements of the file (E132): each is one module
    or more, so a huge generated file stops where its parse crosses the limit on modules.
    """
    module = _parse_fast(text, file, max_depth, max_statements)
    if module is not None:
        return module
    from netdsl.syntax.lark_parse import parse_reference  # Lark: only for what the fast path leaves

    return parse_reference(text, file, max_depth, max_statements)


def _parse_fast(
    text: str, file: str, max_depth: int | None, max_statements: int | None = None
) -> S.Module | Diagnostic | None:
    """The syntax tree built during the parse (:mod:`netdsl.syntax.lalr`); None where Lark's path must decide.

    That is a syntax error, a tree taller than the driver builds, or any other exception:
    :func:`netdsl.syntax.lark_parse.parse_reference` then gives exactly the diagnostic (or exception)
    it always has. Nesting past ``max_depth`` (:mod:`netdsl.syntax.depth`) is E003 here.
    """
    limit = _FAST_HEIGHT if max_depth is None else _TREE_PER_LEVEL * max_depth + _FAST_HEIGHT
    with LOCK:
        driver = _driver()  # outside the `try`: a driver that cannot be built is a bug, not a fallback
        BUILDER.file = file
        try:
            check = None if max_depth is None else guard(max_depth, max_statements)
            module, _ = driver.parse(text, partial(Span, file), limit, check)
        except (TooDeep, TooMany) as deep:  # every token before it parsed: the nesting is the first mistake
            return too_deep(deep, file, max_depth or 0)
        except Exception:  # whatever went wrong, the reference path decides what to report
            return None
        finally:
            BUILDER.file = "<spec>"
    assert isinstance(module, S.Module)
    return module


def tokens(text: str) -> Iterator[Tok]:
    """``text``'s tokens as the parser reads them (post-lexed); stops with an exception at an unknown character."""
    return _driver().tokens(text)
