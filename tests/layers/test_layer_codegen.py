"""Specs using the new kinds: the static shapes are the run-time ones, the standalone Python
source builds the same state_dict keys and the same outputs, TorchScript runs them, and
``linear`` on a channels-first map is still the forgotten-flatten error.
"""

from __future__ import annotations

import ast
import importlib.util
import warnings
from pathlib import Path
from types import ModuleType

import pytest
import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from netdsl.backends.python.codegen import emit
from netdsl.backends.torch.compile import build
from netdsl.backends.torch.verify import verify
from netdsl.pipeline import Analysis, analyze

EVERYTHING = """
block Mlp(dim, ratio=2) {
    fc1: linear(ratio * dim); gelu(approximate="tanh"); dropout(0.1)
    fc2: linear(dim)
}

net Everything(dim=16) {
    input(3, 32, 32)
    stem: conv2d(dim, 4, stride=4)                # 16×8×8
    norm: layernorm2d(eps=1e-6)
    to_tokens                                     # 64×16
    layernorm
    mlp: Mlp(dim)
    to_map(8, 8)                                  # 16×8×8
    up: conv_transpose2d(8, 2, stride=2)          # 8×16×16
    prelu(8)
    dropout2d(0.1)
    upsample(size=(24, 24), mode="bilinear", align_corners=false)
    add { {}; stochastic_depth(0.2) }
    permute([0, 2, 3, 1])                         # 24×24×8
    linear(4)                                     # 24×24×4
    transpose(1, 3)                               # 4×24×24
    flatten(2)                                    # 4×576
    conv1d(6, 3, padding=1); batchnorm1d; maxpool1d(2); avgpool1d(2, stride=1); adaptive_maxpool1d(8)
    reshape([6, 2, 2, 2])                         # 6×2×2×2
    conv3d(4, 3, padding=1); batchnorm3d; relu; dropout3d(0.1)
    conv_transpose3d(2, 2, stride=2)              # 2×4×4×4
    maxpool3d(2, stride=1); upsample(mode="trilinear"); avgpool(2); adaptive_avgpool3d(1)
    flatten
    head: linear(10)
}
"""


def _import(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _analysis(tmp_path: Path, text: str) -> Analysis:
    path = tmp_path / "spec.net"
    path.write_text(text, encoding="utf-8")
    return analyze(path)


def _output(model: nn.Module, x: Tensor) -> Tensor:
    model.eval()
    with torch.no_grad():
        out: Tensor = model(x)
    return out


@pytest.fixture(scope="module")
def everything(tmp_path_factory: pytest.TempPathFactory) -> tuple[Analysis, nn.Module]:
    analysis = _analysis(tmp_path_factory.mktemp("everything"), EVERYTHING)
    assert analysis.ok, [f"{d.code} {d.span}: {d.message}" for d in analysis.errors]
    return analysis, build(analysis, seed=0)


def test_static_shapes_and_costs_are_the_run_time_ones(everything: tuple[Analysis, nn.Module]) -> None:
    analysis, model = everything
    assert analysis.shapes is not None and analysis.shapes.output == (10,)
    assert verify(model, analysis) == []
    total = analysis.shapes.total
    assert total.params == sum(p.numel() for p in model.parameters())
    assert total.buffers == sum(b.numel() for b in model.buffers())
    model.eval()
    with FlopCounterMode(display=False) as counter:
        model(torch.randn(1, 3, 32, 32))
    assert total.macs == counter.get_total_flops() // 2


def test_standalone_python_builds_the_same_module(everything: tuple[Analysis, nn.Module], tmp_path: Path) -> None:
    analysis, model = everything
    source = emit(analysis)
    imports = {a.name.split(".")[0] for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Import) for a in n.names}
    assert imports <= {"torch", "typing"}
    for helper in ("class ToTokens(nn.Module)", "class ToMap(nn.Module)", "class LayerNorm2d(nn.LayerNorm)"):
        assert helper in source
    assert "nn.ConvTranspose2d(16, 8, 2, stride=2)" in source
    path = tmp_path / "generated_everything.py"
    path.write_text(source, encoding="utf-8")
    generated = _import(path).build()
    assert list(generated.state_dict()) == list(model.state_dict())
    generated.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(_output(generated, x), _output(model, x), atol=0, rtol=0)


def test_torchscript_runs_the_new_modules(everything: tuple[Analysis, nn.Module]) -> None:
    _, model = everything
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript's deprecation notice
        scripted = torch.jit.script(model)
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(_output(scripted, x), _output(model, x), atol=1e-6, rtol=0)


def test_existing_flatten_and_upsample_keep_their_meaning(tmp_path: Path) -> None:
    analysis = _analysis(tmp_path, "net Old {\n    input(4, 5, 5)\n    upsample\n    upsample(1.5)\n    flatten\n}\n")
    assert analysis.ok and analysis.shapes is not None and analysis.shapes.output == (4 * 15 * 15,)
    source = emit(analysis)
    assert "nn.Upsample(scale_factor=2.0)" in source and "nn.Upsample(scale_factor=1.5)" in source
    assert "nn.Flatten()" in source


@pytest.mark.parametrize(
    ("body", "ok"),
    [
        ("conv2d(8, 3); relu; batchnorm; dropout(0.1); linear(10)", False),  # the forgotten flatten
        ("linear(10)", False),  # a (C, H, W) net input is a map
        ("conv2d(8, 3); add { {}; conv2d(8, 3, padding=1) }; linear(4)", False),
        ("Head(4)", False),  # through a block
        ("to_tokens; to_map(16, 16); linear(4)", False),
        ("conv2d(8, 3); flatten; linear(10)", True),
        ("conv2d(8, 3); global_avgpool; linear(10)", True),
        ("conv2d(8, 3); permute([0, 2, 3, 1]); layernorm; linear(32); gelu; linear(8)", True),
        ("conv2d(8, 3); to_tokens; linear(4); linear(4)", True),
        ("conv2d(8, 3); flatten(2); transpose(1, 2); linear(4)", True),
    ],
)
def test_linear_on_a_channels_first_map_is_refused(tmp_path: Path, body: str, ok: bool) -> None:
    text = f"block Head(n) {{\n    linear(n)\n}}\n\nnet Flow {{\n    input(3, 16, 16)\n    {body}\n}}\n"
    analysis = _analysis(tmp_path, text)
    assert analysis.ok == ok, [d.message for d in analysis.errors]
    if not ok:
        (error,) = analysis.errors
        assert error.code == "E301" and "linear expects a (F,) vector" in error.message
        assert "flatten" in (error.hint or "")


def test_tokens_declared_as_input_feed_linear(tmp_path: Path) -> None:
    analysis = _analysis(tmp_path, "net Tokens {\n    input(196, 768)\n    layernorm\n    linear(3072)\n}\n")
    assert analysis.ok and analysis.shapes is not None and analysis.shapes.output == (196, 3072)
