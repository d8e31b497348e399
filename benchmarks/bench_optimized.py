"""Benchmark 5: optimised inference, `netdsl.load(..., optimize="inference")` vs torchvision's eager ResNet-50.

Batch 8 at 224×224, eval mode, ``torch.no_grad``. The optimised module is built
the way ``load(optimize="inference")`` builds it (:func:`netdsl.backends.torch.optimize.optimize_for_inference`
on a batch-of-one example) but from torchvision's weights, so both sides compute
the same function; its outputs are asserted equal to the eval-mode model's to
1e-4 (relative to the largest logit). Calls alternate (AB BA …) after warm-up;
the median of the per-pair speed-ups is reported. Goal: at least 1.6× faster.

``load(optimize="inference")`` itself is timed once (build + fold + freeze +
check) and its output checked against ``load(seed=0)`` in eval mode.

With ``compile=True`` a second row runs ``torch.compile`` (inductor with
freezing) on the folded channels_last graph instead, with a fresh inductor cache
so the reported compile time is what a first run costs.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

from common import ROOT, machine, paired_time, print_table

SPEC = ROOT / "specs" / "resnet50.net"
BATCH = 8
TOLERANCE = 1e-4


def _check(actual: Any, expected: Any, what: str) -> float:
    err = float((actual - expected).abs().max())
    limit = TOLERANCE * max(1.0, float(expected.abs().max()))
    assert err <= limit, f"{what}: differs from the eval-mode model by {err:.3g} (limit {limit:.3g})"
    return err


def _call(module: Any, x: Any) -> Callable[[], None]:
    import torch

    def run() -> None:
        with torch.no_grad():
            module(x)

    return run


def main(pairs: int = 9, compile: bool = True) -> dict[str, float]:
    import torch
    import torchvision

    import netdsl
    from netdsl.backends.torch.optimize import WARMUP_CALLS, example_input, optimize_for_inference

    x = torch.randn(BATCH, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    metrics: dict[str, float] = {}

    # The public call, end to end.
    start = time.perf_counter()
    loaded = netdsl.load(SPEC, seed=0, optimize="inference")
    metrics["optimize_load_s"] = time.perf_counter() - start
    plain = netdsl.load(SPEC, seed=0).eval()
    with torch.no_grad():
        for _ in range(WARMUP_CALLS):
            out = loaded(x)
        _check(out, plain(x), "load(optimize='inference')")
    del loaded, plain

    ref = torchvision.models.resnet50().eval()
    model = netdsl.load(SPEC)
    model.load_state_dict(ref.state_dict(), strict=True)
    model.eval()
    with torch.no_grad():
        expected = model(x)
    opt = optimize_for_inference(model, example_input((3, 224, 224), batch=1))
    with torch.no_grad():
        for _ in range(WARMUP_CALLS):
            out = opt.module(x)
    metrics["optimize_max_error"] = _check(out, expected, "optimised ResNet-50")
    result = paired_time(_call(opt.module, x), _call(ref, x), pairs, warmup=1)
    speedup = 1 / result.ratio
    metrics.update(optimize_ms=result.a * 1000, optimize_ref_ms=result.b * 1000, optimize_speedup=speedup)
    rows = [
        (f"load(optimize='inference'): {opt.backend}", f"{result.a * 1000:.0f} ms", f"{speedup:.2f}×", ""),
        ("torchvision eager", f"{result.b * 1000:.0f} ms", "1.00×", ""),
    ]

    if compile:
        cache = tempfile.mkdtemp(prefix="netdsl-inductor-")
        previous = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache  # cold cache: a first run's compile time
        try:
            start = time.perf_counter()
            compiled = optimize_for_inference(model, x, compile=True)  # compiles at batch 8 while checking
            metrics["compile_s"] = time.perf_counter() - start
        finally:
            if previous is None:
                os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None)
            else:
                os.environ["TORCHINDUCTOR_CACHE_DIR"] = previous
        with torch.no_grad():
            _check(compiled.module(x), expected, "torch.compile")
        comp = paired_time(_call(compiled.module, x), _call(ref, x), pairs, warmup=1)
        metrics.update(compile_ms=comp.a * 1000, compile_ref_ms=comp.b * 1000, compile_speedup=1 / comp.ratio)
        metrics["compile_backend_is_inductor"] = float(compiled.backend == "inductor")
        rows.insert(
            1,
            (
                f"+ compile=True: {compiled.backend}",
                f"{comp.a * 1000:.0f} ms",
                f"{1 / comp.ratio:.2f}×",
                f"compile {metrics['compile_s']:.0f} s",
            ),
        )
    print_table(
        f"Optimised inference, ResNet-50 at batch {BATCH}, {torch.get_num_threads()} threads ({machine()}), "
        f"medians of {pairs} pairs; load(optimize='inference') took {metrics['optimize_load_s']:.1f} s",
        rows,
        ("module", "time", "speed-up", "note"),
    )
    return metrics


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pairs", type=int, default=9)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile row")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    main(args.pairs, not args.no_compile)
