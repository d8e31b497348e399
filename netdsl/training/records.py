"""What a run directory keeps besides checkpoints: ``metrics.csv`` and ``summary.json``, rewritten atomically.

The history is a list of flat per-epoch dicts: ``epoch``, ``lr``, and for each split that
ran (``train``, ``val``) its ``loss``, ``acc`` (top-1, a fraction), ``seconds`` and
``images_per_s`` as ``train_loss``, ``val_acc`` …: the same rows :func:`netdsl.train` returns.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from netdsl.atomic import write_atomic

COLUMNS = ("epoch", "split", "loss", "acc", "lr", "seconds", "images_per_s")
SPLITS = ("train", "val")


def metrics_csv(history: Sequence[dict[str, Any]]) -> str:
    """One row per epoch and split, in the order of :data:`COLUMNS`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in history:
        for split in SPLITS:
            if f"{split}_loss" in row:
                writer.writerow(
                    [
                        row["epoch"],
                        split,
                        f"{row[f'{split}_loss']:.6f}",
                        f"{row[f'{split}_acc']:.6f}",
                        f"{row['lr']:.6g}",
                        f"{row[f'{split}_seconds']:.3f}",
                        f"{row[f'{split}_images_per_s']:.1f}",
                    ]
                )
    return buffer.getvalue()


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities as ``None`` (JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def update(out: Path, history: Sequence[dict[str, Any]], summary: dict[str, Any]) -> None:
    """Rewrite ``metrics.csv`` and ``summary.json`` in ``out``."""
    write_atomic(out / "metrics.csv", metrics_csv(history))
    write_atomic(out / "summary.json", json.dumps(json_safe(summary), indent=2) + "\n")


def best_epoch(history: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The epoch with the highest validation accuracy (training accuracy when there is no validation)."""
    key = "val_acc" if history and "val_acc" in history[0] else "train_acc"
    rows = [r for r in history if isinstance(r.get(key), float) and math.isfinite(r[key])]
    return max(rows, key=lambda r: r[key]) if rows else None
