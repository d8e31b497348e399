"""The bad-spec corpus: one realistic mistake per file, exactly one error for it, at the right place.

Every ``tests/bad_specs/**/*.net`` starts with its expectations::

    # expect: E101 5:5 conv2d          code, line:col, a word the message or hint must name
    # expect: E203 b.net:2:1 a.net     the error lies in another file (relative to this one)
    # expect: E206 - net               no source location
    # params: num_clases=10            net parameter overrides (as ``--set``)
    # limits: max_nodes=20             limits of the run (as ``--max-nodes``; with a ``params:`` line, so
                                       that the CLI test, which runs cases without settings, skips it)

A file with several ``expect`` lines has that many independent mistakes and must
report exactly that many errors (no cascades, none lost); an expected warning (``W…``)
is counted with them. Files are read as bytes: a spec that is not UTF-8 is a case too. Golden files under
``tests/golden/diagnostics`` pin the full rendering of representative cases;
``NETDSL_UPDATE_GOLDEN=1`` rewrites them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netdsl.atomic import write_atomic
from netdsl.cli.common import parse_overrides
from netdsl.errors import MAX_SHOWN, Diagnostic, format_diagnostics
from netdsl.limits import Limits
from netdsl.lower.expr import Value
from netdsl.pipeline import Analysis, analyze

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "bad_specs"
GOLDEN = ROOT / "tests" / "golden" / "diagnostics"
LANGUAGE_DOC = ROOT / "docs" / "language.md"

_EXPECT = re.compile(r"#\s*expect:\s*([EW]\d{3})\s+(\S+)\s+(.+?)\s*$")


@dataclass
class Expect:
    code: str
    file: str | None  # None: the spec itself
    line: int | None  # None: no location
    col: int | None
    token: str


@dataclass
class Case:
    path: Path
    expects: list[Expect] = field(default_factory=list)
    params: dict[str, Value] = field(default_factory=dict)
    limits: Limits | None = None

    def analyze(self, path: Path | None = None) -> Analysis:
        return analyze(self.path if path is None else path, self.params, limits=self.limits)

    def reported(self, result: Analysis) -> list[Diagnostic]:
        """The errors, and the warnings whose codes the case expects, in the order they were reported."""
        wanted = {e.code for e in self.expects if e.code.startswith("W")}
        return [d for d in result.diagnostics if d.is_error or d.code in wanted]


def _text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


def _parse_location(loc: str) -> tuple[str | None, int | None, int | None]:
    if loc == "-":
        return None, None, None
    *file, line, col = loc.split(":")
    return (file[0] if file else None), int(line), int(col)


def read_case(path: Path) -> Case:
    case = Case(path)
    for line in _text(path).splitlines():
        if not line.startswith("#"):
            break
        if m := _EXPECT.match(line):
            file, ln, col = _parse_location(m.group(2))
            case.expects.append(Expect(m.group(1), file, ln, col, m.group(3)))
        elif line.startswith("# params:"):
            case.params = parse_overrides([p.strip() for p in line.removeprefix("# params:").split(",")])
        elif line.startswith("# limits:"):
            given = parse_overrides([p.strip() for p in line.removeprefix("# limits:").split(",")])
            case.limits = Limits(**given)  # type: ignore[arg-type]
    assert case.expects, f"{path} has no `# expect:` header"
    return case


# A spec that is not UTF-8 is named `*.net.latin1`, so that tools reading the corpus as text skip it.
CASES = sorted([*CORPUS.rglob("*.net"), *CORPUS.rglob("*.net.latin1")])


def _id(path: Path) -> str:
    return str(path.relative_to(CORPUS)).removesuffix(".latin1").removesuffix(".net")


def test_corpus_is_large_and_covers_the_codes() -> None:
    codes = {e.code for p in CASES for e in read_case(p).expects}
    assert len(CASES) >= 40
    must = {"E001", "E002", "E101", "E102", "E103", "E104", "E105", "E106", "E107", "E108", "E109", "E110", "E111",
            "E122", "E124", "E130", "E133", "E141", "E201", "E202", "E203", "E204", "E301", "E302"}  # fmt: skip
    assert must <= codes, f"not covered: {sorted(must - codes)}"


@pytest.mark.parametrize("path", CASES, ids=_id)
def test_one_mistake_one_error(path: Path) -> None:
    case = read_case(path)
    result = case.analyze()
    errors = case.reported(result)
    rendered = format_diagnostics(result.diagnostics, result.sources)
    assert len(errors) == len(case.expects), f"expected {len(case.expects)} error(s), got:\n{rendered}"
    for want, got in zip(case.expects, errors, strict=True):
        assert got.code == want.code, rendered
        _check_location(path, want, got, rendered)
        said = " ".join([got.message, got.hint or "", *got.notes])
        assert want.token in said, f"{want.token!r} not named in:\n{rendered}"
    assert "Traceback" not in rendered


def _check_location(path: Path, want: Expect, got: Diagnostic, rendered: str) -> None:
    if want.line is None:
        assert got.span is None, rendered
        return
    assert got.span is not None, rendered
    file = path if want.file is None else path.parent / want.file
    assert Path(got.span.file).resolve() == file.resolve(), rendered
    assert (got.span.line, got.span.col) == (want.line, want.col), rendered
    # The rendering shows that very line with a caret under the column.
    lines = rendered.splitlines()
    gutter = f"{want.line:>4} | "
    i = next(i for i, ln in enumerate(lines) if ln.startswith(gutter))
    caret = lines[i + 1].index("^")
    source = _text(file).splitlines()[want.line - 1].expandtabs(1)
    if len(source) <= MAX_SHOWN:
        assert caret == len(gutter) + want.col - 1
    else:  # a long line is shown as a window: the caret is still under the same text
        assert lines[i][caret : caret + 8] == source[want.col - 1 : want.col + 7], rendered


def test_every_corpus_code_is_documented() -> None:
    doc = LANGUAGE_DOC.read_text(encoding="utf-8")
    codes = {e.code for p in CASES for e in read_case(p).expects}
    missing = sorted(c for c in codes if f"`{c}`" not in doc)
    assert not missing, f"codes missing from docs/language.md: {missing}"


def test_every_code_the_source_emits_is_documented() -> None:
    doc = LANGUAGE_DOC.read_text(encoding="utf-8")
    emitted = set()
    for src in (ROOT / "netdsl").rglob("*.py"):
        emitted |= set(re.findall(r"[\"']([EW]\d{3})[\"']", src.read_text(encoding="utf-8")))
    assert len(emitted) > 40
    missing = sorted(c for c in emitted if f"`{c}`" not in doc)
    assert not missing, f"codes missing from the table in docs/language.md: {missing}"


# ---------------------------------------------------------------------------- golden renderings

GOLDEN_CASES = [
    "syntax_missing_rparen",
    "syntax_missing_rbrace_nested",
    "syntax_two_statements",
    "unknown_layer",
    "wrong_type_float",
    "duplicate_label",
    "mistake_in_repeated_block",
    "shape_error_in_repeated_block",
    "shape_linear_without_flatten",
    "shape_too_small",
    "recursion_mutual",
    "multi_three_errors",
    # issue 21: the remaining rough edges of bad input, one golden each
    "output_control_bytes",
    "nesting_parentheses",
    "nesting_flat_chain",
    "not_utf8",
    "hint_python_for_loop",
    "hint_label_without_colon",
    "hint_arguments_without_parens",
    "hint_brace_closes_net_early",
    "hint_repeat_line_break",
    "homoglyph_cyrillic",
    "pytorch_conv_argument_order",
    "block_reads_net_param",
    "layer_name_float_like",
    "shape_collapsed_map",
    "limit_statements_crossed_early",
]


@pytest.mark.parametrize("name", GOLDEN_CASES)
def test_golden_rendering(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # file names in the rendering are relative to the working directory
    path = Path("tests/bad_specs") / f"{name}.net"
    path = path if path.exists() else path.with_name(f"{name}.net.latin1")
    result = read_case(path).analyze(path)
    text = format_diagnostics(result.diagnostics, result.sources) + "\n"
    golden = GOLDEN / f"{name}.txt"
    if os.environ.get("NETDSL_UPDATE_GOLDEN"):
        write_atomic(golden, text)  # like every output: an interrupted update leaves the old file whole
    assert text == golden.read_text(encoding="utf-8")
    # What every rendering must show: file:line:col, the source line, a caret, and the hint.
    first = result.diagnostics[0]
    head = f"{path}:{first.span.line}:{first.span.col}: {first.severity}[{first.code}]" if first.span else ""
    assert text.startswith(head)
    assert "^" in text and "hint:" in text


def test_golden_chain_names_the_instance() -> None:
    text = (GOLDEN / "shape_error_in_repeated_block.txt").read_text(encoding="utf-8")
    assert "in block Bottleneck, used as layer1.0 at shape_error_in_repeated_block.net:13:23" in text
    text = (GOLDEN / "recursion_mutual.txt").read_text(encoding="utf-8")
    assert "in block Up, used as 0.1" in text and "in block Down, used as 0 at" in text


# ---------------------------------------------------------------------------- properties across the corpus


def test_mistake_in_block_used_16_times_is_one_error_with_its_chain() -> None:
    result = analyze(CORPUS / "mistake_in_repeated_block.net")
    (err,) = result.errors
    assert err.code == "E104" and len(err.chain) == 1
    assert err.chain[0].block == "ConvBN" and err.chain[0].instance == "body.0"


def test_shape_error_in_block_used_16_times_is_one_error() -> None:
    result = analyze(CORPUS / "shape_error_in_repeated_block.net")
    (err,) = result.errors
    assert err.layer == "layer1.0.5" and "(64, 32, 32)" in err.message and "(16, 32, 32)" in err.message


def test_unknown_parameter_override_is_named_with_a_suggestion() -> None:
    result = analyze(CORPUS / "set_unknown_param.net", {"num_clases": 10})
    (err,) = result.errors
    assert err.code == "E141" and err.hint == "did you mean `num_classes`?"
    assert analyze(CORPUS / "set_unknown_param.net").ok  # the file itself is fine


def test_multiple_mistakes_are_all_reported_in_source_order() -> None:
    errors = analyze(CORPUS / "multi_three_errors.net").errors
    assert [e.code for e in errors] == ["E101", "E104", "E110"]
    assert [e.span.line for e in errors if e.span] == [6, 7, 9]


# ---------------------------------------------------------------------------- robustness

_PIECES = [
    "(",
    ")",
    "{",
    "}",
    ",",
    ";",
    "\n",
    ":",
    "=",
    "==",
    "->",
    "@x",
    "in.c",
    "repeat ",
    "if ",
    "else ",
    "as i ",
    "0",
    "-1",
    "3.5",
    "true",
    "[",
    "]",
    "add",
    "inline ",
    "let ",
    "**",
    "//",
    "'same'",
    "#",
    "$",
    '"',
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    spec=st.sampled_from(["lenet5.net", "resnet18.net", "googlenet.net"]),
    edits=st.lists(st.tuples(st.floats(0, 1), st.sampled_from(_PIECES), st.integers(0, 6)), min_size=1, max_size=4),
)
def test_mangled_specs_give_diagnostics_never_exceptions(spec: str, edits: list, tmp_path: Path) -> None:
    text = (ROOT / "specs" / spec).read_text(encoding="utf-8")
    for where, piece, cut in edits:  # insert a piece and delete a few characters somewhere
        i = int(where * len(text))
        text = text[:i] + piece + text[i + cut :]
    path = tmp_path / "mangled.net"
    path.write_text(text, encoding="utf-8")
    result = analyze(path)
    rendered = format_diagnostics(result.diagnostics, result.sources)
    for d in result.errors:
        assert re.fullmatch(r"E\d{3}", d.code) and d.message
        assert d.span is None or d.span.file in result.sources
    assert result.ok or rendered


@pytest.mark.parametrize("where", [5, 2000, 4990])
def test_a_very_long_line_is_shown_around_the_caret(where: int) -> None:
    """A 5,000-column line (a generated spec) is cut to a window that still has the caret under the token."""
    from netdsl.errors import Diagnostic, Span, format_diagnostic

    line = "x" * where + "cnov2d" + "y" * (5000 - where)
    d = Diagnostic("E101", "unknown layer or block `cnov2d`", Span("t.net", 1, where + 1, 1, where + 7))
    text = format_diagnostic(d, {"t.net": line + "\n"})
    _, shown, caret = text.splitlines()[:3]
    assert len(shown) <= len("   1 | ") + MAX_SHOWN + 2
    start = caret.index("^")
    assert caret.count("^") == 6 and shown[start : start + 6] == "cnov2d"


def test_control_bytes_are_escaped_everywhere_and_the_caret_follows() -> None:
    """A spec cannot drive the terminal through its diagnostics; escapes before the caret keep it aligned."""
    from netdsl.errors import Diagnostic, Span, format_diagnostic

    line = "\x1b[2J\x07x = cnov2d  # \x00\u202e"
    d = Diagnostic("E101", "unknown `\x1b]0;title\x07`", Span("t\x1bnet", 1, 10, 1, 16), hint="see \x9b")
    text = format_diagnostic(d, {"t\x1bnet": line + "\n"})
    assert not any(c in text for c in "\x1b\x07\x00\u202e\x9b"), text
    shown, caret = text.splitlines()[1:3]
    start = caret.index("^")
    assert shown[start : start + 6] == "cnov2d" and caret.count("^") == 6
    assert text.startswith("t\\x1bnet:1:10: error[E101]: unknown `\\x1b]0;title\\x07`")


def test_float_like_module_names_are_spelt_out() -> None:
    """`3.5` (module 3, child 5) reads like a float: diagnostics spell it out; `state_dict` keys stay `3.5`."""
    result = analyze(CORPUS / "layer_name_float_like.net")
    (err,) = result.errors
    assert err.layer == "3.5"
    assert "(layer `3.5`, module 3, child 5)" in format_diagnostics(result.diagnostics, result.sources)
