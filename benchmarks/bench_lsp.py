"""Benchmark: the language server's latency, over stdio with the real server (`netdsl lsp`).

The spec is the front-end benchmark's generated net of 2,000 residual blocks
(`repeat 2000 Res(16)`: 16,000 modules after expansion). Measured as an editor sees it:

* diagnostics: from sending an incremental `didChange` (one number of the file edited,
  alternately making the net clean and giving it a shape error) to receiving the
  `publishDiagnostics` of that version. Goal ≤ 100 ms.
* the same text's `analyze()` in this process, after each edit (the server idle by then):
  the floor the diagnostics cannot beat; the paired difference is the server's own overhead.
* hover: the round trip of `textDocument/hover` on a layer inside the block (2,000
  instances), on the block's use, and on a name (its values), once the server has
  indexed the version; the first of each kind is listed apart. Goal ≤ 20 ms.

For information, the same on a file that writes the 2,000 block uses out, one per line
(`b17: Res(16)`): 2,000 call sites, each lowered and shaped anew (no repeat to share).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import machine, print_table
from lsprotocol import types as T
from pygls.lsp.client import LanguageClient

RES = """\
block Res(c) {
    add {
        { conv1: conv2d(c, 3, padding=1, bias=false); bn1: batchnorm; relu
          conv2: conv2d(c, 3, padding=1, bias=false); bn2: batchnorm }
        {}
    }
    relu
}
"""
REPEATED = RES + (
    "net Deep() {\n    input(16, 32, 32)\n    stem: conv2d(16, 3, padding=1)\n"
    "    body: repeat 2000 Res(16)\n    avgpool: global_avgpool; fc: linear(10)\n}\n"
)
WRITTEN = (
    RES
    + "net Wide() {\n    input(16, 32, 32)\n    stem: conv2d(16, 3, padding=1)\n"
    + "".join(f"    b{i}: Res(16)\n" for i in range(2000))
    + "    avgpool: global_avgpool; fc: linear(10)\n}\n"
)


class Session:
    """A client connected to `netdsl lsp`, recording when each version's diagnostics arrive."""

    def __init__(self) -> None:
        self.client = LanguageClient("bench-lsp", "1")
        self.arrived: dict[int, asyncio.Event] = {}
        self.counts: dict[int, int] = {}

        @self.client.feature(T.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def _diagnostics(ls: LanguageClient, params: T.PublishDiagnosticsParams) -> None:
            version = params.version or 0
            self.counts[version] = len(params.diagnostics)
            self.arrived.setdefault(version, asyncio.Event()).set()

    async def start(self) -> None:
        await self.client.start_io(sys.executable, "-m", "netdsl", "lsp")
        await self.client.initialize_async(T.InitializeParams(capabilities=T.ClientCapabilities()))
        self.client.initialized(T.InitializedParams())

    async def wait(self, version: int, timeout: float = 60) -> None:
        await asyncio.wait_for(self.arrived.setdefault(version, asyncio.Event()).wait(), timeout)

    async def stop(self) -> None:
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await self.client.stop()


def _find(text: str, needle: str, nth: int = 0) -> T.Position:
    at = -1
    for _ in range(nth + 1):
        at = text.index(needle, at + 1)
    line = text.count("\n", 0, at)
    return T.Position(line, at - (text.rfind("\n", 0, at) + 1))


async def measure(text: str, edits: int, hovers: int) -> dict[str, list[float]]:
    """Latencies in seconds: diagnostics after each edit, then hovers of three kinds."""
    s = Session()
    await s.start()
    with tempfile.TemporaryDirectory() as tmp:
        uri = (Path(tmp) / "bench.net").as_uri()
        doc = T.TextDocumentIdentifier(uri)
        s.client.text_document_did_open(T.DidOpenTextDocumentParams(T.TextDocumentItem(uri, "netdsl", 0, text)))
        await s.wait(0)
        where = _find(text, "Res(16)")
        where = T.Position(where.line, where.character + 4)  # the `16`
        out: dict[str, list[float]] = {"diagnostics": [], "in-process analyze() of the same text": []}
        lines = text.split("\n")
        local = Path(tmp) / "local.net"
        for version in range(1, edits + 1):
            value = "32" if version % 2 else "16"  # 32 channels into a 16-channel residual: a shape error
            change = T.TextDocumentContentChangePartial(
                T.Range(where, T.Position(where.line, where.character + 2)), value
            )
            t = time.perf_counter()
            s.client.text_document_did_change(
                T.DidChangeTextDocumentParams(T.VersionedTextDocumentIdentifier(version=version, uri=uri), [change])
            )
            await s.wait(version)
            out["diagnostics"].append(time.perf_counter() - t)
            await asyncio.sleep(0.3)  # the editor's user reads; the server indexes the version, then idles
            line = lines[where.line]
            lines[where.line] = line[: where.character] + value + line[where.character + 2 :]
            out["in-process analyze() of the same text"].append(_analyze_time(local, "\n".join(lines)))
        out["server overhead (diagnostics - in-process, paired)"] = [
            a - b for a, b in zip(out["diagnostics"], out["in-process analyze() of the same text"], strict=True)
        ]
        out["diagnostics, half-typed line (syntax error)"] = await _half_typed(s, uri, text, edits)
        out.update({"hover layer": [], "hover block use": [], "hover name": []})
        targets = {
            "hover layer": _find(text, "conv2d(c"),
            "hover block use": _find(text, "Res(", 1),
            "hover name": _find(text, "c, 3"),
        }
        for what, pos in targets.items():
            t = time.perf_counter()
            await s.client.text_document_hover_async(T.HoverParams(doc, pos))  # the first after the edits
            out[f"first {what}"] = [time.perf_counter() - t]
            for _ in range(hovers):
                t = time.perf_counter()
                result = await s.client.text_document_hover_async(T.HoverParams(doc, pos))
                out[what].append(time.perf_counter() - t)
                assert result is not None, what
    await s.stop()
    return out


async def _half_typed(s: Session, uri: str, text: str, edits: int) -> list[float]:
    """Diagnostics of a version whose last line lost its `}` (as while typing), each time after a clean one."""
    lines = text.split("\n")
    end = T.Position(len(lines) - 2, 0)  # the net's closing brace
    times = []
    for n in range(edits):
        version = 1000 + 2 * n
        for v, new, rng in (
            (version, "", T.Range(end, T.Position(end.line, 1))),
            (version + 1, "}", T.Range(end, end)),
        ):
            ident = T.VersionedTextDocumentIdentifier(version=v, uri=uri)
            t = time.perf_counter()
            s.client.text_document_did_change(
                T.DidChangeTextDocumentParams(ident, [T.TextDocumentContentChangePartial(rng, new)])
            )
            await s.wait(v)
            if v == version:
                assert s.counts[v] > 0, "the broken version has a syntax error"
                times.append(time.perf_counter() - t)
        await asyncio.sleep(0.3)
    return times


def _analyze_time(path: Path, text: str) -> float:
    """The analysis alone, in this process: what the server's diagnostics cannot arrive before."""
    from netdsl.pipeline import analyze

    t = time.perf_counter()
    analyze(path, text=text)
    return time.perf_counter() - t


GOALS = {"diagnostics": "≤ 100 ms", "hover layer": "≤ 20 ms", "hover block use": "≤ 20 ms", "hover name": "≤ 20 ms"}


def _row(name: str, times: list[float], goal: str) -> tuple[str, ...]:
    ms = sorted(t * 1000 for t in times)
    return (name, f"{statistics.median(ms):.1f} ms", f"{ms[-1]:.1f} ms", str(len(ms)), goal)


def main(edits: int = 20, hovers: int = 50, written: bool = True) -> dict[str, float]:
    figures: dict[str, float] = {}
    rows = []
    cases = [("repeat 2000 Res(16)", REPEATED)] + ([("2,000 uses written out", WRITTEN)] if written else [])
    for label, text in cases:
        out = asyncio.run(measure(text, edits, hovers))
        for what, times in out.items():
            goal = GOALS.get(what, "") if label.startswith("repeat") else ""
            rows.append(_row(f"{label}: {what}", times, goal or "information"))
            figures[f"{label}: {what} median ms"] = statistics.median(times) * 1000
            figures[f"{label}: {what} max ms"] = max(times) * 1000
    load = os.getloadavg()[0]
    title = f"Language server over stdio ({machine()}; load average {load:.2f} at the end)"
    print_table(title, rows, ("case", "median", "max", "n", "goal"))
    return figures


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--edits", type=int, default=20)
    ap.add_argument("--hovers", type=int, default=50)
    ap.add_argument("--no-written", action="store_true", help="skip the 2,000-call-site file (slow)")
    a = ap.parse_args()
    main(a.edits, a.hovers, not a.no_written)
