"""Fuzz netdsl's front end for a while: grammar-generated specs and token-level mutations of the shipped ones.

    .venv/bin/python tests/fuzz/run_long.py --minutes 10        # or --examples 5000
    .venv/bin/python tests/fuzz/run_long.py --minutes 1 --out /tmp/crashes --seed 7

Every input goes through ``generators.exercise``: ``netdsl.pipeline.analyze`` (parse, lower,
shapes), the diagnostics rendered as the CLI prints them, and, when the spec checks
clean, a build on the ``meta`` device plus the shapes table and the DOT diagram.
Anything but a result or netdsl diagnostics is a crash: an uncaught exception, a
malformed diagnostic, or a worker that does not answer within ``--hang`` seconds.
Each input runs in a worker process, so a hang is detected and the run goes on.
The run prints inputs tried, distinct diagnostic codes seen and crashes found, and
saves each crashing input (with its traceback) under ``--out``.

The generators are shared with the in-suite fuzz tests (``tests/test_fuzz.py``).
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing as mp
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: its neighbour module

from generators import SPECS, exercise, grammar_specs, mutate, random_ops, semantic_specs, tokens_of

# ---------------------------------------------------------------------------- the long run (worker processes)


def _worker(conn: Any, workdir: str, timeout: float) -> None:
    from netdsl.limits import Limits

    limits = Limits(timeout=timeout)
    path = Path(workdir) / "fuzz.net"
    while True:
        text = conn.recv()
        try:
            out = exercise(text, path, limits)
            conn.send(("ok", sorted(out.codes), out.stage))
        except BaseException as err:  # the point is to catch everything
            conn.send(("crash", f"{type(err).__name__}: {str(err)[:300]}", traceback.format_exc()))


@dataclass
class Tally:
    tried: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    stages: Counter[str] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    crashes: dict[str, Path] = field(default_factory=dict)  # signature → saved input


class Runner:
    """Runs inputs in a worker process, restarting it after a hang."""

    def __init__(self, out: Path, hang: float, timeout: float):
        self.ctx = mp.get_context("spawn")  # torch is imported in the worker: never fork it
        self.out, self.hang, self.timeout = out, hang, timeout
        self.tmp = tempfile.TemporaryDirectory(prefix="netdsl-fuzz-")
        self.tally = Tally()
        self._start()

    def _start(self) -> None:
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker, args=(child, self.tmp.name, self.timeout), daemon=True)
        self.proc.start()

    def run(self, text: str, source: str) -> None:
        t = self.tally
        t.tried += 1
        t.sources[source] += 1
        self.conn.send(text)
        if not self.conn.poll(self.hang):
            self.proc.kill()
            self.proc.join()
            self._record(text, f"hang: no answer within {self.hang:g} s", "", source)
            self._start()
            return
        status, a, b = self.conn.recv()
        if status == "ok":
            t.codes.update(a)
            t.stages[b] += 1
        else:
            where = [ln for ln in b.splitlines() if "/netdsl/" in ln and ln.strip().startswith("File")]
            self._record(text, a, b, source, where[-1].strip() if where else "")

    def _record(self, text: str, what: str, tb: str, source: str, where: str = "") -> None:
        self.tally.stages["crash"] += 1
        signature = f"{what.split(':')[0]} {where}"
        if signature in self.tally.crashes:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        saved = self.out / f"crash-{name}.net"
        saved.write_text(text, encoding="utf-8", errors="surrogatepass")
        saved.with_suffix(".txt").write_text(f"source: {source}\n{what}\n\n{tb}", encoding="utf-8")
        self.tally.crashes[signature] = saved
        print(f"  CRASH ({source}): {what} → {saved}", flush=True)

    def close(self) -> None:
        self.proc.kill()
        self.proc.join()
        self.tmp.cleanup()


def _hypothesis_chunk(runner: Runner, start: str, seed: int, n: int, stop: float) -> None:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    @hseed(seed)
    @settings(
        max_examples=n,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(semantic_specs() if start == "semantic" else grammar_specs(start))
    def feed(text: str) -> None:
        if time.monotonic() < stop:
            runner.run(text, start if start == "semantic" else f"grammar:{start}")

    feed()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    budget = ap.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=float, help="run for this long (default 1)")
    budget.add_argument("--examples", type=int, help="run this many inputs")
    ap.add_argument("--out", type=Path, default=Path("fuzz-crashes"), help="where crashing inputs are saved")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hang", type=float, default=120.0, help="seconds without an answer that count as a hang")
    ap.add_argument("--timeout", type=float, default=30.0, help="the front end's own --timeout for each input")
    args = ap.parse_args(argv)
    minutes = args.minutes if args.minutes is not None or args.examples is not None else 1.0
    stop = time.monotonic() + (minutes * 60 if minutes is not None else 1e9)
    limit = args.examples or 1 << 62
    runner = Runner(args.out, args.hang, args.timeout)
    rng = random.Random(args.seed)
    began, round_ = time.monotonic(), 0
    try:
        while time.monotonic() < stop and runner.tally.tried < limit:
            chunk = min(50, limit - runner.tally.tried)
            kind = ("start", "net_def", "semantic", "mutation")[round_ % 4]
            if kind != "mutation":
                _hypothesis_chunk(runner, kind, args.seed * 1000 + round_, chunk, stop)
            else:
                for _ in range(chunk):
                    if time.monotonic() >= stop:
                        break
                    spec = rng.choice(SPECS)
                    runner.run(mutate(tokens_of(spec), random_ops(rng)), f"mutation:{spec.name}")
            round_ += 1
            t = runner.tally
            print(f"[{time.monotonic() - began:6.0f} s] {t.tried} inputs, {len(t.codes)} codes, "
                  f"{len(t.crashes)} crashes", flush=True)  # fmt: skip
    finally:
        runner.close()
    t = runner.tally
    print(f"\ninputs tried: {t.tried} in {time.monotonic() - began:.0f} s")
    print(f"by source: {dict(sorted(t.sources.items()))}")
    print(f"outcomes: {dict(t.stages)}")
    print(f"distinct diagnostic codes seen: {len(t.codes)}: {' '.join(sorted(t.codes))}")
    print(f"crashes found: {len(t.crashes)}")
    for sig, saved in t.crashes.items():
        print(f"  {sig} → {saved}")
    return 1 if t.crashes else 0


if __name__ == "__main__":
    sys.exit(main())
