"""Under torchrun: 2 CPU processes (gloo) train the same weights as 1 process with the same global batch."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import torch
from training_data import LENET, child_env

import netdsl
from netdsl.cli import main
from netdsl.training import checkpoint

# Plain SGD, no augmentation: the two runs differ only in how each batch is split across processes.
# 1,080 training images in batches of 24 (12 per process) split evenly, so the mean of the
# per-process mean losses is the global mean and DDP's averaged gradient is the 1-process one.
ARGS = ["--optimizer", "sgd", "--lr", "0.5", "--momentum", "0.9", "--batch-size", "24", "--epochs", "1"]
ARGS += ["--workers", "0", "--seed", "5", "--data", "fashion-mnist"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _torchrun(root: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2"]
    launcher += ["--master_addr", "127.0.0.1", "--master_port", str(_free_port()), "-m", "netdsl"]
    cmd = [*launcher, "train", *extra, "--root", str(root), "--out", str(out)]
    return subprocess.run(cmd, capture_output=True, text=True, env=child_env(), timeout=240)


def test_two_gloo_processes_train_the_weights_of_one_and_resume(fmnist_root: Path, tmp_path: Path) -> None:
    two = _torchrun(fmnist_root, tmp_path / "two", LENET, *ARGS)
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stdout.count("epoch 1/1") == 1  # rank 0 alone reports
    assert main(["train", LENET, *ARGS, "--root", str(fmnist_root), "--out", str(tmp_path / "one"), "--quiet"]) == 0
    a, b = (checkpoint.load(tmp_path / run / "last.pt") for run in ("one", "two"))
    assert a["model"].keys() == b["model"].keys()
    for key in a["model"]:
        assert torch.allclose(a["model"][key], b["model"][key], rtol=1e-4, atol=1e-5), key
    ha, hb = a["history"][0], b["history"][0]
    assert abs(ha["train_loss"] - hb["train_loss"]) < 1e-4 and abs(ha["val_acc"] - hb["val_acc"]) < 1e-9
    assert b["config"]["batch_size"] == 24 and "2 processes" in two.stdout
    initial = netdsl.load(LENET, seed=5).state_dict()
    assert all(not torch.equal(initial[k], b["model"][k]) for k in initial)  # every weight moved

    resumed = _torchrun(fmnist_root, tmp_path / "two", "--resume", str(tmp_path / "two"), "--epochs", "2")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming after epoch 1" in resumed.stdout and resumed.stdout.count("epoch 2/2") == 1
    saved = checkpoint.load(tmp_path / "two" / "last.pt")
    assert saved["epoch"] == 2 and [r["epoch"] for r in saved["history"]] == [1, 2]
