"""Pass 1, text → syntax tree: every construct, its spans, separators, and syntax errors as diagnostics."""

from __future__ import annotations

import random
import re
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import pytest
from fuzz.generators import grammar_specs, mutate, random_ops, tokens_of
from hypothesis import HealthCheck, given, settings
from lark import Token, Tree

from netdsl.errors import Diagnostic, Span
from netdsl.pipeline import analyze
from netdsl.syntax import tree as S
from netdsl.syntax.depth import deepest
from netdsl.syntax.lark_grammar import parser
from netdsl.syntax.lark_parse import parse_raw as _parse_raw
from netdsl.syntax.lark_parse import parse_reference as _parse_reference
from netdsl.syntax.messages import _EXAMPLES, example_labels_that_parse
from netdsl.syntax.parser import _FAST_HEIGHT, _driver, _parse_fast, parse_text, tokens


def parse(text: str) -> S.Module:
    mod = parse_text(text, "t.net")
    assert isinstance(mod, S.Module), mod
    return mod


def body(text: str) -> tuple[S.Stmt, ...]:
    """The statements of a one-net file."""
    (net,) = parse(text).blocks
    return net.body.stmts


def stmt(text: str) -> S.Stmt:
    """One statement, parsed inside `net A { ... }` (on line 2, from column 1)."""
    (only,) = body("net A {\n" + text + "\n}")
    return only


def node(text: str) -> S.Node:
    n = stmt(text)
    assert isinstance(n, S.Node)
    return n


def expr(text: str) -> S.Expr:
    (only,) = body(f"net A {{ let x = {text} }}")
    assert isinstance(only, S.Let)
    return only.value


def sp(line: int, col: int, end_line: int, end_col: int) -> Span:
    return Span("t.net", line, col, end_line, end_col)


# ---------------------------------------------------------------------------- top level


def test_net_with_parameters_and_defaults() -> None:
    mod = parse("net LeNet(num_classes=10, size) {\n    input(1, size, size)\n}\n")
    (net,) = mod.blocks
    assert net.is_net and net.name == "LeNet"
    assert net.name_span == sp(1, 5, 1, 10)
    assert net.span == sp(1, 1, 3, 2)
    a, b = net.params
    assert a.name == "num_classes" and a.default == S.Lit(10, sp(1, 23, 1, 25))
    assert b.name == "size" and b.default is None
    (inp,) = net.body.stmts
    assert isinstance(inp, S.Input) and inp.args[0].value == S.Lit(1, sp(2, 11, 2, 12))


def test_blocks_imports_and_requires() -> None:
    mod = parse('import "lib/resnet.net"\nrequires "netdsl-extra", "other"\nblock B { relu }\nblock C() { relu }\n')
    assert [i.path for i in mod.imports] == ["lib/resnet.net"]
    assert mod.imports[0].span == sp(1, 1, 1, 24)
    assert mod.requires[0].plugins == ("netdsl-extra", "other")
    assert [(b.name, b.is_net, b.params) for b in mod.blocks] == [("B", False, ()), ("C", False, ())]


def test_comments_blank_lines_and_semicolons() -> None:
    text = "# header\n\nnet A {  # trailing\n\n    relu; sigmoid  # two\n    ;\n    # own line\n    tanh;\n}\n# end\n"
    stmts = body(text)
    assert [s.core.name for s in stmts if isinstance(s, S.Node) and isinstance(s.core, S.Call)] == [
        "relu",
        "sigmoid",
        "tanh",
    ]


def test_newlines_inside_parentheses_and_brackets_are_ignored() -> None:
    n = node("conv2d(64,\n    3,  # kernel\n    stride=2\n)")
    assert isinstance(n.core, S.Call)
    assert [a.name for a in n.core.args] == [None, None, "stride"]
    assert n.span == sp(2, 1, 5, 2)  # the call spans its four lines
    (let,) = body("net A { let d = [3,\n 4,\n 6] }")
    assert isinstance(let, S.Let) and isinstance(let.value, S.TupleLit) and len(let.value.items) == 3


def test_brace_on_the_next_line_and_else_on_its_own_line() -> None:
    text = """net A(x=1)
{
    if x > 1
    {
        relu
    }
    elif x > 0 {
        tanh
    }
    else
    {
        sigmoid
    }
}"""
    (net,) = parse(text).blocks
    (if_,) = net.body.stmts
    assert isinstance(if_, S.If) and len(if_.branches) == 2 and if_.orelse is not None


def test_a_conditional_expression_does_not_swallow_the_newline() -> None:
    # `if` inside an expression is no statement header: the newline after it still ends the `let`.
    stmts = body("net A(x=1) {\n    let y = 2 if x > 1 else 3\n    relu\n    add { relu; tanh }\n}")
    assert [type(s).__name__ for s in stmts] == ["Let", "Node", "Node"]


# ---------------------------------------------------------------------------- statements


def test_layer_call_arguments_and_spans() -> None:
    n = node("conv2d(64, 3, stride=2, bias=false)")
    call = n.core
    assert isinstance(call, S.Call) and not call.inline and call.name == "conv2d"
    assert call.name_span == sp(2, 1, 2, 7)
    assert call.span == sp(2, 1, 2, 36)
    pos, _, kw, b = call.args
    assert pos == S.Arg(None, S.Lit(64, sp(2, 8, 2, 10)), sp(2, 8, 2, 10))
    assert kw.name == "stride" and kw.span == sp(2, 15, 2, 23) and kw.value == S.Lit(2, sp(2, 22, 2, 23))
    assert b.name == "bias" and isinstance(b.value, S.Lit) and b.value.value is False


def test_bare_name_is_a_call_without_arguments() -> None:
    call = node("relu").core
    assert call == S.Call("relu", (), False, sp(2, 1, 2, 5), sp(2, 1, 2, 5))


def test_label_and_label_template() -> None:
    n = node("conv1: conv2d(64, 7)")
    assert n.label == S.Label("conv1", None, sp(2, 1, 2, 6))
    assert n.span == sp(2, 1, 2, 21)
    t = node("denselayer[i + 1]: DenseLayer(32)")
    assert t.label is not None and t.label.name == "denselayer"
    assert isinstance(t.label.index, S.BinOp) and t.label.index.op == "add"


def test_inline_block_and_capture() -> None:
    n = node("inline Stage(64) -> skip")
    assert isinstance(n.core, S.Call) and n.core.inline and n.core.name == "Stage"
    assert n.capture == "skip"
    use = stmt("@skip")
    assert use == S.Use("skip", sp(2, 1, 2, 6))


def test_merge_paths_and_identity() -> None:
    n = node("add {\n    { conv2d(64, 3); relu }\n    downsample: { conv2d(64, 1) }\n    {}\n}")
    merge = n.core
    assert isinstance(merge, S.Merge) and merge.name == "add" and merge.args == ()
    a, b, c = merge.paths.stmts
    assert isinstance(a, S.Node) and isinstance(a.core, S.Group) and len(a.core.body.stmts) == 2
    assert isinstance(b, S.Node) and b.label is not None and b.label.name == "downsample"
    assert isinstance(c, S.Node) and isinstance(c.core, S.Group) and c.core.body.stmts == ()
    cat = node("concat(dim=0) { relu; tanh }").core
    assert isinstance(cat, S.Merge) and [a.name for a in cat.args] == ["dim"] and len(cat.paths.stmts) == 2


def test_groups_labelled_and_not() -> None:
    g = node("features: { conv2d(8, 3); relu }")
    assert g.label is not None and isinstance(g.core, S.Group) and len(g.core.body.stmts) == 2
    u = node("{ relu }")
    assert u.label is None and isinstance(u.core, S.Group)


def test_repeat_forms() -> None:
    r = node("repeat 3 relu").core
    assert isinstance(r, S.Repeat) and r.var is None and r.label is None and isinstance(r.core, S.Call)
    r = node("layer1: repeat depths[0] as i Bottleneck(64, 2 if i == 0 else 1)")
    assert isinstance(r.core, S.Repeat) and r.core.var == "i" and isinstance(r.core.count, S.Index)
    r = node("repeat 4 as k denseblock[k + 1]: repeat 6 as j denselayer[j + 1]: DenseLayer(32)").core
    assert isinstance(r, S.Repeat) and r.label is not None and r.label.name == "denseblock"
    inner = r.core
    assert isinstance(inner, S.Repeat) and inner.var == "j" and inner.label is not None
    g = node("repeat 2 { conv2d(8, 3); relu }").core
    assert isinstance(g, S.Repeat) and isinstance(g.core, S.Group)


def test_if_elif_else_and_let() -> None:
    s = stmt("if in.c != planes * 4 { relu } elif x { tanh } else { sigmoid }")
    assert isinstance(s, S.If)
    (c1, b1), (c2, _) = s.branches
    assert isinstance(c1, S.BinOp) and c1.op == "ne" and isinstance(c1.left, S.Attr) and c1.left.name == "c"
    assert c1.span == sp(2, 4, 2, 22)
    assert isinstance(c2, S.Name) and s.orelse is not None and len(b1.stmts) == 1
    only_if = stmt("if deep { relu }")
    assert isinstance(only_if, S.If) and only_if.orelse is None and len(only_if.branches) == 1
    let = stmt("let width = 64 * 2")
    assert isinstance(let, S.Let) and let.name == "width" and let.span == sp(2, 1, 2, 19)


# ---------------------------------------------------------------------------- expressions


def _shape(e: S.Expr) -> object:
    """A compact structural view of an expression, spans dropped."""
    if isinstance(e, S.Lit):
        return e.value
    if isinstance(e, S.Name):
        return e.id
    if isinstance(e, S.BinOp):
        return (e.op, _shape(e.left), _shape(e.right))
    if isinstance(e, S.Unary):
        return (e.op, _shape(e.operand))
    if isinstance(e, S.Cond):
        return ("if", _shape(e.test), _shape(e.then), _shape(e.orelse))
    if isinstance(e, S.TupleLit):
        return ("tuple", *map(_shape, e.items))
    if isinstance(e, S.Index):
        return ("index", _shape(e.obj), _shape(e.index))
    if isinstance(e, S.Attr):
        return ("attr", _shape(e.obj), e.name)
    assert isinstance(e, S.Func)
    return ("call", e.name, *map(_shape, e.args))


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("1 + 2 * 3", ("add", 1, ("mul", 2, 3))),
        ("(1 + 2) * 3", ("mul", ("add", 1, 2), 3)),
        ("8 - 2 - 1", ("sub", ("sub", 8, 2), 1)),
        ("2 ** 3 ** 2", ("pow", 2, ("pow", 3, 2))),
        ("-2 ** 2", ("neg", ("pow", 2, 2))),
        ("2 ** -1", ("pow", 2, ("neg", 1))),
        ("a // b % c", ("mod", ("floordiv", "a", "b"), "c")),
        ("a / b", ("truediv", "a", "b")),
        ("not a and b or c", ("or", ("and", ("not", "a"), "b"), "c")),
        ("a <= b", ("le", "a", "b")),
        ("x >= 1 and x != 3", ("and", ("ge", "x", 1), ("ne", "x", 3))),
        ("a if c else b", ("if", "c", "a", "b")),
        ("1 if a else 2 if b else 3", ("if", "a", 1, ("if", "b", 2, 3))),
        ("(1, 7)", ("tuple", 1, 7)),
        ("(3,)", ("tuple", 3)),
        ("[3, 4, 6, 3]", ("tuple", 3, 4, 6, 3)),
        ("[]", ("tuple",)),
        ("depths[s][0]", ("index", ("index", "depths", "s"), 0)),
        ("in.c * 2", ("mul", ("attr", "in", "c"), 2)),
        ("max(a, b + 1)", ("call", "max", "a", ("add", "b", 1))),
        ("1_000", 1000),
        ("2.5e-3", 0.0025),
        ("'same'", "same"),
        ('"valid"', "valid"),
        ("true", True),
    ],
)
def test_expression_precedence(text: str, tree: object) -> None:
    assert _shape(expr(text)) == tree


def test_expression_spans() -> None:
    e = expr("a + b * 2")
    assert e.span == sp(1, 17, 1, 26)
    assert isinstance(e, S.BinOp) and e.right.span == sp(1, 21, 1, 26)


# ---------------------------------------------------------------------------- errors


def test_bad_examples_all_fail_to_parse() -> None:
    assert example_labels_that_parse() == []


@pytest.mark.parametrize("label", sorted(_EXAMPLES))
def test_each_label_is_produced_by_its_first_example(label: str) -> None:
    d = parse_text(_EXAMPLES[label][0], "t.net")
    assert isinstance(d, Diagnostic) and d.code == "E002"
    assert d.hint == label


@pytest.mark.parametrize(
    ("text", "code", "line", "col"),
    [
        ("net A { relu", "E002", 1, 13),
        ("net A {\n  conv2d(64, 3\n  relu\n}", "E002", 2, 15),  # moved back to where `)` is missing
        ("net A { relu $ }", "E001", 1, 14),
        ("net A(in=3) { relu }", "E002", 1, 7),  # `in` is reserved
        ("net A { input(3, 8, 8)\n repeat 3 as { relu } }", "E002", 2, 14),
    ],
)
def test_syntax_errors_are_diagnostics(text: str, code: str, line: int, col: int) -> None:
    d = parse_text(text, "t.net")
    assert isinstance(d, Diagnostic), d
    assert (d.code, d.span and (d.span.line, d.span.col)) == (code, (line, col))


def test_empty_file_parses_to_an_empty_module() -> None:
    mod = parse_text("# only a comment\n", "t.net")
    assert isinstance(mod, S.Module) and mod.blocks == ()


def test_pathological_nesting_is_a_diagnostic_not_a_crash() -> None:
    deep = "net A { input(3, 8, 8)\n conv2d(" + "1 + " * 5000 + "3, 3) }"
    d = parse_text(deep, "t.net")
    assert isinstance(d, Diagnostic) and d.code == "E003"
    braces = "net A { input(3, 8, 8)\n" + "{" * 3000 + "relu" + "}" * 3000 + "}"
    d = parse_text(braces, "t.net")
    assert isinstance(d, Diagnostic) and d.code == "E003"
    parens = "net A { input(3, 8, 8)\n conv2d(" + "(" * 20000 + "3" + ")" * 20000 + ", 3) }"
    assert isinstance(parse_text(parens, "t.net"), S.Module)  # parentheses do not nest the tree


# ---------------------------------------------------------------------------- the language reference's examples

DOC = Path(__file__).resolve().parent.parent / "docs" / "language.md"
_FENCE = re.compile(r"^```netdsl\n(.*?)^```", re.S | re.M)
EXAMPLES = _FENCE.findall(DOC.read_text(encoding="utf-8"))


def test_the_reference_has_examples() -> None:
    assert len(EXAMPLES) >= 15


@pytest.mark.parametrize("text", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_reference_examples_parse_and_check(text: str, tmp_path: Path) -> None:
    first = next(ln.split()[0] for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#"))
    assert first in ("net", "block", "import", "requires"), "examples are whole files"
    assert isinstance(parse_text(text, "doc.net"), S.Module), parse_text(text, "doc.net")
    if re.search(r"^net ", text, re.M) and "requires" not in text:
        spec = tmp_path / "doc.net"
        spec.write_text(text, encoding="utf-8")
        result = analyze(spec)
        assert result.ok, [f"{d.code} {d.span}: {d.message}" for d in result.errors]


# ---------------------------------------------------------------------------- the fast path is Lark's path

ROOT = Path(__file__).resolve().parent.parent


def _utf8(path: Path) -> bool:
    try:
        path.read_text(encoding="utf-8")
    except UnicodeDecodeError:  # tests/bad_specs/not_utf8.net: a reading error, never parsed
        return False
    return True


NET_FILES = sorted(p for folder in ("specs", "tests") for p in (ROOT / folder).rglob("*.net") if _utf8(p))
DEPTHS = (None, 3, 5, 10, 200)


def same(text: str, max_depth: int | None = None, file: str = "t.net") -> S.Module | Diagnostic:
    """``parse_text``'s result, asserted equal (spans and all) to Lark's own path's."""
    got, want = parse_text(text, file, max_depth), _parse_reference(text, file, max_depth)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))  # comparing a few hundred levels of nodes recurses
    try:
        assert got == want
    finally:
        sys.setrecursionlimit(limit)
    return got


def lark_height(tree: Tree[Token]) -> int:
    """Levels of Lark's tree (what ``_too_deep`` counts), without recursion."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((c, depth + 1) for c in node.children if isinstance(c, Tree))
    return deepest


def driver_height(text: str) -> int:
    return int(_driver().parse(text, partial(Span, "t.net"), 10**9)[1])


@pytest.mark.parametrize("path", NET_FILES, ids=[str(p.relative_to(ROOT)) for p in NET_FILES])
def test_every_net_file_parses_as_lark_does(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for variant in (text, text.replace("\n", "\r\n"), text.replace("    ", "\t")):
        for depth in DEPTHS:
            same(variant, depth, str(path))
    if isinstance(_parse_reference(text, str(path)), S.Module):
        height = driver_height(text)
        assert height == lark_height(_parse_raw(text))
        if height <= _FAST_HEIGHT:  # taller trees go Lark's way on purpose
            assert _parse_fast(text, str(path), None) is not None, "a valid file went the slow way"
        # The limit counts brackets and operators (netdsl.syntax.depth), not the tree's height.
        levels = deepest(tokens(text))
        assert isinstance(same(text, levels), S.Module)
        deep = same(text, levels - 1)
        assert isinstance(deep, Diagnostic) and deep.code == "E003"


@pytest.mark.parametrize(
    "text",
    [
        "net A { let x = " + "-" * 95 + "1 }",  # around the fast path's own height limit
        "net A { let x = " + "-" * 96 + "1 }",
        "net A { let x = " + "-" * 97 + "1 }",
        "net A { let x = " + "[" * 48 + "1" + "]" * 48 + " }",
        "net A { input(3, 8, 8)\n conv2d(" + "1 + " * 150 + "3, 3) }",
        "net A { input(3, 8, 8)\n" + "{" * 60 + "relu" + "}" * 60 + "}",
        "net A { input(3, 8, 8)\n" + "repeat 2 " * 40 + "relu }",
        "net A { input(3, 8, 8)\n conv2d(" + "(" * 300 + "3" + ")" * 300 + ", 3) }",
        "net A { let x = " + "a if b else " * 40 + "c }",
    ],
)
def test_deep_nesting_heights_and_limits_match_lark(text: str) -> None:
    height = lark_height(_parse_raw(text))
    assert driver_height(text) == height
    levels = deepest(tokens(text))
    for depth in (None, 3, height - 1, height, height + 1, levels - 1, levels, 200):
        same(text, depth)


EDGE_CASES = [
    "",
    "# only a comment",
    "# comments\n\n# and blank lines\n\n",
    "\n;\n;;\n",
    "net A {}",
    "net A {\n}\n",
    "net A { ; relu;; tanh; }",
    "net A(a, b=1, c) { relu }",
    "net A(a, b=1,) { relu }",
    "block B() { relu }\nblock C(x=(1, 2)) {\n}",
    "net A { x: relu; y[1]: relu; z[i + 1]: B(1) -> w; @w; @in }",
    "net A { relu; relu(); relu(1,); inline B; inline B(1, k=2,) }",
    "net A { repeat 2 relu; repeat n as i relu; repeat n as i lbl: relu; repeat n lbl[i]: { relu } }",
    "net A { add { relu; x: { tanh } }; concat(dim=1) {} }",
    "net A { let x = (1 + 2); let y = (1 + 2) * 3; let z = ((a)); let w = -(+1); let v = (a).c }",
    "net A { let t = (1,); let u = (1, 2,); let l = []; let m = [1,]; let f = max(); let g = min(a, b) }",
    "net A { let x = a.c[0][i + 1].h if not a and b or c else 2 ** -1 // 3 % 4 }",
    "net A { let x = 1_000 + 2.5e-3 + 'a' + \"b\" + true + false }",
    "net A(x=1)\n{\n    if x > 1\n    {\n        relu\n    }\n    elif x > 0 { tanh }\n"
    "    elif x\n    {\n    }\n    else\n    {\n        sigmoid\n    }\n}",
    "net A { if a { relu } }\nnet B { if a { relu } else { tanh } }",
    "net A {\r\n    relu  # c\r\n\r\n    conv2d(1,\r\n        2)\r\n}\r\n",
    "net\tA\t{\n\trelu\t# tab\n\tlet\tx\t=\t1\n}",
    'import "a.net"\nrequires "x", "y"\n\nnet A { relu } # end',
]


@pytest.mark.parametrize("text", EDGE_CASES)
def test_edge_cases_parse_as_lark_does(text: str) -> None:
    assert isinstance(same(text), S.Module)
    for depth in (3, 6):
        same(text, depth)


def test_parenthesised_expression_spans() -> None:
    # `?atom: "(" expr ")"` keeps the inner node's own span, but its parent sees the parentheses.
    (let,) = body("net A { let x = (1 + 2) }")
    assert isinstance(let, S.Let) and let.value.span == sp(1, 18, 1, 23) and let.span == sp(1, 9, 1, 24)
    e = expr("(1 + 2) * 3")
    assert isinstance(e, S.BinOp) and e.span == sp(1, 17, 1, 28) and e.left.span == sp(1, 18, 1, 23)
    e = expr("-(+1)")
    assert isinstance(e, S.Unary) and e.span == sp(1, 17, 1, 22) and e.operand.span == sp(1, 20, 1, 21)


def test_placeholders_absent_and_present() -> None:
    (net,) = parse("net A(a, b=1) { c[2]: B -> d; inline E(1) }").blocks
    assert [(p.name, p.default) for p in net.params] == [("a", None), ("b", S.Lit(1, sp(1, 12, 1, 13)))]
    first, second = net.body.stmts
    assert isinstance(first, S.Node) and first.label is not None and first.capture == "d"
    assert first.label.index == S.Lit(2, sp(1, 19, 1, 20)) and first.span == sp(1, 17, 1, 29)
    assert isinstance(second, S.Node) and second.label is None and second.capture is None
    assert isinstance(second.core, S.Call) and second.core.inline and len(second.core.args) == 1


def test_errors_take_lark_s_path() -> None:
    for text in ("net A { relu $ }", "net A {\n  conv2d(64, 3\n  relu\n}", "net A { relu", "}", "net A { 'x }"):
        d = same(text)
        assert isinstance(d, Diagnostic) and d.code in ("E001", "E002")
        assert _parse_fast(text, "t.net", None) is None


def test_tokens_are_lark_s() -> None:
    def attrs(tokens: Iterable[Token]) -> list[tuple[object, ...]]:
        out: list[tuple[object, ...]] = []
        try:
            for t in tokens:
                out.append(
                    (isinstance(t, str), t.type, t.value, t.start_pos, t.line, t.column, t.end_line, t.end_column)
                )
                out.append((t.end_pos,))
        except Exception:  # the scanner stops where Lark's lexer raises
            out.append(("error",))
        return out

    texts = [p.read_text(encoding="utf-8") for p in NET_FILES] + EDGE_CASES + ["net A { relu $ }", "a\n\n b ' c"]
    for text in texts:
        for variant in (text, text.replace("\n", "\r\n")):
            assert attrs(_driver().tokens(variant)) == attrs(parser().lex(variant))


def test_mutated_specs_parse_as_lark_does() -> None:
    rng = random.Random(20240611)
    sources = [tokens_of(p) for p in sorted((ROOT / "specs").rglob("*.net"))]
    for _ in range(300):
        text = mutate(rng.choice(sources), random_ops(rng))
        same(text)
        same(text, 8)


@settings(derandomize=True, database=None, deadline=None, max_examples=120, suppress_health_check=list(HealthCheck))
@given(grammar_specs())
def test_grammar_derived_specs_parse_as_lark_does(text: str) -> None:
    same(text)
    same(text, 5)


def test_parsing_from_several_threads() -> None:
    texts = [(str(p), p.read_text(encoding="utf-8")) for p in NET_FILES[:40]]
    expected = [_parse_reference(text, name, 50) for name, text in texts]

    def run(_: int) -> list[S.Module | Diagnostic]:
        return [parse_text(text, name, 50) for name, text in texts]

    with ThreadPoolExecutor(max_workers=6) as pool:
        for got in pool.map(run, range(12)):
            assert got == expected
