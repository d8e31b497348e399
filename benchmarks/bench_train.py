"""Benchmark 6: `netdsl train` throughput and peak RSS against a hand-written d2l ``train_ch6`` loop.

Both sides run as processes of their own, alternating (AB BA …), on the same generated
Fashion-MNIST-shaped data in torchvision's idx format, with the same model (the spec
compiled by ``netdsl.load`` with the same seed), the same transforms (resize to the spec's
size, ToTensor, Normalize), the same DataLoader settings (batch size, workers, shuffling),
plain SGD, and a test-set evaluation after every epoch, as d2l does. Throughput is the
training images per second of the last epoch (data loading included, evaluation not);
peak RSS is the whole process's (``os.wait4``).

Cases: LeNet-5 at 28×28 and d2l's ResNet-18 at 96×96 (``specs/resnet18_d2l.net``: 1 input
channel, 10 classes, size 96 by default). Goals: ≥ 0.97× the hand-written loop's
throughput, peak RSS within 10%.

    .venv/bin/python benchmarks/bench_train.py [--pairs N] [--threads N] [--cases lenet resnet18]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from common import PY, ROOT, machine, print_table


@dataclass(frozen=True)
class Case:
    name: str
    spec: str
    size: int
    train_images: int
    test_images: int
    batch: int
    lr: float


CASES = {
    "lenet": Case("LeNet-5 28×28", "specs/lenet5.net", 28, 12_000, 2_000, 256, 0.9),
    "resnet18": Case("ResNet-18 (d2l) 96×96", "specs/resnet18_d2l.net", 96, 256, 64, 32, 0.05),
}
EPOCHS = 2
WORKERS = 2


def make_data(root: Path, case: Case) -> None:
    """Fashion-MNIST idx files (what torchvision reads) with random images and labels."""
    import numpy as np

    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", case.train_images), ("t10k", case.test_images)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        header = (0x803).to_bytes(4, "big") + n.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(header + images.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(
            (0x801).to_bytes(4, "big") + n.to_bytes(4, "big") + labels.tobytes()
        )


def reference(spec: str, root: str, batch: int, lr: float, epochs: int, workers: int) -> None:
    """The hand-written loop, d2l ``train_ch6`` style; prints the last epoch's images/s as JSON."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch
    import torchvision
    from torch import nn
    from torch.utils.data import DataLoader
    from torchvision import transforms

    import netdsl
    from netdsl.training.datasets import statistics as pixel_statistics

    net = netdsl.load(spec, seed=0, init="xavier")  # d2l's init_weights; netdsl train's default
    size = netdsl.analyze(spec).shapes.input_shape[1]  # type: ignore[union-attr]
    raw = torchvision.datasets.FashionMNIST(root, train=True)
    mean, std = pixel_statistics(raw, 1)
    steps = [transforms.Resize(size)] if size != 28 else []
    trans = transforms.Compose([*steps, transforms.ToTensor(), transforms.Normalize(mean, std)])
    train = torchvision.datasets.FashionMNIST(root, train=True, transform=trans)
    test = torchvision.datasets.FashionMNIST(root, train=False, transform=trans)
    kw = {"num_workers": workers, "persistent_workers": workers > 0}
    train_iter = DataLoader(train, batch, shuffle=True, **kw)  # type: ignore[arg-type]
    test_iter = DataLoader(test, batch, shuffle=False, **kw)  # type: ignore[arg-type]
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss = nn.CrossEntropyLoss()
    rates, history = [], []
    for _ in range(epochs):
        net.train()
        total, correct, seen = 0.0, 0, 0
        start = time.perf_counter()
        for X, y in train_iter:
            optimizer.zero_grad()
            y_hat = net(X)
            ls = loss(y_hat, y)
            ls.backward()
            optimizer.step()
            with torch.no_grad():
                total += float(ls) * X.shape[0]
                correct += int((y_hat.argmax(dim=1) == y).sum())
                seen += X.shape[0]
        rates.append(seen / (time.perf_counter() - start))
        net.eval()
        with torch.no_grad():
            test_correct = sum(int((net(X).argmax(dim=1) == y).sum()) for X, y in test_iter)
        history.append((total / seen, correct / seen, test_correct / len(test)))
    fig, ax = plt.subplots()  # d2l draws its curves; so does netdsl train (curves.png)
    ax.plot([h[0] for h in history])
    fig.savefig(io.BytesIO(), format="png")
    print(json.dumps({"images_per_s": rates[-1]}))


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[str, float]:
    """Run to completion, reaping the child with os.wait4 to read its own peak RSS; stdout and MB."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{err[-2000:]}")
    return out, usage.ru_maxrss / 1024


def ours(case: Case, root: Path, env: dict[str, str], out: Path) -> tuple[float, float]:
    cmd = [PY, "-m", "netdsl", "train", case.spec, "--data", "fashion-mnist", "--root", str(root), "--out", str(out)]
    cmd += ["--epochs", str(EPOCHS), "--batch-size", str(case.batch), "--lr", str(case.lr), "--momentum", "0"]
    cmd += ["--val-split", "0", "--workers", str(WORKERS), "--quiet"]
    _, peak = _timed(cmd, env)
    rows = [r for r in csv.DictReader((out / "metrics.csv").open()) if r["split"] == "train"]
    return float(rows[-1]["images_per_s"]), peak


def theirs(case: Case, root: Path, env: dict[str, str]) -> tuple[float, float]:
    cmd = [PY, __file__, "--reference", case.spec, str(root), str(case.batch), str(case.lr), str(EPOCHS), str(WORKERS)]
    text, peak = _timed(cmd, env)
    return float(json.loads(text.strip().splitlines()[-1])["images_per_s"]), peak


def measure(key: str, pairs: int, env: dict[str, str]) -> dict[str, float]:
    case = CASES[key]
    ratios, rss, a_rates, b_rates = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        make_data(root, case)
        for i in range(pairs):
            for side in ("ours", "theirs") if i % 2 == 0 else ("theirs", "ours"):
                if side == "ours":
                    a = ours(case, root, env, Path(tmp) / f"run{i}")
                else:
                    b = theirs(case, root, env)
            ratios.append(a[0] / b[0])
            rss.append(a[1] / b[1])
            a_rates.append(a[0])
            b_rates.append(b[0])
            print(
                f"  {case.name} pair {i + 1}: {a[0]:,.0f} vs {b[0]:,.0f} img/s, {a[1]:.0f} vs {b[1]:.0f} MB", flush=True
            )
    return {
        f"{key}_train_img_s": statistics.median(a_rates),
        f"{key}_train_ref_img_s": statistics.median(b_rates),
        f"{key}_train_ratio": statistics.median(ratios),
        f"{key}_train_rss_ratio": statistics.median(rss),
    }


def main(pairs: int = 3, cases: tuple[str, ...] = tuple(CASES), threads: int = 2) -> dict[str, float]:
    """Run the cases; the metrics for run_all.py (images/s, throughput and RSS ratios)."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "NETDSL_DISABLE_PLUGIN_AUTOLOAD": "1"}
    metrics: dict[str, float] = {}
    for key in cases:
        metrics.update(measure(key, pairs, env))
    rows = []
    for key in cases:
        c = CASES[key]
        speed, rss = metrics[f"{key}_train_ratio"], metrics[f"{key}_train_rss_ratio"]
        rows.append(
            (
                f"{c.name}, batch {c.batch}, {c.train_images:,} images",
                f"{metrics[f'{key}_train_img_s']:,.0f} img/s",
                f"{metrics[f'{key}_train_ref_img_s']:,.0f} img/s",
                f"{speed:.3f}× ({'met' if speed >= 0.97 else 'NOT met'})",
                f"{rss:.3f}× ({'met' if rss <= 1.10 else 'NOT met'})",
            )
        )
    print_table(
        f"netdsl train vs a hand-written d2l train_ch6 loop ({machine()}, {threads} threads, {WORKERS} workers, "
        f"medians of {pairs} pairs; goals: throughput ≥ 0.97×, peak RSS ≤ 1.10×)",
        rows,
        ("case", "netdsl train", "hand-written", "throughput", "peak RSS"),
    )
    return metrics


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--reference":
        spec, root, batch, lr, epochs, workers = sys.argv[2:8]
        reference(spec, root, int(batch), float(lr), int(epochs), int(workers))
        sys.exit(0)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    args = ap.parse_args()
    main(args.pairs, tuple(args.cases), args.threads)
