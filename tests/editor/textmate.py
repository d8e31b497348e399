"""Two TextMate engines for the tests: the real one (Oniguruma, via textmate-grammar-python) and Python's ``re``.

Both return, for a text, the scopes of every character: ``scopes[(line, column)]`` (0-based), the
innermost last. The grammar only has ``match`` rules (no ``begin``/``end``: every netdsl token is on
one line), so a line tokenizer of a few lines does what TextMate does: at each position the rule
whose regex matches earliest wins, ties going to the first in the grammar's order.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

GRAMMAR_PATH = Path(__file__).resolve().parents[2] / "editors" / "vscode" / "syntaxes" / "netdsl.tmLanguage.json"
Scopes = dict[tuple[int, int], list[str]]


def grammar() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(GRAMMAR_PATH.read_text())
    return data


def rules(g: dict[str, Any], patterns: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The grammar's match rules in order, includes resolved."""
    out: list[dict[str, Any]] = []
    for p in g["patterns"] if patterns is None else patterns:
        if "include" in p:
            out += rules(g, g["repository"][p["include"].lstrip("#")]["patterns"])
        elif "patterns" in p:
            out += rules(g, p["patterns"])
        else:
            out.append(p)
    return out


def scopes_re(text: str, g: dict[str, Any] | None = None) -> Scopes:
    g = g or grammar()
    compiled = [(re.compile(r["match"]), r) for r in rules(g)]
    out: Scopes = {}
    for n, line in enumerate(text.split("\n")):
        pos = 0
        while pos < len(line):
            found = [(m.start(), i, m, r) for i, (rx, r) in enumerate(compiled) if (m := rx.search(line, pos))]
            if not found:
                break
            _, _, m, r = min(found, key=lambda f: (f[0], f[1]))
            for c in range(m.start(), m.end()):
                out[(n, c)] = [g["scopeName"], *([r["name"]] if "name" in r else [])]
            for group, cap in r.get("captures", {}).items():
                for c in range(m.start(int(group)), m.end(int(group))):
                    out[(n, c)].append(cap["name"])
            pos = max(m.end(), pos + 1)
    return out


def scopes_oniguruma(text: str, g: dict[str, Any] | None = None) -> Scopes:
    from textmate_grammar.parsers.base import LanguageParser

    parser = LanguageParser(g or grammar())
    element = parser.parse_string(text)
    out: Scopes = {}
    for (line, col), piece, names in element.flatten() if element is not None else []:
        for k in range(len(piece)):
            out[(line, col + k)] = list(names)
    return out
