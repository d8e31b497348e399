"""ONNX export (verified in onnxruntime) and --weights, through the command a user runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torchvision
from torch import nn

import netdsl
from netdsl.cli import main

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "specs").glob("*.net"))
# Same blocks as resnet50 and vgg16, only more of them (and 180–575 MB files): covered by their families.
FAMILY_COVERED = {"resnet101", "resnet152", "vgg13", "vgg19"}
#: Shipped specs torch.onnx cannot export, with the reason. None today: every one exports and agrees.
CANNOT_EXPORT: dict[str, str] = {}


def randomised(model: nn.Module, seed: int = 0) -> dict[str, torch.Tensor]:
    """The model's state_dict with every BatchNorm statistic, affine parameter and bias randomised.

    A fresh init leaves BatchNorm an identity, which would hide an exporter that drops or misplaces it.
    """
    g = torch.Generator().manual_seed(seed)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    for k, v in state.items():
        if not v.is_floating_point():
            continue
        if k.endswith("running_var"):
            state[k] = torch.rand(v.shape, generator=g) + 0.5
        elif k.endswith(("running_mean", "bias")) or (k.endswith("weight") and v.dim() == 1):
            state[k] = torch.randn(v.shape, generator=g) * 0.2 + (1.0 if k.endswith("weight") else 0.0)
    return state


def run_onnx(path: Path, x: torch.Tensor) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x.numpy()})[0]  # type: ignore[no-any-return]


@pytest.mark.parametrize("spec", [p for p in SPECS if p.stem not in FAMILY_COVERED], ids=lambda p: p.stem)
def test_every_spec_exports_with_its_weights_and_agrees_in_onnxruntime(spec: Path, tmp_path: Path) -> None:
    if spec.stem in CANNOT_EXPORT:
        pytest.fail(f"listed as not exportable ({CANNOT_EXPORT[spec.stem]}): remove it from the list once it exports")
    model = netdsl.load(spec).eval()
    weights = tmp_path / "w.pt"
    torch.save(randomised(model), weights)
    out = tmp_path / "m.onnx"
    assert main(["build", str(spec), "--format", "onnx", "--weights", str(weights), "--verify", "-o", str(out)]) == 0
    onnx.checker.check_model(str(out))
    graph = onnx.load(str(out), load_external_data=False).graph
    assert [i.name for i in graph.input] == ["input"] and [o.name for o in graph.output] == ["output"]
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param  # the batch dimension is symbolic
    model.load_state_dict(torch.load(weights, weights_only=True))
    shape = netdsl.analyze(spec).shapes.input_shape  # type: ignore[union-attr]
    for batch in (1, 3):
        x = torch.randn(batch, *shape)
        with torch.no_grad():
            expected = model(x).numpy()
        got = run_onnx(out, x)
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()


def test_no_shipped_spec_is_listed_as_not_exportable() -> None:
    assert CANNOT_EXPORT == {}


def test_weights_from_torchvision_and_from_a_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reference = torchvision.models.resnet18().eval()
    state = randomised(reference, seed=1)
    reference.load_state_dict(state)
    pth = tmp_path / "resnet18-tv.pth"
    torch.save(state, pth)
    checkpoint = tmp_path / "last.pt"
    torch.save({"model": state, "epoch": 3, "config": {"lr": 0.1}}, checkpoint)
    for source in (pth, checkpoint):
        out = tmp_path / f"{source.stem}.pt"
        assert main(["build", "specs/resnet18.net", "--weights", str(source), "-o", str(out)]) == 0
        model = netdsl.load("specs/resnet18.net").eval()
        model.load_state_dict(torch.load(out, weights_only=True), strict=True)
        x = torch.randn(2, 3, 64, 64)
        with torch.no_grad():
            assert torch.allclose(model(x), reference(x), rtol=1e-5, atol=1e-5)
    assert "loaded 122 tensors" in capsys.readouterr().out


def test_weights_that_do_not_fit_are_listed_at_their_spec_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = netdsl.load("specs/lenet5.net").state_dict()
    del state["0.weight"]
    state["extra.weight"] = torch.zeros(1)
    state["3.bias"] = torch.zeros(7)
    weights = tmp_path / "bad.pt"
    torch.save(state, weights)
    out = tmp_path / "never.pt"
    assert main(["build", "specs/lenet5.net", "--weights", str(weights), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert not out.exists() and "Traceback" not in err
    assert "lenet5.net:6:5: error[E510]: weights do not fit: `0.weight` is in the spec but not in bad.pt" in err
    assert "`extra.weight` in bad.pt is not in the spec" in err
    assert "lenet5.net:9:5: error[E510]: weights do not fit: `3.bias`: the spec makes 16, bad.pt holds 7" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"not a torch file", "cannot read weights from"), (None, "does not exist")],
)
def test_an_unreadable_weights_file_is_one_clear_error(
    content: bytes | None, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = tmp_path / "w.pt"
    if content is not None:
        weights.write_bytes(content)
    assert main(["build", "specs/lenet5.net", "--weights", str(weights), "-o", str(tmp_path / "o.pt")]) == 1
    err = capsys.readouterr().err
    assert message in err and "E510" in err and "Traceback" not in err


def test_a_checkpoint_that_runs_code_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("side effect",))

    weights = tmp_path / "evil.pt"
    torch.save({"model": Evil()}, weights)
    assert main(["build", "specs/lenet5.net", "--weights", str(weights), "-o", str(tmp_path / "o.pt")]) == 1
    captured = capsys.readouterr()
    assert "side effect" not in captured.out and "cannot read weights" in captured.err


def test_optimised_onnx_build_says_it_exports_the_eval_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "lenet.onnx"
    assert main(["build", "specs/lenet5.net", "--format", "onnx", "--optimize", "inference", "-o", str(out)]) == 0
    assert "ONNX holds the eval model" in capsys.readouterr().out
    x = torch.randn(1, 1, 28, 28)
    assert out.exists() and run_onnx(out, x).shape == (1, 10)
