"""Benchmark 1: start-up. Whole processes of `netdsl check` / `netdsl shapes` on specs/resnet50.net
against torchinfo on torchvision's ResNet-50, with the interpreter's floors measured in the same run.

Goals (issue 21): `netdsl check specs/resnet50.net` at most 90 ms (median of 11 processes),
peak RSS at most 60 MB, `netdsl shapes` at least 25× faster than torchinfo. The floors are what
no netdsl change can go below: `python -c pass` (the interpreter) and `python -c "import pydantic"`;
a third, one pydantic model built and validated, adds the import of BaseModel and pydantic's
own plugin scan (importlib.metadata), which any validation pays. Every command runs in rounds
(one of each per round), and wall and CPU (user + system) medians are reported: on a loaded
machine the CPU time is the steadier figure.
"""

from __future__ import annotations

import argparse
import shutil

from common import PY, ROOT, interleaved, machine, print_table

TORCHINFO = (
    "import torchvision, torchinfo; torchinfo.summary(torchvision.models.resnet50(), (1, 3, 224, 224), verbose=1)"
)
ONE_MODEL = "from pydantic import BaseModel\nclass M(BaseModel):\n    a: int\nM(a=1)"
SPEC = "specs/resnet50.net"


def main(repeats: int = 11) -> dict[str, float]:
    netdsl = shutil.which("netdsl", path=str(ROOT / ".venv" / "bin")) or "netdsl"
    cmds = {
        "python -c pass": [PY, "-c", "pass"],
        'python -c "import pydantic"': [PY, "-c", "import pydantic"],
        "one pydantic model validated": [PY, "-c", ONE_MODEL],
        f"netdsl check {SPEC}": [netdsl, "check", SPEC],
        f"netdsl shapes {SPEC}": [netdsl, "shapes", SPEC],
        "torchinfo.summary": [PY, "-c", TORCHINFO],
    }
    counts = {name: repeats for name in cmds} | {"torchinfo.summary": max(3, repeats // 3)}
    got = interleaved(cmds, counts)
    check, shapes, ref = got[f"netdsl check {SPEC}"], got[f"netdsl shapes {SPEC}"], got["torchinfo.summary"]
    speedup = ref.seconds / shapes.seconds
    rows = [
        (name, f"{s.seconds * 1000:.0f} ms", f"{s.cpu * 1000:.0f} ms", f"{s.peak_mb:.0f} MB", str(counts[name]))
        for name, s in got.items()
    ]
    print_table(f"Start-up ({machine()}), medians", rows, ("command", "wall", "CPU", "peak RSS", "runs"))
    print(f"netdsl shapes is {speedup:.1f}× faster than torchinfo (wall medians, same run)")
    return {
        "dry_run_speedup": speedup,
        "dry_run_peak_mb": shapes.peak_mb,
        "dry_run_ms": shapes.seconds * 1000,
        "torchinfo_ms": ref.seconds * 1000,
        "check_ms": check.seconds * 1000,
        "check_cpu_ms": check.cpu * 1000,
        "check_peak_mb": check.peak_mb,
        "floor_pass_ms": got["python -c pass"].seconds * 1000,
        "floor_pass_cpu_ms": got["python -c pass"].cpu * 1000,
        "floor_pydantic_ms": got['python -c "import pydantic"'].seconds * 1000,
        "floor_pydantic_cpu_ms": got['python -c "import pydantic"'].cpu * 1000,
        "floor_model_ms": got["one pydantic model validated"].seconds * 1000,
        "floor_model_cpu_ms": got["one pydantic model validated"].cpu * 1000,
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=11)
    main(ap.parse_args().repeats)
