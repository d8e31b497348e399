"""Inputs for fuzzing netdsl's front end, and the check every input must pass.

Three sources of spec texts: derivations of netdsl's own grammar
(``hypothesis.extra.lark.from_lark`` over ``grammar/netdsl.lark``), small well-formed
nets built from real layers, blocks and merges (to reach shape inference and the
build), and token-level mutations of the shipped specs (through Lark's lexer:
deletions, duplications, swaps, number/name/string changes, copied lines).
:func:`exercise` runs one text and raises exactly when it found a bug.

Used by the in-suite fuzz tests (``tests/test_fuzz.py``) and the long run
(``tests/fuzz/run_long.py``).
"""

from __future__ import annotations

import contextlib
import random
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from lark import Lark, Token

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "specs").glob("*.net"))  # the nets (the library files under lib/ hold only blocks)
SMALL_SPECS = [ROOT / "specs" / n for n in ("lenet5.net", "alexnet.net", "nin.net", "resnet18.net", "vgg11.net")]

# ---------------------------------------------------------------------------- running one input

_CODE = re.compile(r"[EW]\d{3}")


@dataclass
class Outcome:
    """What one input did: the diagnostic codes it produced and how far it got (diagnostics, checked, built)."""

    codes: frozenset[str]
    stage: str


def exercise(text: str, path: Path, limits: Any = None, extras: bool = True) -> Outcome:
    """Run one spec text through the front end and, if it checks clean, the meta build.

    Raises (an uncaught netdsl exception or an ``AssertionError`` about a malformed
    diagnostic) exactly when the input found a bug.
    """
    from netdsl.errors import NetdslError, format_diagnostics
    from netdsl.pipeline import analyze

    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    result = analyze(path, limits=limits)
    format_diagnostics(result.diagnostics, result.sources)  # as the CLI prints them
    codes = {d.code for d in result.diagnostics}
    for d in result.diagnostics:
        assert _CODE.fullmatch(d.code) and d.message, f"malformed diagnostic {d!r}"
        assert d.span is None or d.span.file in result.sources, f"diagnostic outside the sources: {d!r}"
        assert "Traceback" not in d.message, d.message
        assert not (d.code == "E309" and "(built-in)" in d.message), f"a built-in rule failed: {d.message}"
    assert result.ok or result.errors, "not ok, yet no error reported"
    if not result.ok:
        return Outcome(frozenset(codes), "diagnostics")
    from netdsl.backends.torch.compile import build

    try:
        build(result, device="meta")
    except NetdslError as err:
        codes |= {d.code for d in err.diagnostics}
        return Outcome(frozenset(codes), "checked")
    if extras:  # what `netdsl shapes`, `render --format dot` and `build --format python` do with it
        from netdsl.backends.graphviz import RenderOptions, to_dot
        from netdsl.backends.python.codegen import CodegenError, emit
        from netdsl.shapes import report

        assert result.shapes is not None
        report.table(result.shapes, 2, True, 1)
        report.to_json(result.shapes, None, False, 1)
        to_dot(result.shapes, RenderOptions(None, False, "TB"))
        with contextlib.suppress(CodegenError):  # a documented refusal: the CLI points to --format torchscript
            compile(emit(result), "<generated>", "exec")  # the generated source must at least be Python
    return Outcome(frozenset(codes), "built")


# ---------------------------------------------------------------------------- grammar-based inputs

VOCABULARY = [
    # layer kinds, block-ish and parameter-ish names, functions, `in` attributes, keyword arguments
    *("conv2d", "conv1d", "relu", "batchnorm", "linear", "flatten", "maxpool", "avgpool", "global_avgpool"),
    *("adaptive_avgpool", "dropout", "upsample", "identity", "sigmoid", "softmax", "layernorm", "groupnorm"),
    *("zeropad", "add", "concat", "mul", "B", "Net", "ResNet", "Bottleneck", "c", "n", "i", "x", "depths"),
    *("min", "max", "abs", "int", "len", "h", "w", "l", "rank", "shape", "stride", "padding", "kernel_size"),
    *("k", "s", "p", "bias", "groups", "dim", "os", "eval", "exec", "__import__", "torch", "subprocess"),
]
INTS = ["0", "1", "2", "3", "4", "7", "8", "16", "32", "64", "224", "1_000", "1000000000", "4611686018427387904"]
FLOATS = ["0.5", "1.0", "3.5", "1e-5", "1e308", "2.", "0.0"]
STRINGS = [
    *('"same"', '"valid"', "'nearest'", '""', '"lib/resnet.net"', '"netdsl:lib/vgg.net"', '"os"'),
    *('"../x.net"', '"/etc/passwd"', '"lib/../../x.net"', '"nope:x.net"', '"a b"', '"specs"'),
]


def _terminal_strategies(lark: Lark) -> dict[str, st.SearchStrategy[str]]:
    """A strategy per terminal, each followed by a space so that neighbours lex apart (`net` `A`, not `netA`)."""
    pools = {"NAME": VOCABULARY, "INT": INTS, "FLOAT": FLOATS, "STRING": STRINGS}
    out: dict[str, st.SearchStrategy[str]] = {}
    for t in lark.terminals:
        if t.name in pools:
            out[t.name] = st.sampled_from(pools[t.name]).map(lambda s: s + " ")
        elif t.name == "_NL":
            out[t.name] = st.sampled_from(["\n", "\n\n"])
        elif t.name == "COMMENT":  # mostly a space: a comment ends its line, which the grammar did not ask for
            out[t.name] = st.sampled_from([" ", " ", " ", "# c\n"])
        elif t.pattern.type == "str":
            out[t.name] = st.just(t.pattern.value + " ")
        else:  # whitespace
            out[t.name] = st.just(" ")
    return out


@cache
def grammar_specs(start: str = "start") -> st.SearchStrategy[str]:
    """Spec texts derived from netdsl's own grammar (``grammar/netdsl.lark``) with hypothesis.extra.lark."""
    from hypothesis.extra.lark import from_lark

    lark = _lexer()  # the same grammar file as netdsl.syntax.parser.parser(), loaded without Lark's cache
    terminals, rules, ignored = lark.grammar.compile([start], ())
    used = {t.name for t in terminals} | set(ignored) | {s.name for r in rules for s in r.expansion if s.is_term}
    explicit = {k: v for k, v in _terminal_strategies(lark).items() if k in used}
    return from_lark(lark, start=start, explicit=explicit)


# ------------------------------------------------------------------- well-formed nets (to reach shapes and build)

_LAYERS = [
    *("relu", "batchnorm", "identity", "sigmoid", "flatten", "global_avgpool", "dropout(0.5)", "maxpool(2)"),
    *("avgpool(3, stride=2, padding=1)", "linear(10)", "upsample(2)", "zeropad(1)", "layernorm", "groupnorm(2)"),
    *("adaptive_avgpool(1)", "conv1d(4, 3)", "softmax(dim=1)", "maxpool(3, stride=2, ceil_mode=true)", "B(8)"),
    *("inline B(c)", "conv2d(c, 1)", "conv2d(c * 2, 3, stride=2, padding=1, bias=false)", "conv2d(16, (1, 3))"),
    *("conv2d(8, 3, padding='same', groups=2)", "conv2d(c, 3, dilation=2, padding=2)", "linear(c)", "@in"),
    *("@v", "C(4)", "Basic(16)", "Bottleneck(8, stride=2)", "inline Basic(c)", "DenseLayer(8, 4)"),
]


def _labelled(label: str, inner: str) -> str:
    return f"{label}: {inner}"


def _one(stmt: str) -> str:
    """A statement that may follow `repeat`: a node, else the statements wrapped in a group."""
    return stmt if "\n" not in stmt and not stmt.startswith(("if ", "@")) else f"{{ {stmt} }}"


_VALUES = {
    "bool": ["true", "false"],
    "float": ["0.0", "0.5", "1.0", "1e-5", "-1.0", "2.5", "1e308"],
    "int": ["0", "1", "2", "3", "5", "-1", "64", "1000", "(1, 2)", "(2, 2, 1, 1)", "(3,)", "(0, 0)"],
}


@cache
def layer_calls() -> st.SearchStrategy[str]:
    """A call of any registered layer kind with some of its parameters set to ordinary or odd values."""
    from netdsl.registry import REGISTRY

    def call(name: str) -> st.SearchStrategy[str]:
        fields = REGISTRY.get(name).schema.model_fields  # type: ignore[union-attr]
        options, required = [], []
        for f, info in fields.items():
            if info.is_required():
                required.append(len(options))
            ann = str(info.annotation)
            literal = re.findall(r"'([^']+)'", ann) if "Literal" in ann else []
            pool = [f"'{v}'" for v in literal] + ["'bogus'"] if literal else []
            pool += next((v for k, v in _VALUES.items() if k in ann), []) if not literal else []
            if "padding" in f:
                pool += ["'same'", "'valid'"]
            options.append(st.sampled_from(pool or ["1"]).map(lambda v, f=f: f"{f}={v}"))
        chosen = st.lists(st.sampled_from(range(len(options))), unique=True, max_size=3) if options else st.just([])
        chosen = chosen.map(lambda idx: sorted(set(idx) | set(required)))
        return chosen.flatmap(
            lambda idx: st.tuples(*[options[i] for i in idx]).map(lambda kws: f"{name}({', '.join(kws)})")
        )

    kinds = sorted(n for n in REGISTRY.names() if not REGISTRY.get(n).is_merge)  # type: ignore[union-attr]
    return st.sampled_from(kinds).flatmap(call)


@cache
def semantic_specs() -> st.SearchStrategy[str]:
    """Small nets built from real layers, blocks, groups, repeats, merges and `if in.c` switches."""
    label = st.sampled_from(["a", "b", "conv1", "layer1", "down", "stage[i]", "x[-1]", "x['a.b']", "x[i * 1000]"])

    def compound(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        paths = st.lists(inner, min_size=2, max_size=3).map("\n".join)
        body = st.lists(inner, min_size=1, max_size=3).map("\n".join)
        return st.one_of(
            body.map(lambda b: "{ " + b + " }"),
            st.tuples(label, body).map(lambda t: _labelled(t[0], "{ " + t[1] + " }")),
            st.tuples(st.integers(1, 3), inner).map(lambda t: f"repeat {t[0]} as i {_one(t[1])}"),
            st.tuples(st.sampled_from(["add", "concat", "mul", "concat(dim=1)"]), paths).map(
                lambda t: f"{t[0]} {{\n{t[1]}\n}}"
            ),
            st.tuples(body, body).map(lambda t: f"if in.c > 8 {{ {t[0]} }} else {{ {t[1]} }}"),
            st.tuples(inner, st.sampled_from(["v", "w"])).map(lambda t: f"{{ {t[0]} }} -> {t[1]}\n@{t[1]}"),
        )

    # Mostly ordinary layers, so that most nets check clean and reach the build; a quarter of odd calls.
    leaf = st.one_of(st.sampled_from(_LAYERS), st.sampled_from(_LAYERS), st.sampled_from(_LAYERS), layer_calls())
    stmt = st.recursive(leaf, compound, max_leaves=10)
    body = st.lists(stmt, min_size=1, max_size=5).map("\n".join)
    shape = st.sampled_from(["3, 32, 32", "1, 28, 28", "8, 16", "16", "4, 7, 9"])
    head = 'import "lib/resnet.net"\nimport "netdsl:lib/densenet.net"\nblock C(k) { B(k * 2); relu }\n'
    return st.tuples(body, body, shape).map(
        lambda t: f"{head}block B(c=8) {{\n{t[0]}\n}}\nnet N(c=16) {{\ninput({t[2]})\n{t[1]}\n}}\n"
    )


# ---------------------------------------------------------------------------- token-level mutations


@cache
def _lexer() -> Lark:
    from netdsl.syntax.parser import grammar_path

    # Without the newline post-lexer and keeping whitespace and comments: the tokens join back to the text.
    return Lark.open(str(grammar_path()), parser="lalr", lexer="basic")


@cache
def tokens_of(path: Path) -> tuple[Token, ...]:
    return tuple(_lexer().lex(path.read_text(encoding="utf-8"), dont_ignore=True))


_FILLER = {"__IGNORE_1", "COMMENT", "_NL"}
# Edits that break the syntax (the parser's error reporting) and edits that keep it (the later passes).
BREAKING = ("delete", "duplicate", "swap", "insert", "keyword")
KEEPING = ("number", "name", "string", "line")
MUTATIONS = BREAKING + KEEPING
_KEYWORDS = ["{", "}", "(", ")", "[", "]", ",", ";", ":", "=", "->", "@", "repeat 3 ", "if ", "else ", "as i ", "-"]
_KEYWORDS += ["inline ", "let ", "in.c", "**", "//", "add ", "concat ", "\n", "import ", "block ", "net ", "not "]


def mutate(tokens: tuple[Token, ...], ops: list[tuple[str, int, int]]) -> str:
    """Apply token-level mutations; each op is (kind, a, b) with a, b picking tokens or values by modulo."""
    vals = [t.value for t in tokens]
    kinds = [t.type for t in tokens]
    for op, a, b in ops:
        sig = [i for i, k in enumerate(kinds) if k not in _FILLER] or [0]
        i, j = sig[a % len(sig)], sig[b % len(sig)]
        if op == "delete":
            vals[i] = ""
        elif op == "duplicate":
            vals[i] = vals[i] + " " + vals[i]
        elif op == "swap":
            k = sig[(sig.index(i) + 1) % len(sig)]
            vals[i], vals[k] = vals[k], vals[i]
        elif op == "number":
            nums = [n for n, k in enumerate(kinds) if k in ("INT", "FLOAT")] or [i]
            vals[nums[a % len(nums)]] = (INTS + FLOATS)[b % (len(INTS) + len(FLOATS))]
        elif op == "name":
            names = [n for n, k in enumerate(kinds) if k == "NAME"] or [i]
            pool = [vals[n] for n in names] + VOCABULARY
            vals[names[a % len(names)]] = pool[b % len(pool)]
        elif op == "string":
            strings = [n for n, k in enumerate(kinds) if k == "STRING"]
            if strings:
                vals[strings[a % len(strings)]] = STRINGS[b % len(STRINGS)]
        elif op == "insert":
            vals[i] = vals[i] + " " + vals[j] + " "
        elif op == "keyword":
            vals[i] = _KEYWORDS[b % len(_KEYWORDS)]
        else:  # "line": copy the line of token j after the line of token i (block-level edits)
            lines = "".join(t.value for t in tokens).split("\n")
            copy = lines[(tokens[j].line or 1) - 1] + "\n"
            after = next((n for n, t in enumerate(tokens) if (t.line or 0) > (tokens[i].line or 0)), None)
            if after is None:
                vals[-1] += "\n" + copy
            else:
                vals[after] = copy + vals[after]
    return "".join(vals)


def mutation_ops() -> st.SearchStrategy[list[tuple[str, int, int]]]:
    """Hypothesis strategy: one syntax-breaking edit, or one to three that keep the syntax."""
    where = st.integers(0, 1 << 20)
    breaking = st.tuples(st.sampled_from(BREAKING), where, where).map(lambda op: [op])
    keeping = st.lists(st.tuples(st.sampled_from(KEEPING), where, where), min_size=1, max_size=3)
    return breaking | keeping


def random_ops(rng: random.Random) -> list[tuple[str, int, int]]:
    """The same for the long run, from a seeded generator."""
    if rng.random() < 0.5:
        return [(rng.choice(BREAKING), rng.randrange(1 << 20), rng.randrange(1 << 20))]
    return [(rng.choice(KEEPING), rng.randrange(1 << 20), rng.randrange(1 << 20)) for _ in range(rng.randint(1, 3))]
