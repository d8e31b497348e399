"""Limits on runaway specs: each a diagnostic at the offending line naming the limit and how to raise it.

Every limit is checked three ways: it fires with its code at the right place, the
Python API (``limits=Limits(...)``) and the command line (``--max-…``) raise it,
and the defaults let the deepest real architectures through (ResNet-1001 and
DenseNet-264, checked against independent PyTorch references).
"""

from __future__ import annotations

import os
import time
from dataclasses import fields
from pathlib import Path

import pytest
import torch
from torch import nn
from torchvision.models import DenseNet

import netdsl
from netdsl.cli import main
from netdsl.errors import NetdslError
from netdsl.limits import Guard, LimitExceeded, Limits, current, env_name, parse_limit, using
from netdsl.pipeline import Analysis, analyze
from netdsl.shapes.inference import infer

ROOT = Path(__file__).resolve().parent.parent
LARGE = ROOT / "tests" / "specs_large"


def spec(tmp_path: Path, body: str, name: str = "main.net", head: str = "") -> Path:
    path = tmp_path / name
    path.write_text(f"{head}net Main {{\n    input(3, 32, 32)\n{body}\n}}\n", encoding="utf-8")
    return path


def only_error(a: Analysis) -> tuple[str, int, int]:
    (err,) = a.errors
    assert err.span is not None
    return err.code, err.span.line, err.span.col


def raised_by(field: str, a: Analysis) -> bool:
    """The hint names the option, the variable and the keyword that raise the limit."""
    hint = a.errors[0].hint or ""
    flag = "--" + field.replace("_", "-")
    return flag in hint and f"NETDSL_{field.upper()}" in hint and f"Limits({field}=" in hint


# ---------------------------------------------------------------------------- the Limits object


def test_defaults_are_generous_and_documented() -> None:
    d = Limits()
    assert (d.max_repeat, d.max_nodes, d.max_depth, d.max_imports) == (10_000, 200_000, 64, 256)
    assert d.max_file_bytes == 1 << 20 and d.max_layer_params == 2**31 and d.timeout == 60
    doc = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    for flag in ("--max-nodes", "--max-repeat", "--max-depth", "--timeout", "--max-layer-params", "NETDSL_TIMEOUT"):
        assert flag in doc, flag


def test_environment_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETDSL_MAX_NODES", "1_000")
    monkeypatch.setenv("NETDSL_TIMEOUT", "2.5")
    monkeypatch.setenv("NETDSL_MAX_LAYER_PARAMS", "2**40")
    lim = Limits.from_env(max_repeat=7, max_depth=None)
    assert (lim.max_nodes, lim.timeout, lim.max_layer_params, lim.max_repeat, lim.max_depth) == (
        1000, 2.5, 2**40, 7, 64)  # fmt: skip
    assert current() == Limits.from_env()
    with using(Limits(max_nodes=5)):
        assert current().max_nodes == 5
    assert current().max_nodes == 1000
    monkeypatch.setenv("NETDSL_MAX_NODES", "many")
    with pytest.raises(ValueError, match="NETDSL_MAX_NODES must be a positive integer"):
        Limits.from_env()
    with pytest.raises(ValueError):
        Limits(max_nodes=0)
    assert parse_limit("timeout", "0", "--timeout") == 0  # no deadline
    assert Guard(Limits(timeout=0)).deadline is None


# ---------------------------------------------------------------------------- reading: files and imports


def test_file_size(tmp_path: Path) -> None:
    main_ = spec(tmp_path, "    relu\n" + "    # padding\n" * 200)
    size = main_.stat().st_size
    a = analyze(main_, limits=Limits(max_file_bytes=1000))
    assert [e.code for e in a.errors] == ["E211"] and f"{size:,} bytes" in a.errors[0].message
    assert raised_by("max_file_bytes", a)
    assert analyze(main_, limits=Limits(max_file_bytes=size)).ok


def test_total_size_of_the_spec_and_its_imports(tmp_path: Path) -> None:
    for n in range(3):
        (tmp_path / f"lib{n}.net").write_text(f"block B{n} {{ relu }}\n" + "# padding\n" * 100, encoding="utf-8")
    main_ = spec(tmp_path, "    B0; B1; B2", head="".join(f'import "lib{n}.net"\n' for n in range(3)))
    a = analyze(main_, limits=Limits(max_total_bytes=2500))
    assert only_error(a) == ("E215", 3, 1)  # the import that overflows the budget
    assert raised_by("max_total_bytes", a)
    assert analyze(main_).ok


def test_import_count_and_depth(tmp_path: Path) -> None:
    for n in range(6):  # a chain: lib0 imports lib1 … imports lib5
        nxt = f'import "lib{n + 1}.net"\n' if n < 5 else ""
        (tmp_path / f"lib{n}.net").write_text(f"{nxt}block B{n} {{ relu }}\n", encoding="utf-8")
    main_ = spec(tmp_path, "    B0; B5", head='import "lib0.net"\n')
    assert analyze(main_).ok
    a = analyze(main_, limits=Limits(max_import_depth=3))
    assert only_error(a) == ("E214", 1, 1) and a.errors[0].span.file.endswith("lib2.net")  # type: ignore[union-attr]
    assert raised_by("max_import_depth", a) and "lib0.net → lib1.net → lib2.net → lib3.net" in a.errors[0].message
    a = analyze(main_, limits=Limits(max_imports=4))
    assert [e.code for e in a.errors] == ["E213"] and "more than 4 imported files" in a.errors[0].message


# ---------------------------------------------------------------------------- syntax and statement nesting


@pytest.mark.parametrize(
    "text",
    [
        "(" * 10_000,  # a file of 10,000 `(`: a syntax error, not a RecursionError
        "net A { input(3, 8, 8)\n conv2d(" + "(" * 10_000 + "3" + ")" * 10_000 + ", 3) }",  # nests as `[` does
        "net A { input(3, 8, 8)\n conv2d(" + "[" * 10_000 + "1" + "]" * 10_000 + ", 3) }",
        "net A { input(3, 8, 8)\n" + "{" * 10_000 + "relu" + "}" * 10_000 + "}",
        "net A { input(3, 8, 8)\n conv2d(" + "1 + " * 10_000 + "3, 3) }",
        "net A { input(3, 8, 8)\n conv2d(" + "-" * 10_000 + "3, 3) }",
        "net A { input(3, 8, 8)\n if " + "not " * 10_000 + "false { relu } }",
    ],
    ids=["parens", "balanced-parens", "brackets", "braces", "sum", "minus", "not"],
)
def test_deep_syntax_is_a_diagnostic_at_the_place(tmp_path: Path, text: str) -> None:
    path = tmp_path / "deep.net"
    path.write_text(text, encoding="utf-8")
    a = analyze(path)
    if text.startswith("("):
        assert only_error(a)[0] == "E002"
    else:  # every bracket kind counts the same (issue 21: 400,000 nested `(` used to be accepted)
        code, line, col = only_error(a)
        assert (code, line) == ("E003", 2) and text.splitlines()[1][col - 1] in "([{1-n"  # within the nesting
        assert "200 levels" in a.errors[0].message and raised_by("max_syntax_depth", a)


def test_a_flat_chain_is_not_nesting(tmp_path: Path) -> None:
    """199 terms are 198 levels where they stand (issue 21: they used to count as 208 levels of the tree)."""
    a = analyze(spec(tmp_path, "    conv2d(" + " + ".join(["1"] * 199) + ", 3)"))
    assert a.ok and a.shapes is not None and a.shapes.output == (199, 30, 30)
    a = analyze(spec(tmp_path, "    conv2d(" + " + ".join(["1"] * 200) + ", 3)"))
    assert only_error(a) == ("E003", 3, 12) and "200 levels" in a.errors[0].message  # the chain, from its start


def test_every_bracket_kind_counts_the_same(tmp_path: Path) -> None:
    for open_, close in (("(", ")"), ("[", "]")):  # `conv2d(` and the net's `{` are two levels
        a = analyze(spec(tmp_path, "    conv2d(" + open_ * 198 + "8" + close * 198 + ", 3)"))
        assert not [e for e in a.errors if e.code == "E003"], (open_, a.errors)
        a = analyze(spec(tmp_path, "    conv2d(" + open_ * 199 + "8" + close * 199 + ", 3)"))
        assert only_error(a) == ("E003", 3, 12 + 198), open_
    a = analyze(spec(tmp_path, "    " + "{" * 200 + "relu" + "}" * 200))
    assert only_error(a) == ("E003", 3, 5 + 199)


def test_nested_parentheses_stop_at_once(tmp_path: Path) -> None:
    path = spec(tmp_path, "    conv2d(" + "(" * 400_000 + "8" + ")" * 400_000 + ", 3)")
    start = time.process_time()
    a = analyze(path, limits=Limits(max_file_bytes=1 << 21, max_total_bytes=1 << 21))
    assert only_error(a)[0] == "E003" and time.process_time() - start < 1.0  # it used to take 2.6 s


def test_a_file_with_more_statements_than_modules_stops_where_it_crosses(tmp_path: Path) -> None:
    """A huge generated file stops as its parse crosses max_nodes, not after parsing all of it (issue 21)."""
    path = spec(tmp_path, "    relu\n" * 300_000)
    limits = Limits(max_nodes=20_000, max_file_bytes=1 << 23, max_total_bytes=1 << 23)
    start = time.process_time()
    a = analyze(path, limits=limits)
    assert only_error(a) == ("E132", 2 + 20_000, 5) and raised_by("max_nodes", a)  # `input` is the first
    assert time.process_time() - start < 2.0  # a 20,000-statement parse, not 300,000


def test_syntax_depth_can_be_raised(tmp_path: Path) -> None:
    path = spec(tmp_path, "    conv2d(" + "1 + " * 250 + "3, 3)")  # 250 ones and a three
    assert only_error(analyze(path))[0] == "E003"
    a = analyze(path, limits=Limits(max_syntax_depth=400))
    assert a.ok and a.shapes is not None and a.shapes.output == (253, 30, 30)


def test_statement_nesting(tmp_path: Path) -> None:
    repeats = "    " + "r: repeat 1 " * 70 + "relu"  # 70 nested repeats (each item labelled `r`)
    a = analyze(spec(tmp_path, repeats))
    assert only_error(a) == ("E131", 3, 5 + 12 * 64 + 3) and raised_by("max_depth", a)  # the 65th `repeat`
    assert "more than 64 levels" in a.errors[0].message
    a = analyze(spec(tmp_path, repeats), limits=Limits(max_depth=150))
    assert a.ok and a.shapes is not None and max(len(i.split(".")) for i in a.shapes.by_id) > 70
    # Blocks compound: ten blocks, each nesting ten groups, reach 110 levels (each use adds one).
    blocks = "".join(f"block L{n} {{ {'{ ' * 10}L{n + 1}{' }' * 10} }}\n" for n in range(10)) + "block L10 { relu }\n"
    a = analyze(spec(tmp_path, "    L0", head=blocks))
    assert [e.code for e in a.errors] == ["E131"] and a.errors[0].chain  # inside the blocks, with the chain
    assert analyze(spec(tmp_path, "    L0", head=blocks), limits=Limits(max_depth=150)).ok


def test_a_long_elif_chain_is_no_recursion(tmp_path: Path) -> None:
    arms = " ".join(f"elif k == {n} {{ conv2d({n + 1}, 1) }}" for n in range(1, 3000))
    path = tmp_path / "elif.net"
    path.write_text(f"net A(k=2999) {{ input(3, 8, 8)\n if k == 0 {{ relu }} {arms}\n}}\n", encoding="utf-8")
    a = analyze(path)
    assert a.ok and a.shapes is not None and a.shapes.output == (3000, 8, 8)


# ---------------------------------------------------------------------------- expansion


def test_repeat_count(tmp_path: Path) -> None:
    a = analyze(spec(tmp_path, "    repeat 10_001 relu"))
    assert only_error(a) == ("E133", 3, 12) and "at most 10,000" in a.errors[0].message
    assert raised_by("max_repeat", a)
    path = spec(tmp_path, "    repeat 10_001 relu")
    assert analyze(path, limits=Limits(max_repeat=20_000)).ok
    assert netdsl.check(path, limits=Limits(max_repeat=20_000)) == []  # the public API takes them too
    assert netdsl.analyze(path, limits=Limits(max_repeat=20_000)).ok
    assert [d.code for d in netdsl.check(path)] == ["E133"]


def test_node_count_stops_at_once_with_one_error(tmp_path: Path) -> None:
    path = spec(tmp_path, "    relu\n    repeat 10000 { relu; repeat 10000 { relu; relu } }\n    relu")
    t = time.monotonic()
    a = analyze(path)
    assert time.monotonic() - t < 30
    code, line, _ = only_error(a)
    assert (code, line) == ("E132", 4) and "more than 200,000" in a.errors[0].message
    assert raised_by("max_nodes", a)
    a = analyze(spec(tmp_path, "    repeat 300 repeat 300 relu"), limits=Limits(max_nodes=1000))
    assert only_error(a)[0] == "E132"


def test_lists_cannot_double_into_gigabytes(tmp_path: Path) -> None:
    lets = "".join(f"    let a{n + 1} = a{n} + a{n}\n" for n in range(40))
    a = analyze(spec(tmp_path, "    let a0 = [1, 2]\n" + lets + "    relu"))
    assert only_error(a) == ("E117", 16, 15) and "16,384 items" in a.errors[0].message  # a13: 2¹⁴ > 10,000


# ---------------------------------------------------------------------------- sizes: refused before any allocation


def test_a_huge_conv_is_refused_at_shape_time_with_its_memory(tmp_path: Path) -> None:
    path = spec(tmp_path, "    conv2d(10**9, 3)")
    a = analyze(path)
    assert only_error(a) == ("E303", 3, 5) and raised_by("max_layer_params", a)
    weights = 10**9 * 3 * 3 * 3 + 10**9  # out × in × 3 × 3, plus a bias per output channel
    assert f"this layer alone needs {weights * 4 / 1e9:.1f} GB of parameters" in a.errors[0].message
    assert f"{weights:,} parameters" in a.errors[0].message
    with pytest.raises(NetdslError) as err:  # the compiler never gets to allocate it
        netdsl.load(path)
    assert [d.code for d in err.value.diagnostics] == ["E303"]
    model = netdsl.load(path, device="meta", limits=Limits(max_layer_params=10**11, max_activation=10**12))
    assert sum(p.numel() for p in model.parameters()) == weights


def test_a_huge_linear_and_a_huge_activation(tmp_path: Path) -> None:
    a = analyze(spec(tmp_path, "    flatten\n    linear(10**12)"))
    weights = (3 * 32 * 32 + 1) * 10**12
    assert only_error(a) == ("E303", 4, 5) and f"{weights * 4 / 1e15:.1f} PB" in a.errors[0].message
    a = analyze(spec(tmp_path, "    upsample(100000)"))
    values = 3 * 3_200_000 * 3_200_000
    assert only_error(a) == ("E304", 3, 5) and f"{values:,} values" in a.errors[0].message
    assert raised_by("max_activation", a)
    path = tmp_path / "input.net"
    path.write_text("net A {\n    input(100000, 100000, 100)\n    relu\n}\n", encoding="utf-8")
    assert only_error(analyze(path)) == ("E304", 2, 5)


# ---------------------------------------------------------------------------- the wall-clock guard


def test_deadline_in_lowering(tmp_path: Path) -> None:
    path = spec(tmp_path, "    relu\n    repeat 1000 repeat 150 relu")
    a = analyze(path, limits=Limits(timeout=0.01))
    code, line, _ = only_error(a)
    assert (code, line) == ("E134", 4) and "longer than 0.01 s" in a.errors[0].message
    assert "--timeout" in (a.errors[0].hint or "") and "NETDSL_TIMEOUT" in (a.errors[0].hint or "")


def test_deadline_in_shape_inference(tmp_path: Path) -> None:
    a = analyze(spec(tmp_path, "    conv2d(8, 3)\n    relu"))
    assert a.net is not None
    with pytest.raises(LimitExceeded) as err:
        infer(a.net, guard=Guard(Limits(timeout=1e-9)))
    assert err.value.diagnostic.code == "E134" and err.value.diagnostic.span.line == 3  # type: ignore[union-attr]


# ---------------------------------------------------------------------------- the command line


def test_cli_options_raise_and_lower_limits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = spec(tmp_path, "    repeat 20 relu")
    assert main(["check", str(path), "--max-repeat", "10"]) == 1
    assert "error[E133]" in capsys.readouterr().err
    assert main(["check", str(path), "--max-repeat", "20", "--max-nodes", "2**20", "--timeout", "0"]) == 0
    big = spec(tmp_path, "    conv2d(10**9, 3)", name="big.net")
    assert main(["shapes", str(big)]) == 1 and "E303" in capsys.readouterr().err
    assert main(["shapes", str(big), "--max-layer-params", "1e11", "--max-activation", "1e12", "--format", "csv"]) == 0
    slow = spec(tmp_path, "    repeat 1000 repeat 150 relu", name="slow.net")
    assert main(["check", str(slow), "--timeout", "0.01"]) == 1 and "E134" in capsys.readouterr().err
    for bad in ("0", "-3", "1e400", "lots"):
        assert main(["check", str(path), "--max-nodes", bad]) == 2
        assert "--max-nodes must be a positive integer" in capsys.readouterr().err
    for command in ("check", "shapes", "build", "render"):
        assert main([command, "--help"]) == 0
        out = capsys.readouterr().out
        assert "--max-nodes N" in out and "--timeout SECONDS" in out and "NETDSL_MAX_REPEAT" in out, command


def test_cli_reads_limits_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = spec(tmp_path, "    repeat 20 relu")
    monkeypatch.setenv("NETDSL_MAX_REPEAT", "10")
    assert main(["check", str(path)]) == 1
    assert main(["check", str(path), "--max-repeat", "20"]) == 0  # the option wins over the variable
    monkeypatch.setenv("NETDSL_MAX_REPEAT", "ten")
    assert main(["check", str(path)]) == 2


# ---------------------------------------------------------------------------- the deepest real nets pass


class _PreActBottleneck(nn.Module):
    """He et al. 2016's pre-activation bottleneck (as in the authors' and kuangliu's CIFAR code)."""

    def __init__(self, cin: int, planes: int, stride: int) -> None:
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, planes, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(planes), nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn3, self.conv3 = nn.BatchNorm2d(planes), nn.Conv2d(planes, 4 * planes, 1, bias=False)
        if stride != 1 or cin != 4 * planes:
            self.shortcut = nn.Conv2d(cin, 4 * planes, 1, stride, bias=False)


def _resnet1001_reference() -> nn.Module:
    layers: list[nn.Module] = [nn.Conv2d(3, 16, 3, padding=1, bias=False)]
    cin = 16
    for planes, stride in ((16, 1), (32, 2), (64, 2)):
        for i in range(111):
            layers.append(_PreActBottleneck(cin, planes, stride if i == 0 else 1))
            cin = 4 * planes
    return nn.Sequential(*layers, nn.BatchNorm2d(cin), nn.Linear(cin, 10))


def test_resnet1001_and_densenet264_check_with_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert not any(env_name(f.name) in os.environ for f in fields(Limits))  # really the defaults
    resnet, densenet = LARGE / "resnet1001.net", LARGE / "densenet264.net"
    assert main(["check", str(resnet), str(densenet)]) == 0
    assert capsys.readouterr().err == ""
    with torch.device("meta"):
        ref_resnet = sum(p.numel() for p in _resnet1001_reference().parameters())
        ref_densenet = sum(p.numel() for p in DenseNet(32, (6, 12, 64, 48), 64).parameters())
    a = analyze(resnet)
    assert a.ok and a.shapes is not None and a.net is not None
    assert a.shapes.total.params == ref_resnet and a.shapes.output == (10,)
    # 1001 layers with weights: 3 stages × 111 units × 3 convs, the stem conv and the classifier.
    assert sum(n.kind in ("conv2d", "linear") and "shortcut" not in n.id for n in a.shapes.layers()) == 1001
    assert a.net.node_count < Limits().max_nodes // 10  # far inside the limits
    d = analyze(densenet)
    assert d.ok and d.shapes is not None and d.shapes.total.params == ref_densenet
    assert (
        sum(n.kind == "conv2d" for n in d.shapes.layers()) == 1 + 2 * (6 + 12 + 64 + 48) + 3
    )  # stem, layers, transitions
