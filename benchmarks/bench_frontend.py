"""Benchmark 2: the front end in-process (parse + lower + shape inference).

* ResNet-50: `netdsl.check('specs/resnet50.net')` as the first call for that file in a
  process that has already checked another spec (so the grammar is loaded, the
  shared block library is parsed, and no cache holds ResNet-50 itself).
  Goal ≤ 4 ms (mlnode validates its JSON ResNet-50 in 4.3 ms on this machine).
* Scaling: generated specs of 100, 500 and 2,000 residual blocks; the time per
  block must stay flat (2,000 blocks within 1.5× the per-block time of 100).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import PY, ROOT, machine, print_table

DEEP = """\
block Res(c) {{
    add {{
        {{ conv1: conv2d(c, 3, padding=1, bias=false); bn1: batchnorm; relu
          conv2: conv2d(c, 3, padding=1, bias=false); bn2: batchnorm }}
        {{}}
    }}
    relu
}}
net Deep{n}() {{
    input(16, 32, 32)
    stem: conv2d(16, 3, padding=1)
    body: repeat {n} Res(16)
    avgpool: global_avgpool; fc: linear(10)
}}
"""

FIRST_CALL = """
import time
import netdsl
netdsl.check('specs/resnet18.net')  # loads the grammar and parses the shared specs/lib/resnet.net
t = time.perf_counter(); diagnostics = netdsl.check('specs/resnet50.net'); dt = time.perf_counter() - t
assert not [d for d in diagnostics if d.is_error]
print(dt)
"""


def resnet50_first_call(repeats: int) -> float:
    """Median over fresh processes of the first ResNet-50 check after another spec."""
    times = []
    for _ in range(repeats):
        out = subprocess.run([PY, "-c", FIRST_CALL], cwd=ROOT, capture_output=True, text=True, check=True)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def per_block(n: int, repeats: int) -> float:
    from netdsl.pipeline import analyze

    tmp = Path(tempfile.mkdtemp())
    try:
        times = []
        for r in range(repeats):
            spec = tmp / f"deep{n}_{r}.net"  # a new file each time: no parse cache helps
            spec.write_text(DEEP.format(n=n))
            t = time.perf_counter()
            a = analyze(spec)
            times.append(time.perf_counter() - t)
            assert a.ok, a.errors
        return statistics.median(times) / n
    finally:
        shutil.rmtree(tmp)


def main(repeats: int = 7) -> dict[str, float]:
    first = resnet50_first_call(repeats)
    sizes = (100, 500, 2000)
    blocks = {n: per_block(n, max(3, repeats // 2)) for n in sizes}
    ratio = blocks[2000] / blocks[100]
    rows = [("ResNet-50 parse+lower+shapes", f"{first * 1000:.2f} ms", "goal ≤ 4 ms")]
    rows += [(f"{n} residual blocks", f"{blocks[n] * 1e6:.0f} µs/block", "") for n in sizes]
    rows.append(("per-block time 2000 vs 100", f"{ratio:.2f}×", "goal ≤ 1.5×"))
    print_table(f"Front end in-process ({machine()}), medians", rows, ("case", "time", "note"))
    return {"resnet50_check_ms": first * 1000, "scaling_2000_vs_100": ratio}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=7)
    main(ap.parse_args().repeats)
