"""Benchmark 3: construction, `netdsl.load('specs/resnet50.net')` vs `torchvision.models.resnet50()`, in-process.

Goal: at most 1.15× torchvision's time. The two calls alternate (AB BA …) after
one warm-up call each; the median of the per-pair ratios is reported. Both
allocate and initialise 25.6 M parameters, which is most of the time. netdsl's
call also runs the whole front end (lowering and shape inference) every time;
only the parse of the unchanged files is cached, as in any process that loads a
spec twice.
"""

from __future__ import annotations

import argparse

from common import ROOT, machine, paired_time, print_table

SPEC = ROOT / "specs" / "resnet50.net"


def main(pairs: int = 9) -> dict[str, float]:
    import torchvision

    import netdsl

    result = paired_time(lambda: netdsl.load(SPEC), lambda: torchvision.models.resnet50(), pairs)
    print_table(
        f"Construction of ResNet-50 ({machine()}), medians of {pairs} alternating pairs",
        [
            ("netdsl.load('specs/resnet50.net')", f"{result.a * 1000:.0f} ms", f"{result.ratio:.2f}×"),
            ("torchvision.models.resnet50()", f"{result.b * 1000:.0f} ms", "1.00×"),
        ],
        ("call", "time", "ratio"),
    )
    return {
        "construct_ms": result.a * 1000,
        "torchvision_construct_ms": result.b * 1000,
        "construct_ratio": result.ratio,
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pairs", type=int, default=9)
    main(ap.parse_args().pairs)
