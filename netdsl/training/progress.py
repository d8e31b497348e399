"""What a person sees during a run: a live bar per epoch on a terminal, one line per epoch elsewhere.

On a terminal (rich): ``epoch 3/10 ━━━━━━━╸━━━ 45/100 loss 0.532 acc 81.2% 4,210 img/s 0:00:12``.
When stdout is a file or a pipe (CI, ``| tee``): one line per epoch. A table of the epochs
ends the run. Only rank 0 reports; ``--quiet`` silences all of it.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from netdsl.training.engine import Totals


def _pct(value: Any) -> str:
    return f"{100 * value:.2f}%" if isinstance(value, float) and math.isfinite(value) else "-"


def _num(value: Any, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if isinstance(value, float) and math.isfinite(value) else "-"


def epoch_line(row: dict[str, Any], epochs: int) -> str:
    """``epoch 1/10  train loss 0.5432 acc 80.12%  val loss …  lr 0.1  12.3 s  4,567 img/s``."""
    parts = [f"epoch {row['epoch']}/{epochs}"]
    for split in ("train", "val"):
        if f"{split}_loss" in row:
            parts.append(f"{split} loss {_num(row[f'{split}_loss'])} acc {_pct(row[f'{split}_acc'])}")
    parts.append(f"lr {row['lr']:.4g}")
    parts.append(f"{row['train_seconds']:.1f} s  {row['train_images_per_s']:,.0f} img/s")
    return "  ".join(parts)


def summary_rows(history: Sequence[dict[str, Any]], best: int | None) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the end-of-run table (the best epoch marked with ``*``)."""
    has_val = bool(history) and "val_loss" in history[0]
    header = ["epoch", "train loss", "train acc"] + (["val loss", "val acc"] if has_val else []) + ["lr", "s", "img/s"]
    rows = []
    for r in history:
        cells = [f"{r['epoch']}{' *' if r['epoch'] == best else ''}", _num(r["train_loss"]), _pct(r["train_acc"])]
        if has_val:
            cells += [_num(r.get("val_loss")), _pct(r.get("val_acc"))]
        cells += [f"{r['lr']:.4g}", f"{r['train_seconds']:.1f}", f"{r['train_images_per_s']:,.0f}"]
        rows.append(cells)
    return header, rows


class Reporter:
    """Plain lines (stdout not a terminal); also the base of :class:`LiveReporter`."""

    def __init__(self, stream: TextIO, epochs: int) -> None:
        self.stream = stream
        self.epochs = epochs

    def message(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def start_epoch(self, epoch: int, steps: int, done: int) -> None:
        pass

    def step(self, step: int, totals: Totals) -> None:
        pass

    def validating(self) -> None:
        pass

    def end_epoch(self, row: dict[str, Any]) -> None:
        self.message(epoch_line(row, self.epochs))

    def summary(self, history: Sequence[dict[str, Any]], best: int | None) -> None:
        header, rows = summary_rows(history, best)
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)] if rows else []
        lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))]
        lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        self.message("\n".join(lines))

    def close(self) -> None:
        pass


class Silent(Reporter):
    """``--quiet``, and every rank but 0."""

    def message(self, text: str) -> None:
        pass

    def end_epoch(self, row: dict[str, Any]) -> None:
        pass

    def summary(self, history: Sequence[dict[str, Any]], best: int | None) -> None:
        pass


class LiveReporter(Reporter):
    """A rich progress bar for the epoch in progress, a line per finished epoch, a rich table at the end."""

    def __init__(self, stream: TextIO, epochs: int) -> None:
        super().__init__(stream, epochs)
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.console = Console(file=stream)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeRemainingColumn(),
            console=self.console,
        )
        self.task: Any = None
        self.progress.start()

    def message(self, text: str) -> None:
        self.console.print(text, highlight=False, markup=False)

    def start_epoch(self, epoch: int, steps: int, done: int) -> None:
        self.task = self.progress.add_task(f"epoch {epoch}/{self.epochs}", total=steps, completed=done, stats="")

    def step(self, step: int, totals: Totals) -> None:
        stats = f"loss {totals.mean_loss:.4f} acc {_pct(totals.accuracy)} {totals.images_per_s:,.0f} img/s"
        self.progress.update(self.task, completed=step, stats=stats)

    def validating(self) -> None:
        self.progress.update(self.task, stats="validating…")

    def end_epoch(self, row: dict[str, Any]) -> None:
        self.progress.remove_task(self.task)  # the finished epoch stays as a line above the next bar
        self.message(epoch_line(row, self.epochs))

    def summary(self, history: Sequence[dict[str, Any]], best: int | None) -> None:
        from rich.table import Table

        self.close()
        header, rows = summary_rows(history, best)
        table = Table(*header, title="epochs (* best)")
        for r in rows:
            table.add_row(*r)
        self.console.print(table)

    def close(self) -> None:
        self.progress.stop()


def reporter(quiet: bool, main: bool, epochs: int, stream: TextIO | None = None) -> Reporter:
    """The reporter for this process: silent, live (a terminal, rich installed) or lines."""
    stream = sys.stdout if stream is None else stream
    if quiet or not main:
        return Silent(stream, epochs)
    if stream.isatty():
        try:
            return LiveReporter(stream, epochs)
        except ImportError:  # rich is an optional extra: fall back to lines
            pass
    return Reporter(stream, epochs)
