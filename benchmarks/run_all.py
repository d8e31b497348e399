"""Run every benchmark and print one table of ratios against the references measured in the same run.

    .venv/bin/python benchmarks/run_all.py [--quick] [--threads N] [--write-docs]

``--quick`` (≤ 2 min on 2 cores) uses fewer repeats and skips the torch.compile
row; the full run takes ≤ 6 min. ``--write-docs`` replaces the results section of
docs/benchmarks.md (between its ``results`` markers) with this run's table, the
date and the machine, atomically.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from common import ROOT, machine

DOCS = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"


@dataclass(frozen=True)
class Row:
    benchmark: str
    ours: str
    reference: str
    ratio: str
    goal: str
    met: bool | None  # None: information, no goal

    @property
    def verdict(self) -> str:
        return "—" if self.met is None else "yes" if self.met else "NO"


@dataclass(frozen=True)
class Settings:
    dry_run: int
    frontend: int
    construction: int
    runtime: int
    train: int
    optimized: int
    compile: bool


QUICK = Settings(dry_run=3, frontend=3, construction=5, runtime=3, train=2, optimized=5, compile=False)
FULL = Settings(dry_run=7, frontend=11, construction=9, runtime=11, train=9, optimized=9, compile=True)


def _ms(v: float) -> str:
    return f"{v:,.0f} ms" if v >= 10 else f"{v:.2f} ms"


def _threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)


#: `netdsl train` cases of the full run (the quick run trains LeNet-5 only).
TRAIN_CASES = ("lenet", "resnet18")


def run(settings: Settings, threads: int) -> tuple[list[Row], dict[str, float]]:
    import bench_construction
    import bench_dry_run
    import bench_frontend
    import bench_optimized
    import bench_runtime
    import bench_train

    m: dict[str, float] = {}
    timings: dict[str, float] = {}
    # The whole-process benchmarks come first, while this process is small and has
    # not imported torch: a child's peak RSS (ru_maxrss) includes what it inherited
    # from a forking parent before exec, and forking a large process takes longer.
    steps = [
        ("dry run", lambda: bench_dry_run.main(settings.dry_run)),
        ("front end", lambda: bench_frontend.main(settings.frontend)),
        (
            "training",
            lambda: bench_train.main(settings.train, ("lenet", "resnet18") if settings.compile else ("lenet",)),
        ),
        ("construction", lambda: bench_construction.main(settings.construction)),
        ("run time", lambda: bench_runtime.main(settings.runtime, train_pairs=settings.train)),
        ("optimised", lambda: bench_optimized.main(settings.optimized, settings.compile)),
    ]
    for name, step in steps:
        if name == "construction":  # the first in-process torch benchmark
            _threads(threads)
        t = time.perf_counter()
        m.update(step())
        timings[name] = time.perf_counter() - t
        print(f"[{name}: {timings[name]:.0f} s]", flush=True)
    rows = [
        Row(
            "Dry run ResNet-50: `netdsl shapes` vs torchinfo (processes)",
            _ms(m["dry_run_ms"]),
            _ms(m["torchinfo_ms"]),
            f"{m['dry_run_speedup']:.1f}× faster",
            "≥ 15× faster",
            m["dry_run_speedup"] >= 15,
        ),
        Row(
            "Dry run peak RSS",
            f"{m['dry_run_peak_mb']:.0f} MB",
            "",
            "",
            "≤ 80 MB",
            m["dry_run_peak_mb"] <= 80,
        ),
        Row(
            "Front end: check ResNet-50 in-process",
            _ms(m["resnet50_check_ms"]),
            "",
            "",
            "≤ 4 ms",
            m["resnet50_check_ms"] <= 4,
        ),
        Row(
            "Front end: time per block, 2,000 vs 100 blocks",
            "",
            "",
            f"{m['scaling_2000_vs_100']:.2f}×",
            "≤ 1.5×",
            m["scaling_2000_vs_100"] <= 1.5,
        ),
        Row(
            "Construction: `netdsl.load` vs `torchvision.models.resnet50()`",
            _ms(m["construct_ms"]),
            _ms(m["torchvision_construct_ms"]),
            f"{m['construct_ratio']:.2f}×",
            "≤ 1.15×",
            m["construct_ratio"] <= 1.15,
        ),
    ]
    for key, title in (("lenet", "LeNet-5 28×28"), ("resnet18", "ResNet-18 (d2l) 96×96")):
        if f"{key}_train_ratio" in m:
            rows.append(
                Row(
                    f"`netdsl train` {title} vs a d2l train_ch6 loop: throughput",
                    f"{m[f'{key}_train_img_s']:,.0f} img/s",
                    f"{m[f'{key}_train_ref_img_s']:,.0f} img/s",
                    f"{m[f'{key}_train_ratio']:.3f}×",
                    "≥ 0.97×",
                    m[f"{key}_train_ratio"] >= 0.97,
                )
            )
            ratio = m[f"{key}_train_rss_ratio"]
            rows.append(Row(f"`netdsl train` {title}: peak RSS", "", "", f"{ratio:.3f}×", "≤ 1.10×", ratio <= 1.10))
    for net, title in (("resnet50", "ResNet-50"), ("vgg16", "VGG-16")):
        for mode, what in (("eval", "eval forward"), ("train", "SGD step")):
            ratio = m[f"{net}_{mode}_ratio"]
            rows.append(
                Row(
                    f"Run time {title} {what}, batch 8 vs torchvision",
                    _ms(m[f"{net}_{mode}_ms"]),
                    _ms(m[f"{net}_{mode}_ref_ms"]),
                    f"{ratio:.3f}×",
                    "≤ 1.03×",
                    ratio <= 1.03,
                )
            )
    rows.append(
        Row(
            "Optimised inference ResNet-50, batch 8 vs torchvision eager",
            _ms(m["optimize_ms"]),
            _ms(m["optimize_ref_ms"]),
            f"{m['optimize_speedup']:.2f}× faster",
            "≥ 1.6× faster",
            m["optimize_speedup"] >= 1.6,
        )
    )
    if "compile_speedup" in m:
        backend = "torch.compile" if m["compile_backend_is_inductor"] else "torch.compile failed, fell back"
        rows.append(
            Row(
                f"… with {backend} instead (compile {m['compile_s']:.0f} s, cold cache)",
                _ms(m["compile_ms"]),
                _ms(m["compile_ref_ms"]),
                f"{m['compile_speedup']:.2f}× faster",
                "information",
                None,
            )
        )
    m["_total_s"] = sum(timings.values())
    return rows, m


def table(rows: list[Row]) -> str:
    header = ("benchmark", "ours", "reference", "ratio", "goal", "met?")
    lines = [f"| {' | '.join(header)} |", f"|{'|'.join('---' for _ in header)}|"]
    for r in rows:
        lines.append(f"| {r.benchmark} | {r.ours} | {r.reference} | {r.ratio} | {r.goal} | {r.verdict} |")
    return "\n".join(lines)


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def results_section(rows: list[Row], m: dict[str, float], quick: bool, threads: int, load: tuple[float, ...]) -> str:
    import torch

    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            START,
            f"Measured {now} by `benchmarks/run_all.py{' --quick' if quick else ''}` "
            f"in {m['_total_s']:.0f} s: {_cpu()}, {machine()}, torch {torch.__version__}, "
            f"{threads} torch threads; load average {load[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end.",
            "",
            table(rows),
            END,
        ]
    )


def write_docs(section: str) -> None:
    sys.path.insert(0, str(ROOT))
    from netdsl.atomic import write_atomic

    text = DOCS.read_text(encoding="utf-8") if DOCS.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        text = text.rstrip("\n") + f"\n\n{START}\n{END}\n"
    write_atomic(DOCS, pattern.sub(lambda _: section, text, count=1))
    print(f"\nwrote {DOCS.relative_to(ROOT)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats, no torch.compile row (≤ 2 min)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads for the in-process benchmarks (default 2)")
    ap.add_argument("--write-docs", action="store_true", help="write the results into docs/benchmarks.md")
    args = ap.parse_args()
    load = os.getloadavg()
    rows, metrics = run(QUICK if args.quick else FULL, args.threads)
    print(f"\nAll benchmarks ({'quick' if args.quick else 'full'}, {metrics['_total_s']:.0f} s)\n")
    print(table(rows))
    if args.write_docs:
        write_docs(results_section(rows, metrics, args.quick, args.threads, load))
    return 0


if __name__ == "__main__":
    sys.exit(main())
