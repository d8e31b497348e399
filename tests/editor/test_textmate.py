"""The VS Code extension: its manifest, language configuration and TextMate grammar.

The grammar is checked by tokenising every shipped spec, with the real engine (Oniguruma, through
textmate-grammar-python, when installed) and with Python's ``re`` (always), and comparing the scope
of each netdsl token with what it is: keywords, layer calls, block calls, labels, numbers, strings,
comments, captures and uses, each get their scope, and no character is left without one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from textmate import GRAMMAR_PATH, Scopes, grammar, rules, scopes_oniguruma, scopes_re

from netdsl.formatter.tokens import KEYWORDS, Tok, tokenize
from netdsl.layers.registry import REGISTRY
from netdsl.syntax.parser import grammar_path

ROOT = Path(__file__).resolve().parents[2]
VSCODE = ROOT / "editors" / "vscode"
SHIPPED = sorted([*ROOT.glob("specs/**/*.net"), *ROOT.glob("examples/**/*.net")])
FUNCTIONS = {"min", "max", "abs", "int", "len"}

try:
    import textmate_grammar  # noqa: F401

    ENGINES: list[Callable[[str], Scopes]] = [scopes_re, scopes_oniguruma]
except ImportError:  # the dev extra installs it; without it, Python's `re` alone checks the grammar
    ENGINES = [scopes_re]


def test_manifest_and_configuration() -> None:
    manifest = json.loads((VSCODE / "package.json").read_text())
    (language,) = manifest["contributes"]["languages"]
    assert language["id"] == "netdsl" and language["extensions"] == [".net"]
    assert (VSCODE / language["configuration"]).is_file()
    (tm,) = manifest["contributes"]["grammars"]
    assert tm["language"] == "netdsl" and tm["scopeName"] == grammar()["scopeName"] == "source.netdsl"
    assert (VSCODE / tm["path"]).resolve() == GRAMMAR_PATH
    assert "vscode-languageclient" in manifest["dependencies"]
    main = (VSCODE / manifest["main"]).read_text()
    assert "vscode-languageclient/node" in main and '"lsp"' in main and "TransportKind.stdio" in main
    config = json.loads((VSCODE / "language-configuration.json").read_text())
    assert config["comments"] == {"lineComment": "#"}
    assert ["{", "}"] in config["brackets"] and ["(", ")"] in config["brackets"] and ["[", "]"] in config["brackets"]
    assert {p["open"] for p in config["autoClosingPairs"]} == {"{", "[", "(", '"', "'"}
    assert (VSCODE / "README.md").is_file()


def test_grammar_is_well_formed() -> None:
    g = grammar()
    for p in g["patterns"]:
        assert p["include"].lstrip("#") in g["repository"]
    for rule in rules(g):
        re.compile(rule["match"])  # also Oniguruma: the same constructs only (\b, lookahead, classes)
        assert "name" in rule or "captures" in rule, rule
        assert not ({"begin", "end", "while"} & rule.keys())  # match rules only (see textmate.py)
        for cap in rule.get("captures", {}).values():
            assert "$" not in cap["name"]  # no capture-substituted names: engines disagree on them


def test_keywords_and_layers_are_the_languages() -> None:
    """The reserved words are the grammar file's, and the layer kinds are the registry's."""
    words = set(re.findall(r'"([a-z]+)"', grammar_path().read_text())) | {"inline", "in"}
    assert words == KEYWORDS
    for engine in ENGINES:
        scopes = engine("\n".join(sorted(KEYWORDS)))
        for n, word in enumerate(sorted(KEYWORDS)):
            assert _kind(scopes[(n, 0)]) == "keyword", word
    layers = " ".join(REGISTRY.names())
    for engine in ENGINES:
        scopes = engine(layers)
        for m in re.finditer(r"\w+", layers):
            assert _kind(scopes[(0, m.start())]) == "layer", m.group()


def _kind(scopes: list[str]) -> str:
    """What a token's innermost scope says it is."""
    for outer in ("comment", "string"):  # a comment's `#` is also its punctuation
        if any(s.startswith(outer + ".") for s in scopes):
            return outer
    inner = scopes[-1] if len(scopes) > 1 else ""
    for prefix, kind in (
        ("constant.numeric.", "number"),
        ("support.function.layer.", "layer"),
        ("support.function.builtin.", "function"),
        ("entity.name.function.call.", "call"),
        ("entity.name.tag.label.", "label"),
        ("entity.name.type.", "definition"),
        ("variable.other.capture.", "capture"),
        ("variable.parameter.", "parameter"),
        ("variable.other.definition.", "name"),
        ("variable.other.netdsl", "name"),
        ("keyword.operator.logical.", "keyword"),  # and, or, not
        ("keyword.operator.", "operator"),
        ("punctuation.", "punctuation"),
        ("keyword.", "keyword"),
        ("storage.", "keyword"),
        ("constant.language.", "keyword"),
        ("variable.language.", "keyword"),
    ):
        if inner.startswith(prefix):
            return kind
    return "none"


def expected(toks: list[Tok], i: int) -> str:
    """What token ``i`` of a spec is, read off its neighbours."""
    tok = toks[i]
    nxt = toks[i + 1].text if i + 1 < len(toks) else ""
    prev = toks[i - 1].text if i else ""
    simple = {"comment": "comment", "str": "string", "int": "number", "float": "number", "kw": "keyword"}
    if tok.kind in simple:
        return simple[tok.kind]
    if tok.kind == "op":
        return "operator" if tok.text in ("->", "@") or not re.fullmatch(r"[()\[\]{},;:.]", tok.text) else "punctuation"
    if prev in ("net", "block"):
        return "definition"
    if prev in ("->", "@"):
        return "capture"
    if nxt == ":" or (nxt == "[" and _label_index(toks, i + 1)):
        return "label"
    if tok.text in REGISTRY.names():
        return "layer"
    if nxt == "(":
        return "function" if tok.text in FUNCTIONS else "call"
    return "parameter" if nxt == "=" and prev != "let" else "name"


def _label_index(toks: list[Tok], i: int) -> bool:
    depth = 0
    for j in range(i, len(toks)):
        depth += {"[": 1, "]": -1}.get(toks[j].text, 0) if toks[j].kind == "op" else 0
        if depth == 0:
            return j + 1 < len(toks) and toks[j + 1].text == ":"
    return False


@pytest.mark.parametrize("engine", ENGINES, ids=lambda e: e.__name__)
def test_shipped_specs_get_the_right_scopes(engine: Callable[[str], Scopes]) -> None:
    seen: set[str] = set()
    for path in SHIPPED:
        text = path.read_text()
        scopes = engine(text)
        toks = [t for t in tokenize(text) if t.kind != "nl"]
        for i, tok in enumerate(toks):
            want = expected(toks, i)
            got = _kind(scopes.get((tok.line - 1, tok.col - 1), []))
            assert got == want, f"{path.name}:{tok.line}:{tok.col}: {tok.text!r} is {got}, not {want}"
            seen.add(want)
        unscoped = [k for k, ch in _chars(text) if not ch.isspace() and len(scopes.get(k, [])) < 2]
        assert not unscoped, f"{path.name}: characters without a scope at {unscoped[:5]}"
    kinds = {"comment", "string", "number", "keyword", "layer", "call", "label", "definition", "capture"}
    assert kinds | {"function", "parameter", "name", "operator", "punctuation"} == seen | {"function"}


def _chars(text: str) -> list[tuple[tuple[int, int], str]]:
    return [((n, c), ch) for n, line in enumerate(text.split("\n")) for c, ch in enumerate(line)]


def test_both_engines_agree() -> None:
    if scopes_oniguruma not in ENGINES:
        pytest.skip("textmate-grammar-python is not installed")
    for path in SHIPPED:
        text = path.read_text()
        a, b = scopes_re(text), scopes_oniguruma(text)
        for key, ch in _chars(text):
            if not ch.isspace():
                assert a.get(key) == b.get(key), (path.name, key, ch)
