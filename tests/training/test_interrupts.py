"""A run killed or interrupted at any moment leaves a whole last.pt, and --resume goes on from it."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from training_data import LENET, child_env

from netdsl.cli import main
from netdsl.training import checkpoint

ARGS = ["--optimizer", "adam", "--lr", "0.003", "--workers", "0", "--val-split", "0.1"]

# A child whose K-th checkpoint write stops halfway: it writes half the bytes to the temporary
# file, says HALF and sleeps, so the parent can kill it in the middle of the write.
_SLOW_SAVE = """
import io, sys, time, torch
K = int(sys.argv.pop(1))
real, calls = torch.save, []
def slow(obj, f, *args, **kwargs):
    calls.append(f)
    if len(calls) == K:
        buffer = io.BytesIO()
        real(obj, buffer)
        with open(f, "wb") as out:
            out.write(buffer.getvalue()[: len(buffer.getvalue()) // 2]); out.flush()
        print("HALF", flush=True)
        time.sleep(60)
    return real(obj, f, *args, **kwargs)
torch.save = slow
from netdsl.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _fresh(root: Path, out: Path, epochs: int, batch: int) -> list[str]:
    data = [LENET, "--data", "fashion-mnist", "--root", str(root), "--out", str(out)]
    return [*data, "--epochs", str(epochs), "--batch-size", str(batch), *ARGS]


def _child(args: list[str], k: int = 0) -> subprocess.Popen[str]:
    """``netdsl train ARGS`` in a subprocess whose ``k``-th checkpoint write stalls halfway (0: none)."""
    cmd = [sys.executable, "-c", _SLOW_SAVE, str(k), "train", *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())


def _wait_for(proc: subprocess.Popen[str], prefix: str) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(prefix):
            return
    pytest.fail(f"the child ended before printing {prefix!r}: {proc.stderr.read() if proc.stderr else ''}")


def test_ctrl_c_saves_the_position_in_the_epoch_and_exits_130(fmnist_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = _child(_fresh(fmnist_root, out, epochs=50, batch=4))
    try:
        _wait_for(proc, "epoch 1/50")
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 130
    finally:
        proc.kill()
        proc.wait()
    err = proc.stderr.read() if proc.stderr else ""
    assert "interrupted at epoch" in err and f"--resume {out}" in err and "Traceback" not in err
    saved = checkpoint.load(out / "last.pt")
    assert saved["epoch"] >= 1 and saved["step"] >= 1 and saved["partial"]["count"] == 4 * saved["step"]
    done = saved["epoch"] + 1
    assert main(["train", "--resume", str(out), "--epochs", str(done), "--batch-size", "4", "--quiet"]) == 0
    resumed = checkpoint.load(out / "last.pt")
    assert (resumed["epoch"], resumed["step"], len(resumed["history"])) == (done, 0, done)
    assert resumed["history"][-1]["train_acc"] > 0


def test_sigkill_midway_through_a_checkpoint_write_keeps_the_previous_one(fmnist_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = _child(_fresh(fmnist_root, out, epochs=3, batch=16), k=2)  # the 2nd save: last.pt after epoch 1
    try:
        _wait_for(proc, "HALF")
        assert [p.name for p in out.iterdir() if p.name.startswith(".last.pt.")]  # the half-written temporary
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(30) == -9
    finally:
        proc.kill()
        proc.wait()
    assert checkpoint.load(out / "last.pt")["epoch"] == 0  # whole: the one written before the run's first step
    assert main(["train", "--resume", str(out), "--epochs", "1", "--quiet"]) == 0
    assert checkpoint.load(out / "last.pt")["epoch"] == 1
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # the resumed run cleared the temporary


def test_sigkill_at_random_moments_never_corrupts_last_pt(fmnist_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    rng = random.Random(17)
    epochs = []
    for _ in range(3):
        resumed = (out / "last.pt").exists()
        proc = _child(["--resume", str(out), "--epochs", "20"] if resumed else _fresh(fmnist_root, out, 20, 16))
        try:
            _wait_for(proc, "epoch ")
            time.sleep(rng.uniform(0.0, 0.6))
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
        finally:
            proc.kill()
            proc.wait()
        epochs.append(checkpoint.load(out / "last.pt")["epoch"])  # loads: never half a file
    assert epochs == sorted(epochs) and epochs[-1] >= 1
    assert main(["train", "--resume", str(out), "--epochs", str(epochs[-1] + 1), "--quiet"]) == 0
    assert checkpoint.load(out / "last.pt")["epoch"] == epochs[-1] + 1
