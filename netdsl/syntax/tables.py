"""Lark's analysis of the grammar as plain data, cached on disk, so a check need not import Lark.

:mod:`netdsl.syntax.lalr` runs the LALR(1) table Lark computes from ``grammar/netdsl.lark``.
This module extracts what it needs from a :class:`lark.Lark` (the parse table, each
rule's tree-shaping recipe, the lexer's terminal regex, keyword and ignore sets) into
JSON-able data, and keeps that data in the user's cache directory
(``$XDG_CACHE_HOME/netdsl``, or ``~/.cache/netdsl``; ``NETDSL_CACHE_DIR`` overrides),
keyed by the grammar's text. Importing Lark and loading its grammar took about 30 ms
of a ``netdsl shapes`` process (an eighth of it); reading the tables and building the
driver from them takes about 6 ms.
Lark remains the source of truth: on a cache miss (a first run, an edited grammar)
the tables are rebuilt from Lark, and every syntax error is still reported by Lark.

The file holds the grammar's full text and is used only when that text is equal,
and only known builder names are accepted from it, so a stale or foreign file
means a rebuild, never a wrong parse.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: Bumped whenever the layout below changes: older files are then ignored.
FORMAT = 2

_BUILD, _EXPAND, _INLINE = 0, 1, 2  # as in netdsl.syntax.lalr


def cache_dir() -> Path | None:
    """Where the tables are kept: ``NETDSL_CACHE_DIR``, else ``$XDG_CACHE_HOME/netdsl``, else
    ``~/.cache/netdsl``; None (no cache) when there is no home directory to expand ``~`` to."""
    explicit = os.environ.get("NETDSL_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        home = os.path.expanduser("~")
        if home.startswith("~"):  # not expanded: never a directory named `~` in the working directory
            return None
        base = os.path.join(home, ".cache")
    return Path(base) / "netdsl"


def load(grammar: Path, builders: Iterable[str], fresh: bool = False) -> dict[str, Any]:
    """The tables for ``grammar``: from the cache when it holds this exact grammar, else built (and cached).

    ``fresh``: build them from Lark (and cache them) whatever the cache holds.
    """
    text = grammar.read_text(encoding="utf-8")
    directory = cache_dir()
    path = None if directory is None else directory / f"tables-v{FORMAT}-{zlib.crc32(text.encode()):08x}.json"
    names = set(builders)
    if path is not None and not fresh:
        cached = _read(path, text, names)
        if cached is not None:
            return cached
    from netdsl.syntax.lark_grammar import parser  # Lark only here (and on the error path)

    data = from_lark(parser(), text, names)
    if path is not None:
        _write(path, data)
    # Always the JSON form, so a fresh build and a cached one give the same driver.
    return json.loads(json.dumps(data))  # type: ignore[no-any-return]


def _read(path: Path, text: str, names: set[str]) -> dict[str, Any] | None:
    """The cached tables, or None when the file is missing, unreadable or not made for this grammar."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if _valid(data, text, names) else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
        return None


def _write(path: Path, data: dict[str, Any]) -> None:
    """Cache the tables (atomically), removing earlier grammars' or formats' files; never fails."""
    from netdsl.atomic import write_atomic

    try:
        write_atomic(path, json.dumps(data, separators=(",", ":")))
        for old in path.parent.glob("tables-v*.json"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only home: the tables are rebuilt next time, which is only slower


def _valid(data: Any, text: str, names: set[str]) -> bool:
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("grammar") != text:
        return False
    plans = data["plans"]
    refs_ok = all(
        a[0] < len(plans) and isinstance(plans[a[0]], list)
        for row in data["states"].values()
        for a in row.values()
        if isinstance(a, list)
    )
    return refs_ok and all(isinstance(p, str) or p[3] is None or p[3] in names for p in plans)


def from_lark(lark: Any, grammar: str, builders: set[str]) -> dict[str, Any]:
    """Extract the tables from a ``Lark(parser="lalr", lexer="basic", propagate_positions=True,
    maybe_placeholders=True)`` whose post-lexer keeps its tokens' types.

    Raises ``ValueError`` for another configuration, for a lexer whose terminals do not fit one
    regex, and for a rule that no builder handles (Lark would leave a ``Tree`` in the result).
    """
    from lark import Tree
    from lark.lexer import PatternStr
    from lark.parsers.lalr_analysis import Shift

    opts = lark.options
    shaping = (opts.parser, opts.lexer, opts.propagate_positions, opts.maybe_placeholders)
    if shaping != ("lalr", "basic", True, True):
        raise ValueError("the tables need LALR, the basic lexer, propagate_positions and maybe_placeholders")
    if opts.transformer is not None or opts.tree_class not in (None, Tree):
        raise ValueError("the tables need Lark's default tree building (no transformer, no tree_class)")
    frontend = lark.parser  # ParsingFrontend
    table = frontend.parser.parser.parse_table  # LALR_Parser → _Parser → IntParseTable
    (root,) = table.start_states  # one start symbol, as `Lark.parse` without `start=` requires
    basic = frontend.lexer.lexer  # PostLexConnector → BasicLexer
    regexes = basic.scanner._mres  # also builds `basic.callback`, the keyword retyping of NAME tokens
    if len(regexes) != 1:
        raise ValueError(f"the lexer's terminals need {len(regexes)} regexes; the tables hold one")
    keywords: dict[str, dict[str, str]] = {}
    for kind, callback in basic.callback.items():  # Lark's UnlessCallback: whole-token matches of strings
        terminals = callback.scanner.terminals
        if not all(isinstance(t.pattern, PatternStr) and not t.pattern.flags for t in terminals):
            raise ValueError(f"terminal {kind} is retyped by a pattern, not by keywords")
        keywords[kind] = {t.pattern.value: t.name for t in terminals}
    plans: list[Any] = []  # each rule's plan once; actions refer to it as [index]
    index: dict[int, int] = {}
    states: dict[str, dict[str, Any]] = {}
    for state, row in table.states.items():
        actions: dict[str, Any] = {}
        for sym, (action, arg) in row.items():
            if action is Shift:
                actions[sym] = int(arg)
                continue
            if id(arg) not in index:
                index[id(arg)] = len(plans)
                plans.append(_plan(arg, builders))
            plan = plans[index[id(arg)]]
            actions[sym] = plan if isinstance(plan, str) else [index[id(arg)]]
        states[str(int(state))] = actions
    return {
        "format": FORMAT,
        "grammar": grammar,
        "root": root,
        "start": int(table.start_states[root]),
        "end": int(table.end_states[root]),
        "states": states,
        "plans": plans,
        "lexer": {
            "pattern": regexes[0].pattern,
            "flags": int(regexes[0].flags),
            "keywords": keywords,
            "ignore": sorted(basic.ignore_types),
            "newline": sorted(basic.newline_types),
        },
    }


def _plan(rule: Any, builders: set[str]) -> str | list[Any]:
    """How to reduce by ``rule``, precomputed once (mirrors Lark's ``ParseTreeBuilder._init_builders``).

    A rule name (str) for a one-child ``?a: b`` reduction, which only changes the parser's state;
    else ``[kind, size, origin, builder name or None, template or None, include, trailing Nones]``
    (kept once in the tables' ``plans``; the actions that reduce by it hold ``[its index]``).
    """
    expansion, opts = rule.expansion, rule.options
    origin: str = rule.origin.name
    # `empty_indices` has a flag per symbol of the rule as written, True where a `[x]` was left out
    # of this expansion: each run of Trues before the k-th symbol is that many Nones before it.
    flags = "".join("1" if e else "0" for e in opts.empty_indices) if opts.empty_indices else "0" * len(expansion)
    nones = [len(run) for run in flags.split("0")]
    include, pending = [], 0
    for i, sym in enumerate(expansion):  # as Lark's `maybe_create_child_filter`
        pending += nones[i]
        if opts.keep_all_tokens or not (sym.is_term and sym.filter_out):
            include.append([i, not sym.is_term and sym.name.startswith("_"), pending])
            pending = 0
    tail = pending + nones[len(expansion)]
    spliced = any(s for _, s, _ in include)
    template = None if spliced else [j for i, _, n in include for j in (*[-1] * n, i)] + [-1] * tail
    expand = bool(opts.expand1) and not rule.alias  # Lark's ExpandSingleChild
    if origin.startswith("_"):
        return [_INLINE, len(expansion), origin, None, template, include, tail]
    if expand and template == [0] and len(expansion) == 1:
        return origin
    name = rule.alias or origin
    if not expand and name not in builders:
        raise ValueError(f"no builder for rule {name!r}")
    return [
        _EXPAND if expand else _BUILD,
        len(expansion),
        origin,
        name if name in builders else None,
        template,
        include,
        tail,
    ]
