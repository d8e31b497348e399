"""`netdsl train` and `netdsl evaluate` in-process: learning, the run directory, resume, bad losses, options."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import tomllib
from pathlib import Path

import pytest
import torch
from training_data import LENET, make_cifar, make_imagefolder, make_signs

import netdsl
from netdsl.cli import main
from netdsl.training import checkpoint
from netdsl.training.errors import ConfigError

FAST = ["--optimizer", "adam", "--lr", "0.003", "--batch-size", "16", "--workers", "0"]


def train(root: Path, out: Path, *extra: str, spec: str = LENET, data: str = "fashion-mnist") -> int:
    return main(["train", spec, "--data", data, "--root", str(root), "--out", str(out), *FAST, *extra])


@pytest.fixture(scope="module")
def trained(fmnist_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """LeNet-5 trained for two epochs on the generated Fashion-MNIST."""
    out = tmp_path_factory.mktemp("runs") / "lenet"
    assert train(fmnist_root, out, "--epochs", "2") == 0
    return out


def test_lenet_learns_separable_classes_and_evaluate_agrees(
    trained: Path, fmnist_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["evaluate", LENET, "--weights", str(trained / "best.pt"), "--root", str(fmnist_root)]) == 0
    out = capsys.readouterr().out
    top1 = float(out.split("top-1")[1].split("%")[0])
    assert top1 > 90, out
    assert "top-5" in out and "per-class accuracy" in out and "Sneaker" in out  # Fashion-MNIST's class names
    result = json.loads((trained / "eval_test.json").read_text())
    assert result["images"] == 300 and result["top1"] == pytest.approx(top1 / 100, abs=1e-4)
    rows = list(csv.reader((trained / "eval_test_confusion.csv").open()))
    assert len(rows) == 11 and sum(int(v) for r in rows[1:] for v in r[1:]) == 300
    assert (trained / "eval_test_confusion.png").read_bytes()[:4] == b"\x89PNG"


def test_evaluate_a_run_directory_on_its_validation_split(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["evaluate", "--weights", str(trained), "--split", "val"]) == 0  # spec, data, root: the run's
    out = capsys.readouterr().out
    assert "(val, 120 images)" in out and (trained / "eval_val_confusion.csv").exists()


def test_the_run_directory(trained: Path) -> None:
    assert {p.name for p in trained.iterdir()} >= {
        "config.toml", "metrics.csv", "curves.png", "last.pt", "best.pt", "summary.json",
    }  # fmt: skip
    assert not [p for p in trained.iterdir() if p.name.startswith(".")]  # no temporaries left
    rows = list(csv.DictReader((trained / "metrics.csv").open()))
    assert [(r["epoch"], r["split"]) for r in rows] == [("1", "train"), ("1", "val"), ("2", "train"), ("2", "val")]
    assert set(rows[0]) == {"epoch", "split", "loss", "acc", "lr", "seconds", "images_per_s"}
    assert float(rows[3]["acc"]) > 0.9 and float(rows[0]["images_per_s"]) > 0
    summary = json.loads((trained / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["epochs_done"] == 2 and summary["net"] == "LeNet5"
    config = tomllib.loads((trained / "config.toml").read_text())
    assert config["lr"] == 0.003 and config["optimizer"] == "adam" and config["epochs"] == 2
    ckpt = checkpoint.load(trained / "last.pt")
    assert ckpt["epoch"] == 2 and ckpt["spec"]["sha256"] == checkpoint.sha256(Path(LENET).read_text())
    assert {"model", "optimizer", "scheduler", "scaler", "rng", "config", "history"} <= set(ckpt)
    assert (trained / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_evaluate_refuses_another_spec_unless_forced(
    trained: Path, fmnist_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    changed = tmp_path / "lenet5.net"
    changed.write_text(Path(LENET).read_text() + "# edited\n")
    args = ["evaluate", str(changed), "--weights", str(trained / "last.pt"), "--out", str(tmp_path)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "trained on a different spec" in err and "--force" in err and "Traceback" not in err
    assert main([*args, "--force"]) == 0


def test_evaluate_takes_a_plain_state_dict(
    fmnist_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = tmp_path / "lenet_weights.pth"
    torch.save(netdsl.load(LENET, seed=1).state_dict(), weights)
    args = ["evaluate", LENET, "--weights", str(weights), "--data", "fashion-mnist", "--root", str(fmnist_root)]
    assert main(args) == 0
    assert "top-1" in capsys.readouterr().out and (tmp_path / "eval_test_confusion.csv").exists()
    torch.save({"not": "weights"}, weights)
    assert main(args) == 1
    assert "no tensors" in capsys.readouterr().err


def test_two_epochs_equal_one_plus_one_resumed_bit_for_bit(fmnist_root: Path, tmp_path: Path) -> None:
    extra = ["--augment", "--val-split", "0.2", "--seed", "3"]
    assert train(fmnist_root, tmp_path / "straight", "--epochs", "2", *extra) == 0
    assert train(fmnist_root, tmp_path / "halves", "--epochs", "1", *extra) == 0
    assert main(["train", "--resume", str(tmp_path / "halves"), "--epochs", "2"]) == 0
    a, b = (checkpoint.load(tmp_path / run / "last.pt") for run in ("straight", "halves"))
    assert a["epoch"] == b["epoch"] == 2
    assert a["model"].keys() == b["model"].keys()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert a["history"][1]["train_loss"] == b["history"][1]["train_loss"]
    assert len(list(csv.DictReader((tmp_path / "halves" / "metrics.csv").open()))) == 4


def test_resume_keeps_what_defines_the_run(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--resume", str(trained), "--epochs", "2", "--set", "num_classes=5"]) == 2
    assert "cannot change" in capsys.readouterr().err
    assert main(["train", "--resume", str(trained), "--epochs", "2", "--quiet"]) == 0  # nothing left to do
    assert main(["train", LENET, "--data", "mnist", "--out", str(trained)]) == 2
    assert "already holds a run" in capsys.readouterr().err


TINY = """net Tiny(num_classes=10, in_channels=1, size=28) {
    input(in_channels, size, size)
    flatten
    linear(64)
    relu
    linear(num_classes)
}
"""


def test_a_nan_loss_stops_with_epoch_step_and_hint(
    fmnist_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "tiny.net"
    spec.write_text(TINY)
    args = ["--epochs", "3", "--optimizer", "sgd", "--lr", "50", "--batch-size", "16", "--workers", "0"]
    out = tmp_path / "nan"
    code = main(["train", str(spec), "--data", "fashion-mnist", "--root", str(fmnist_root), "--out", str(out), *args])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "loss is nan at epoch 1, step" in err or "loss is inf at epoch 1, step" in err, err
    assert "try a lower --lr (now 50)" in err and "last good checkpoint" in err
    assert checkpoint.load(out / "last.pt")["epoch"] == 0  # the initial weights, still finite
    assert json.loads((out / "summary.json").read_text())["status"] == "failed"


def test_config_file_flags_override_it(fmnist_root: Path, tmp_path: Path) -> None:
    config = tmp_path / "train.toml"
    config.write_text('epochs = 1\nbatch-size = 8\nlr = 0.5\noptimizer = "sgd"\nquiet = true\n')
    config.write_text(config.read_text() + "[set]\nnum_classes = 10\n")
    out = tmp_path / "run"
    args = ["train", LENET, "--config", str(config), "--data", "fashion-mnist", "--root", str(fmnist_root)]
    assert main([*args, "--lr", "0.01", "--workers", "0", "--out", str(out)]) == 0
    saved = tomllib.loads((out / "config.toml").read_text())
    assert (saved["batch_size"], saved["lr"], saved["epochs"], saved["set"]) == (8, 0.01, 1, {"num_classes": 10})
    config.write_text("epoch = 1\n")
    assert main([*args, "--out", str(tmp_path / "bad")]) == 2


def test_help_explains_every_option_with_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--help"]) == 0
    text = capsys.readouterr().out
    for option, default in [
        ("--epochs", "default 10"), ("--batch-size", "default 256"), ("--lr", "default 0.1 for sgd"),
        ("--optimizer", "default sgd"), ("--momentum", "default 0.9"), ("--weight-decay", "default 0.0"),
        ("--schedule", "default none"), ("--label-smoothing", "default 0.0"), ("--val-split", "default 0.1"),
        ("--seed", "default 0"), ("--device", "default auto"), ("--workers", "default min(4, CPUs)"),
        ("--out", "default runs/NET"), ("--root", "default data"), ("--augment", "default False"),
        ("--amp", "default False"), ("--download", "default False"), ("--config", "TOML"), ("--resume", "RUN_DIR"),
        ("--set", "NAME=VALUE"), ("--input", "CxHxW"), ("--init", "default xavier"),
    ]:  # fmt: skip
        assert option in text and default in " ".join(text.split()), (option, default)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--val-split", "1.5"], "--val-split must be in [0, 1)"),
        (["--input", "28x28"], "--input expects CxHxW"),
        (["--set", "nonsense"], "--set expects NAME=VALUE"),
    ],
)
def test_usage_errors_are_one_line(
    fmnist_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert train(fmnist_root, tmp_path / "r", *args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cifar_imagefolder_and_signs_train_one_epoch(tmp_path: Path) -> None:
    lenet3 = ["--set", "in_channels=3", "--quiet", "--epochs", "1"]
    cifar = make_cifar(tmp_path / "cifar", hundred=False, n_per_file=20)
    assert train(cifar, tmp_path / "c", *lenet3, "--set", "size=32", "--set", "pad=0", data="cifar10") == 0
    folder = make_imagefolder(tmp_path / "imgs", classes=3, per_class=8, size=40, split_folders=True)
    assert train(tmp_path, tmp_path / "i", *lenet3, "--set", "num_classes=3", data=f"imagefolder:{folder}") == 0
    if importlib.util.find_spec("h5py") is not None:  # the optional extra netdsl[signs]
        signs = make_signs(tmp_path / "signs", n_train=40, n_test=12)
        args = [*lenet3, "--set", "num_classes=6", "--input", "3x32x32", "--augment"]
        assert train(tmp_path, tmp_path / "s", *args, data=f"signs:{signs}") == 0
        assert checkpoint.load(tmp_path / "s" / "last.pt")["config"]["input"] == "3x32x32"


def test_python_api(fmnist_root: Path, tmp_path: Path) -> None:
    history, run_dir = netdsl.train(
        LENET, data="fashion-mnist", epochs=1, root=fmnist_root, out=tmp_path / "api", batch_size=32,
        optimizer="adam", lr=0.003, workers=0, quiet=True, input=(1, 28, 28), set={"num_classes": 10},
    )  # fmt: skip
    assert run_dir == tmp_path / "api" and (run_dir / "last.pt").exists()
    assert len(history) == 1 and set(history[0]) >= {"epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc"}
    with pytest.raises(ConfigError, match="unknown key `batchsize`"):
        netdsl.train(LENET, data="fashion-mnist", batchsize=3)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_a_live_bar_then_a_table() -> None:
    from netdsl.training import progress
    from netdsl.training.engine import Totals

    screen = _Terminal()
    live = progress.reporter(quiet=False, main=True, epochs=2, stream=screen)
    assert isinstance(live, progress.LiveReporter)
    live.start_epoch(1, steps=10, done=0)
    live.step(5, Totals(loss=5.0, correct=40, count=50, seconds=0.5))
    row = {"epoch": 1, "lr": 0.1, "train_loss": 0.5, "train_acc": 0.8, "train_seconds": 1.0}
    live.end_epoch({**row, "train_images_per_s": 100.0})
    live.summary([{**row, "train_images_per_s": 100.0}], best=1)
    text = screen.getvalue()
    assert "epoch 1/2  train loss 0.5000 acc 80.00%" in text and "epochs (* best)" in text and "1 *" in text
    assert isinstance(progress.reporter(False, True, 2, io.StringIO()), progress.Reporter)  # a pipe: lines
    assert isinstance(progress.reporter(False, False, 2, screen), progress.Silent)  # rank 1
