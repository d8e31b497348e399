"""The Pygments lexer: found by name and file name, and right on every shipped spec."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, String, Token

from netdsl.formatter.tokens import KEYWORDS, tokenize
from netdsl.layers.registry import REGISTRY
from netdsl.pygments import BUILTIN_LAYERS, NetdslLexer

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted([*ROOT.glob("specs/**/*.net"), *ROOT.glob("examples/**/*.net")])


def test_registered_as_a_pygments_plugin() -> None:
    assert isinstance(get_lexer_by_name("netdsl"), NetdslLexer)
    assert isinstance(get_lexer_for_filename("resnet50.net"), NetdslLexer)


def test_the_module_imports_pygments_only() -> None:
    code = "import sys, netdsl.pygments; print(sorted(m for m in ('torch', 'lark', 'pydantic') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_layer_kinds_are_the_registrys() -> None:
    assert sorted(BUILTIN_LAYERS) == sorted(REGISTRY.names())


def _is(token: object, parent: object) -> bool:
    return token in parent  # type: ignore[operator]  # pygments token types nest with `in`


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_specs(path: Path) -> None:
    text = path.read_text()
    lexed = list(NetdslLexer().get_tokens_unprocessed(text))
    assert not [v for _, t, v in lexed if _is(t, Error)]
    assert "".join(v for _, _, v in lexed) == text
    at = {pos: (t, v) for pos, t, v in lexed}
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    for i, tok in enumerate(toks := [t for t in tokenize(text) if t.kind != "nl"]):
        ttype, value = at[offsets[tok.line - 1] + tok.col - 1]
        nxt = toks[i + 1].text if i + 1 < len(toks) else ""
        prev = toks[i - 1].text if i else ""
        where = f"{path.name}:{tok.line}:{tok.col} {tok.text!r}: {ttype}"
        if tok.kind == "comment":
            assert _is(ttype, Comment) and value == tok.text, where
        elif tok.kind in ("int", "float"):
            assert _is(ttype, Number.Integer if tok.kind == "int" else Number.Float) and value == tok.text, where
        elif tok.kind == "str":
            assert _is(ttype, String), where
        elif tok.kind == "kw":
            assert tok.text in KEYWORDS and (_is(ttype, Keyword) or ttype in (Operator.Word, Name.Builtin.Pseudo))
        elif tok.kind == "name" and prev in ("net", "block"):
            assert ttype is Name.Class, where
        elif tok.kind == "name" and prev in ("let", "->", "@"):
            assert ttype is Name.Variable, where
        elif tok.kind == "name" and nxt == ":":
            assert ttype is Name.Label, where
        elif tok.kind == "name" and tok.text in BUILTIN_LAYERS:
            assert ttype is Name.Builtin, where
        elif tok.kind == "name" and nxt == "(":
            assert ttype in (Name.Function, Name.Builtin.Pseudo), where
        elif tok.kind == "name":
            assert _is(ttype, Name), where
        else:
            assert _is(ttype, Operator) or _is(ttype, Token.Punctuation), where


def test_a_small_spec_token_by_token() -> None:
    text = "net N(c=8) {\n  stem: conv2d(c, 3) -> s  # x\n  B(1.5); @s\n}\n"
    got = [(t, v) for t, v in NetdslLexer().get_tokens(text) if not v.isspace()]
    assert got == [
        (Keyword.Declaration, "net"),
        (Name.Class, "N"),
        (Token.Punctuation, "("),
        (Name, "c"),
        (Operator, "="),
        (Number.Integer, "8"),
        (Token.Punctuation, ")"),
        (Token.Punctuation, "{"),
        (Name.Label, "stem"),
        (Token.Punctuation, ":"),
        (Name.Builtin, "conv2d"),
        (Token.Punctuation, "("),
        (Name, "c"),
        (Token.Punctuation, ","),
        (Number.Integer, "3"),
        (Token.Punctuation, ")"),
        (Operator, "->"),
        (Name.Variable, "s"),
        (Comment.Single, "# x"),
        (Name.Function, "B"),
        (Token.Punctuation, "("),
        (Number.Float, "1.5"),
        (Token.Punctuation, ")"),
        (Token.Punctuation, ";"),
        (Operator, "@"),
        (Name.Variable, "s"),
        (Token.Punctuation, "}"),
    ]
