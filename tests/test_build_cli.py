"""``netdsl build``: every output format, --verify, --seed, --device meta, errors and atomic writes."""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

import netdsl
from netdsl.cli import main
from netdsl.layers.common import NoParams, one_input
from netdsl.registry import REGISTRY, LayerKind, Shape

SPECS = Path(__file__).resolve().parents[1] / "specs"
LENET = str(SPECS / "lenet5.net")
# LeNet-5 parameters by hand: conv 1→6 5×5, conv 6→16 5×5, linear 400→120→84→10, all with biases.
LENET_PARAMS = (6 * 25 + 6) + (16 * 6 * 25 + 16) + (400 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)


def run(*argv: str) -> int:
    return main(["build", *argv, "--no-color"])


def test_state_dict_default_name_and_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(LENET) == 0
    out = tmp_path / "lenet5.pt"
    state = torch.load(out)
    assert sum(t.numel() for t in state.values()) == LENET_PARAMS
    line = capsys.readouterr().out.strip()
    assert f"{LENET_PARAMS:,} params" in line and "lenet5.pt" in line and "state_dict" in line and "KB" in line
    netdsl.load(LENET).load_state_dict(state, strict=True)


def test_torchscript_output_runs_like_the_module(tmp_path: Path) -> None:
    out = tmp_path / "net.pt"
    assert run(LENET, "--format", "torchscript", "-o", str(out), "--seed", "3") == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.load(str(out))
    model = netdsl.load(LENET, seed=3).eval()
    x = torch.randn(2, 1, 28, 28)
    scripted.eval()
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), model(x), atol=0, rtol=0)


def test_python_output_is_standalone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        run(
            str(SPECS / "resnet18.net"), "--format", "python", "-o", str(tmp_path / "r18.py"), "--set", "num_classes=10"
        )
        == 0
    )
    assert "r18.py (python" in capsys.readouterr().out
    source = (tmp_path / "r18.py").read_text()
    assert "netdsl" not in source.split('"""', 2)[2]  # only the docstring mentions netdsl
    spec = importlib.util.spec_from_file_location("r18", tmp_path / "r18.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    generated = module.build()
    model = netdsl.load(SPECS / "resnet18.net", num_classes=10)
    generated.load_state_dict(model.state_dict(), strict=True)
    assert generated.fc.out_features == 10


def test_verify_reports_success(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(str(SPECS / "resnet50.net"), "--verify", "--input", "3x64x64", "-o", str(tmp_path / "r.pt")) == 0
    assert "verified" in capsys.readouterr().out


def test_seed_reproducibility(tmp_path: Path) -> None:
    paths = [tmp_path / f"{name}.pt" for name in ("a", "b", "c")]
    for path, seed in zip(paths, ("5", "5", "6"), strict=True):
        assert run(LENET, "--seed", seed, "-o", str(path)) == 0
    a, b, c = (torch.load(p) for p in paths)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_init_policy_reaches_the_weights(tmp_path: Path) -> None:
    out = tmp_path / "k.pt"
    assert run(str(SPECS / "resnet18.net"), "--init", "kaiming", "--seed", "0", "-o", str(out)) == 0
    state = torch.load(out)
    assert torch.equal(state["fc.bias"], torch.zeros(1000))
    assert state["fc.weight"].std().item() == pytest.approx(0.01, rel=0.05)


def test_meta_device_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "meta.pt"
    assert run(str(SPECS / "resnet152.net"), "--device", "meta", "--verify", "-o", str(out)) == 0
    assert not out.exists()
    assert "meta" in capsys.readouterr().out


def test_spec_error_is_located_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.net"
    bad.write_text("net Bad() {\n    input(3, 8, 8)\n    conv2d(8, 3)\n    conv2d(8, 9)\n}\n")
    out = tmp_path / "bad.pt"
    assert run(str(bad), "-o", str(out)) == 1
    err = capsys.readouterr().err
    assert f"{bad}:4:" in err and "Traceback" not in err
    assert not out.exists()


def test_bad_device_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(LENET, "--device", "nonsense") == 2
    assert "nonsense" in capsys.readouterr().err


def test_failed_build_keeps_previous_output(tmp_path: Path) -> None:
    out = tmp_path / "net.pt"
    out.write_bytes(b"previous build")
    bad = tmp_path / "bad.net"
    bad.write_text("net Bad() {\n    input(3, 8, 8)\n    linear(10)\n}\n")
    assert run(str(bad), "-o", str(out)) == 1
    assert out.read_bytes() == b"previous build"


def test_crash_while_saving_keeps_previous_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "net.pt"
    out.write_bytes(b"previous build")

    def crash(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        Path(f).write_bytes(b"half a fi")  # die midway through writing
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", crash)
    assert run(LENET, "-o", str(out)) == 1
    assert out.read_bytes() == b"previous build"
    assert [p.name for p in tmp_path.iterdir()] == ["net.pt"]  # no temporary file left behind
    assert "No space left on device" in capsys.readouterr().err


# A layer whose shape rule disagrees with its builder: the rule says "unchanged",
# the module halves the spatial size. --verify must catch it.
def _claims_same(p: Any, inputs: Any) -> Shape:
    return one_input(inputs)


@pytest.fixture
def lying_layer() -> Iterator[None]:
    kind = LayerKind("lying_pool", NoParams, _claims_same, lambda p, i, o: torch.nn.MaxPool2d(2), "test")
    with REGISTRY.origin("plugin test"):
        REGISTRY.register(kind)
    yield
    REGISTRY.unregister(kind.name)


@pytest.mark.usefixtures("lying_layer")
def test_verify_failure_names_module_shapes_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "lying.net"
    spec.write_text("net L() {\n    input(3, 8, 8)\n    conv2d(4, 3, padding=1)\n    pool: lying_pool\n}\n")
    out = tmp_path / "lying.pt"
    assert run(str(spec), "--verify", "-o", str(out)) == 1
    err = capsys.readouterr().err
    assert f"{spec}:4:" in err and "`pool`" in err
    assert "N×4×4×4" in err and "N×4×8×8" in err  # run-time and static shapes
    assert "Traceback" not in err and not out.exists()
