"""Benchmark 1: `netdsl shapes specs/resnet50.net` vs torchinfo on torchvision's ResNet-50, whole processes.

Goal: at least 15× faster and under 80 MB peak RSS. Both commands run as fresh
processes, alternating, and the medians are compared.
"""

from __future__ import annotations

import argparse
import shutil

from common import PY, ROOT, machine, median_process, print_table

TORCHINFO = (
    "import torchvision, torchinfo; torchinfo.summary(torchvision.models.resnet50(), (1, 3, 224, 224), verbose=1)"
)


def main(repeats: int = 5) -> dict[str, float]:
    netdsl = shutil.which("netdsl", path=str(ROOT / ".venv" / "bin")) or "netdsl"
    ours = median_process([netdsl, "shapes", "specs/resnet50.net"], repeats)
    ref = median_process([PY, "-c", TORCHINFO], max(3, repeats // 2))
    speedup = ref.seconds / ours.seconds
    print_table(
        f"Dry run of ResNet-50 ({machine()}), medians",
        [
            ("netdsl shapes", f"{ours.seconds * 1000:.0f} ms", f"{ours.peak_mb:.0f} MB", f"{speedup:.1f}×"),
            ("torchinfo.summary", f"{ref.seconds * 1000:.0f} ms", f"{ref.peak_mb:.0f} MB", "1.0×"),
        ],
        ("command", "wall", "peak RSS", "speed-up"),
    )
    return {
        "dry_run_speedup": speedup,
        "dry_run_peak_mb": ours.peak_mb,
        "dry_run_ms": ours.seconds * 1000,
        "torchinfo_ms": ref.seconds * 1000,
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    main(ap.parse_args().repeats)
