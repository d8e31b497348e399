"""The formatter: canonical layout, comments kept, idempotent, and the same IR before and after.

Every shipped spec must already be in the canonical form (CI runs ``netdsl fmt --check specs/
examples/``). The fuzz corpus is random re-spacings of the shipped specs (:mod:`fmt_fuzz`) and
the files of ``tests/bad_specs`` that parse; for each, the formatted text must lower to the same
IR as the input (compared without source positions), format to itself again, and keep every comment.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
from fmt_fuzz import respace

from netdsl.formatter import FormatError, format_text
from netdsl.pipeline import analyze

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted([*ROOT.glob("specs/**/*.net"), *ROOT.glob("examples/**/*.net")])
BAD = sorted((ROOT / "tests" / "bad_specs").glob("**/*.net"))

# A library has no net to lower: the tests append one that uses its blocks.
LIBRARY_USES = {
    "resnet.net": "net T { input(3, 64, 64)\n b: Unit(64, 2, false)\n inline ResNet([1, 2, 1, 1], true, 10) }",
    "densenet.net": "net T { input(3, 64, 64)\n inline DenseNet(8, [2, 2, 2, 2], 16, 4, 10) }",
    "vgg.net": "net T { input(3, 64, 64)\n inline VGG([1, 1, 2, 2, 2], true, 10) }",
}


SOURCE_FIELDS = ("span", "cond_text")  # where the source is, and an `if` condition's text as written (for display)


def _strip(obj: Any) -> Any:
    """The IR as plain data, without source positions and excerpts (dataclasses or pydantic models alike)."""
    if hasattr(obj, "model_dump"):
        obj = obj.model_dump()
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = {"node": type(obj).__name__} | {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in SOURCE_FIELDS}
    if isinstance(obj, list | tuple):
        return [_strip(v) for v in obj]
    return obj


def meaning(path: Path, text: str) -> tuple[Any, ...]:
    """What a spec means, positions aside: its IR, its shapes' totals and its diagnostics."""
    if path.name in LIBRARY_USES and path.parent.name == "lib":
        text = text + "\n" + LIBRARY_USES[path.name] + "\n"
    a = analyze(path, text=text)
    ir = _strip(a.net) if a.net is not None else None
    total = repr(a.shapes.total) if a.shapes is not None else None
    return ir, total, [(d.code, d.message) for d in a.diagnostics]


def comments(text: str) -> list[str]:
    return [m.rstrip() for m in re.findall(r"#[^\n]*", text)]  # the tests' specs have no `#` in strings


def check_formatted(path: Path, text: str) -> str:
    out = format_text(text)
    assert format_text(out) == out, "not idempotent"
    assert meaning(path, out) == meaning(path, text), "the formatted text means something else"
    assert comments(out) == comments(text), "comments lost or changed"
    assert all(line == line.rstrip() for line in out.splitlines()), "trailing whitespace"
    assert "\n\n\n" not in out and (out == "" or (out.endswith("\n") and not out.endswith("\n\n")))
    return out


def test_there_are_shipped_specs() -> None:
    assert len(SHIPPED) >= 20 and len(BAD) >= 50


def test_the_comparison_sees_a_change() -> None:
    """``meaning`` is not blind: blank lines change nothing, one changed number anywhere does."""
    path = ROOT / "specs" / "lib" / "resnet.net"
    text = path.read_text()
    assert meaning(path, text) == meaning(path, text.replace("\n", "\n\n"))
    assert meaning(path, text) != meaning(path, text.replace("planes * 4, 1, bias", "planes * 2, 1, bias", 1))
    assert meaning(path, text) != meaning(path, text.replace("stride != 1 or", "stride != 2 or", 1))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_specs_are_canonical(path: Path) -> None:
    text = path.read_text()
    assert format_text(text) == text
    assert meaning(path, text)[0] is not None or path.parent.name != "specs"  # the IR comparison compares IRs


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_respaced_shipped_specs(path: Path) -> None:
    text = path.read_text()
    want = meaning(path, text)
    for seed in range(4):
        variant = respace(text, seed, density=0.15 + 0.1 * seed)
        assert meaning(path, variant) == want, f"the fuzz generator changed the meaning (seed {seed})"
        check_formatted(path, variant)


def test_respacing_the_shipped_style_back() -> None:
    """Re-spacing only within lines (no new line breaks) formats back to the shipped file itself."""
    for path in SHIPPED:
        text = path.read_text()
        assert format_text(respace(text, 7, density=0.0)) == text, path


@pytest.mark.parametrize("path", BAD, ids=lambda p: str(p.relative_to(ROOT / "tests" / "bad_specs")))
def test_bad_specs(path: Path) -> None:
    text = path.read_text(errors="replace")
    try:
        format_text(text)
    except FormatError as err:  # the parser's own complaint, located
        assert err.diagnostic is not None and err.diagnostic.code.startswith("E00")
        assert err.line >= 1 and err.column >= 1 and err.message
        return
    check_formatted(path, text)
    check_formatted(path, respace(text, 1))


def test_the_tokenizer_splits_as_larks_lexer() -> None:
    """The formatter's tokenizer (comments kept) agrees with the parser's lexer, comments included."""
    from lark import Lark

    from netdsl.formatter.tokens import tokenize
    from netdsl.syntax.parser import grammar_path

    lexer = Lark.open(str(grammar_path()), parser="lalr", lexer="basic")
    for path in SHIPPED:
        for text in (path.read_text(), respace(path.read_text(), 5, density=0.5)):
            want = [t.value.rstrip() for t in lexer.lex(text, dont_ignore=True) if t.type != "_NL" and t.value.strip()]
            assert [t.text for t in tokenize(text) if t.kind != "nl"] == want, path


FENCE = re.compile(r"^( *)```netdsl\n(.*?)^ *```", re.S | re.M)


def test_docs_examples() -> None:
    """The language reference's examples format (their meaning checked by format_text itself); ours are canonical."""
    reference = FENCE.findall((ROOT / "docs" / "language.md").read_text())
    assert len(reference) >= 15
    for _, text in reference:
        out = format_text(text)
        assert format_text(out) == out and comments(out) == comments(text)
    ours = FENCE.findall((ROOT / "docs" / "editors.md").read_text())
    assert ours
    for indent, text in ours:
        text = "".join(line.removeprefix(indent) for line in text.splitlines(keepends=True))
        assert format_text(text) == text
