"""``optimize="inference"``: BatchNorm folding, dropout removal, frozen TorchScript; same outputs as eval mode.

BatchNorm running statistics and affine parameters are randomised before each
check, so a wrong fold (a missing scale, a swapped mean) cannot hide behind the
identity statistics of a freshly initialised layer. Expected counts come from
torchvision's own models or from the static analysis, never from the optimiser.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
import torchvision
from torch import nn

import netdsl
from netdsl.backends.torch.optimize import OnednnModule, example_input, fold, optimize_for_inference
from netdsl.cli import main
from netdsl.pipeline import analyze

SPECS = Path(__file__).resolve().parents[1] / "specs"


def _randomise_batchnorms(model: nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            assert m.running_mean is not None and m.running_var is not None
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.5)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.2)


def _count(model: nn.Module, cls: type) -> int:
    return sum(isinstance(m, cls) for m in model.modules())


def _assert_same(actual: torch.Tensor, expected: torch.Tensor) -> None:
    torch.testing.assert_close(actual, expected, atol=1e-4, rtol=1e-4)


# spec, net parameters, torchvision model with the same BatchNorms (or None), dropouts by hand
CASES: list[tuple[str, dict[str, Any], Any, int]] = [
    ("resnet18", {"input": (3, 64, 64)}, torchvision.models.resnet18, 0),
    ("mobilenet_v2", {"input": (3, 64, 64)}, torchvision.models.mobilenet_v2, 1),  # classifier dropout
    ("alexnet_d2l", {"size": 96}, None, 2),  # d2l: dropout after each 4096-wide layer
    ("lenet5", {}, None, 0),
]


@pytest.mark.parametrize(("spec", "params", "reference", "dropouts"), CASES, ids=[c[0] for c in CASES])
def test_optimised_equals_eval_mode(spec: str, params: dict[str, Any], reference: Any, dropouts: int) -> None:
    path = SPECS / f"{spec}.net"
    model = netdsl.load(path, seed=0, **params)
    _randomise_batchnorms(model)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    analysis = analyze(path, {k: v for k, v in params.items() if k != "input"}, params.get("input"))
    batchnorms = sum(n.kind == "batchnorm" for n in analysis.shapes.layers()) if analysis.shapes else -1
    if reference is not None:  # the analysis counts what torchvision builds
        assert batchnorms == _count(reference(), nn.BatchNorm2d)
    assert analysis.shapes is not None

    opt = optimize_for_inference(model, example_input(analysis.shapes.input_shape, batch=1))
    assert opt.folded_batchnorms == batchnorms
    assert opt.dropped_dropouts == dropouts
    assert opt.channels_last  # image inputs
    assert opt.frozen and opt.notes == ()
    # The caller's model is untouched: still in training mode, same weights.
    assert model.training
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())

    x = torch.randn(2, *analysis.shapes.input_shape, generator=torch.Generator().manual_seed(1))
    model.eval()
    with torch.no_grad():
        expected = model(x)
        for _ in range(3):  # the first calls profile; the third runs the fused plan
            actual = opt.module(x)
    _assert_same(actual, expected)


@pytest.mark.parametrize("spec", ["resnet18", "alexnet_d2l"])
def test_fold_removes_every_batchnorm_and_dropout(spec: str) -> None:
    params: dict[str, Any] = {"input": (3, 32, 32)} if spec == "resnet18" else {"size": 96}
    model = netdsl.load(SPECS / f"{spec}.net", seed=0, **params)
    _randomise_batchnorms(model)
    body, folded, dropped = fold(model)
    assert _count(body, nn.modules.batchnorm._BatchNorm) == 0
    assert _count(body, nn.Dropout) == 0
    assert folded == _count(model, nn.BatchNorm2d) and dropped == _count(model, nn.Dropout)
    x = torch.randn(2, *((3, 32, 32) if spec == "resnet18" else (1, 96, 96)))
    with torch.no_grad():
        _assert_same(body(x), model.eval()(x))


def test_load_optimize_inference() -> None:
    optimised = netdsl.load(SPECS / "lenet5.net", seed=3, optimize="inference")
    plain = netdsl.load(SPECS / "lenet5.net", seed=3).eval()
    assert isinstance(optimised, OnednnModule | torch.jit.ScriptModule)
    assert not any(p.requires_grad for p in optimised.parameters())
    x = torch.randn(5, 1, 28, 28)  # another batch size than the example it was checked with
    with torch.no_grad():
        for _ in range(3):
            y = optimised(x)
        _assert_same(y, plain(x))


def test_load_optimize_rejects_meta_and_accepts_none() -> None:
    with pytest.raises(ValueError, match="meta"):
        netdsl.load(SPECS / "lenet5.net", optimize="inference", device="meta")
    assert isinstance(netdsl.load(SPECS / "lenet5.net", optimize="none"), nn.Sequential)


class _DataDependent(nn.Module):
    """Python control flow on values: torch.fx cannot trace it symbolically."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2 if bool(x.mean() > -100) else x


def test_untraceable_module_is_kept_whole_and_the_rest_folded() -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), _DataDependent(), nn.Conv2d(8, 4, 3), nn.BatchNorm2d(4)
    )
    _randomise_batchnorms(model)
    x = torch.randn(2, 3, 16, 16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt = optimize_for_inference(model, x)
    assert opt.folded_batchnorms == 2
    with torch.no_grad():
        _assert_same(opt.module(x), model.eval()(x))


def _build(*argv: str) -> int:
    return main(["build", *argv, "--no-color"])


def test_build_optimize_inference_writes_loadable_torchscript(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r18.pt"
    spec = str(SPECS / "resnet18.net")
    assert _build(spec, "--optimize", "inference", "--input", "3x64x64", "--seed", "7", "-o", str(out)) == 0
    line = capsys.readouterr().out
    assert "torchscript" in line and "20 BatchNorm(s) folded" in line  # no --format: TorchScript chosen
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        loaded = torch.jit.load(str(out))
    reference = netdsl.load(spec, seed=7, input=(3, 64, 64)).eval()
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        _assert_same(loaded(x), reference(x))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in loaded.modules())
    # An explicit --format torchscript is the same build.
    again = tmp_path / "again.pt"
    args = ("--optimize", "inference", "--format", "torchscript", "--input", "3x64x64", "-o", str(again))
    assert _build(spec, *args) == 0
    assert again.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--format", "state_dict"), "--format state_dict cannot hold"),
        (("--format", "python"), "--format python cannot hold"),
        (("--device", "meta"), "--device meta"),
    ],
)
def test_build_optimize_bad_combinations_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...], message: str
) -> None:
    out = tmp_path / "x.pt"
    assert _build(str(SPECS / "lenet5.net"), "--optimize", "inference", *extra, "-o", str(out)) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()
