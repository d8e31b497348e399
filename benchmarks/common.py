"""Shared helpers of the benchmark scripts: whole-process timing with peak RSS, medians, tables.

Machines here are noisy and absolute times drift, so every benchmark reports
ratios against a reference measured in the same run, as medians of repeats.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


@dataclass(frozen=True)
class Sample:
    seconds: float
    peak_mb: float
    cpu: float = 0.0  # user + system seconds of the child: steadier than wall time on a loaded machine


def run_process(cmd: Sequence[str], cwd: Path = ROOT) -> Sample:
    """Run a command to completion; wall time, the child's own peak RSS and CPU time (os.wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(list(cmd), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{err}")
    return Sample(elapsed, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime)  # ru_maxrss: KiB on Linux


def median_of(samples: Sequence[Sample]) -> Sample:
    return Sample(
        statistics.median(s.seconds for s in samples),
        statistics.median(s.peak_mb for s in samples),
        statistics.median(s.cpu for s in samples),
    )


def median_process(cmd: Sequence[str], repeats: int) -> Sample:
    return median_of([run_process(cmd) for _ in range(repeats)])


def interleaved(cmds: dict[str, Sequence[str]], repeats: dict[str, int]) -> dict[str, Sample]:
    """Run each command ``repeats[name]`` times, in rounds (one of each per round, while it has runs left),
    so that the machine's drift affects all of them alike; the medians of each."""
    runs: dict[str, list[Sample]] = {name: [] for name in cmds}
    for i in range(max(repeats.values())):
        for name, cmd in cmds.items():
            if i < repeats[name]:
                runs[name].append(run_process(cmd))
    return {name: median_of(samples) for name, samples in runs.items()}


def median_time(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def print_table(title: str, rows: list[tuple[str, ...]], header: tuple[str, ...]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)))


@dataclass(frozen=True)
class Paired:
    """Medians of an A/B comparison measured in alternating pairs."""

    a: float  # median seconds of A
    b: float  # median seconds of B
    ratio: float  # median over pairs of a/b: each pair ran back to back, so drift cancels

    @property
    def spread(self) -> str:
        return f"{self.a * 1000:.0f} ms vs {self.b * 1000:.0f} ms"


def paired_time(a: Callable[[], object], b: Callable[[], object], pairs: int, warmup: int = 1) -> Paired:
    """Time ``a`` and ``b`` alternately (AB BA AB …) after ``warmup`` calls of each; medians and median ratio.

    Alternating the order within pairs cancels any advantage of running first or
    second (caches, allocator state); the ratio of each pair cancels slow drift
    of the machine (other processes, clock changes) over the whole run.
    """
    for _ in range(warmup):
        a()
        b()
    ta: list[float] = []
    tb: list[float] = []
    for i in range(pairs):
        for fn, out in ((a, ta), (b, tb)) if i % 2 == 0 else ((b, tb), (a, ta)):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
    ratio = statistics.median(x / y for x, y in zip(ta, tb, strict=True))
    return Paired(statistics.median(ta), statistics.median(tb), ratio)
