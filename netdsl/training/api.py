"""``netdsl.train(spec, data=…, epochs=…, **options)``: the Python face of ``netdsl train``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from netdsl.training.config import from_mapping, read_toml
from netdsl.training.run import TrainResult
from netdsl.training.run import train as _run


def train(
    spec: str | Path | None = None,
    *,
    data: str | None = None,
    epochs: int | None = None,
    resume: str | Path | None = None,
    config: str | Path | None = None,
    **options: Any,
) -> TrainResult:
    """Train ``spec`` on ``data``; returns ``(history, run_dir)`` (a :class:`~netdsl.training.run.TrainResult`).

    ``options`` are the command's options with underscores: ``batch_size=64``, ``lr=0.01``,
    ``optimizer="adam"``, ``out="runs/x"``, ``quiet=True``, net parameters as
    ``set={"num_classes": 10}`` and the input shape as ``input=(1, 28, 28)``. ``config`` is a
    TOML file that ``options`` override; ``resume`` continues the run in that directory.
    ``history`` is one dict per epoch: ``epoch``, ``lr``, ``train_loss``, ``train_acc``,
    ``train_seconds``, ``train_images_per_s`` and the same with ``val_`` when there is validation.

    Raises :class:`netdsl.errors.NetdslError` for errors in the spec,
    :class:`netdsl.training.errors.ConfigError` for bad options and
    :class:`netdsl.training.errors.TrainingError` when the run cannot start or go on.
    """
    given: dict[str, Any] = dict(options)
    if spec is not None:
        given["spec"] = str(spec)
    if data is not None:
        given["data"] = data
    if epochs is not None:
        given["epochs"] = epochs
    shape = given.get("input")
    if isinstance(shape, tuple | list):
        given["input"] = "x".join(str(d) for d in shape)
    for key in ("out", "root"):
        if isinstance(given.get(key), Path):
            given[key] = str(given[key])
    layers = [read_toml(config)] if config is not None else []
    layers.append(from_mapping(given, "netdsl.train"))
    return _run(layers, str(resume) if resume is not None else None)
