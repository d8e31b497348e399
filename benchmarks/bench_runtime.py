"""Benchmark 4: run time of netdsl-compiled modules vs torchvision's, batch 8 at 224×224.

For ResNet-50 and VGG-16: an eval-mode forward pass (under ``torch.no_grad``) and
one SGD training step (forward, cross-entropy, backward, momentum update). The
netdsl model gets torchvision's ``state_dict``, so both do identical arithmetic;
each side has its own optimiser and the same batch. Calls alternate (AB BA …)
after warm-up, and the median of the per-pair ratios is reported.

Goal: within 3% of torchvision (ratio ≤ 1.03).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from common import ROOT, machine, paired_time, print_table

BATCH = 8
NETS = ("resnet50", "vgg16")


def _step(model: object, batch: object, target: object) -> Callable[[], None]:
    import torch
    from torch.nn import functional as F

    assert isinstance(model, torch.nn.Module)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(batch), target).backward()
        opt.step()

    return step


def _forward(model: object, batch: object) -> Callable[[], None]:
    import torch

    assert isinstance(model, torch.nn.Module)

    def forward() -> None:
        with torch.no_grad():
            model(batch)

    return forward


def main(pairs: int = 7, nets: tuple[str, ...] = NETS, train_pairs: int | None = None) -> dict[str, float]:
    """Eval forward over ``pairs`` pairs, training steps over ``train_pairs`` (default: ``pairs``)."""
    import torch
    import torchvision

    import netdsl

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(BATCH, 3, 224, 224, generator=gen)
    y = torch.randint(0, 1000, (BATCH,), generator=gen)
    metrics: dict[str, float] = {}
    rows = []
    for name in nets:
        ref = getattr(torchvision.models, name)()
        ours = netdsl.load(ROOT / "specs" / f"{name}.net")
        ours.load_state_dict(ref.state_dict(), strict=True)
        ref.eval(), ours.eval()
        with torch.no_grad():
            assert torch.allclose(ours(x[:1]), ref(x[:1]), atol=1e-4, rtol=1e-4), f"{name}: outputs differ"
        fwd = paired_time(_forward(ours, x), _forward(ref, x), pairs, warmup=1)
        ref.train(), ours.train()
        train = paired_time(_step(ours, x, y), _step(ref, x, y), train_pairs or pairs, warmup=1)
        del ref, ours
        for mode, r in (("eval", fwd), ("train", train)):
            metrics[f"{name}_{mode}_ms"] = r.a * 1000
            metrics[f"{name}_{mode}_ref_ms"] = r.b * 1000
            metrics[f"{name}_{mode}_ratio"] = r.ratio
            what = "eval forward" if mode == "eval" else "SGD training step"
            rows.append((f"{name} {what}", f"{r.a * 1000:.0f} ms", f"{r.b * 1000:.0f} ms", f"{r.ratio:.3f}×"))
    print_table(
        f"Run time at batch {BATCH}, 224×224, {torch.get_num_threads()} threads ({machine()}), "
        f"medians of {pairs} pairs ({train_pairs or pairs} for training)",
        rows,
        ("case", "netdsl", "torchvision", "ratio"),
    )
    return metrics


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pairs", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--nets", nargs="+", default=list(NETS), choices=NETS)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    main(args.pairs, tuple(args.nets))
