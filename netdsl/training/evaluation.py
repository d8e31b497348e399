"""``netdsl evaluate``: loss, top-1, top-5 and per-class accuracy of weights on a data set, a confusion matrix.

The weights are a netdsl checkpoint (``last.pt``/``best.pt``: the spec's sha256 is checked,
and the run's data set, net parameters and normalisation are used unless given) or any
plain ``state_dict`` that loads strictly into the spec's module, such as torchvision's.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import torch

from netdsl.atomic import write_atomic
from netdsl.training import checkpoint, datasets, distributed, engine, plots, prepare, records
from netdsl.training.errors import ConfigError, TrainingError
from netdsl.training.transforms import Transformed, build

SPLITS = ("test", "val", "train")


@dataclass(frozen=True)
class EvalOptions:
    """The options of one evaluation; ``None`` takes the checkpoint's value (or the default)."""

    weights: str
    spec: str | None = None
    data: str | None = None
    root: str | None = None
    split: str = "test"
    batch_size: int = 256
    device: str = "auto"
    workers: int = 0
    out: str | None = None
    force: bool = False
    download: bool = False
    overrides: Mapping[str, Any] = field(default_factory=dict)
    input: str | None = None


@dataclass(frozen=True)
class EvalResult:
    """The figures of an evaluation and the files written."""

    loss: float
    top1: float
    top5: float
    count: int
    classes: tuple[str, ...]
    per_class: dict[str, float]
    confusion: list[list[int]]
    files: tuple[Path, ...]


def _setting(given: Any, run: Mapping[str, Any], key: str, default: Any) -> Any:
    return given if given not in (None, "", {}) else run.get(key) or default


def _weights(o: EvalOptions) -> tuple[dict[str, torch.Tensor], dict[str, Any] | None]:
    data = checkpoint.load(o.weights)
    return checkpoint.model_state(data), (data if checkpoint.is_checkpoint(data) else None)


def _check_spec(spec: prepare.SpecInfo, run: dict[str, Any] | None, force: bool) -> None:
    if run is None or run["spec"]["sha256"] == spec.sha256 or force:
        return
    raise TrainingError(
        f"the checkpoint was trained on a different spec (sha256 {run['spec']['sha256'][:12]}…; {spec.path} has "
        f"{spec.sha256[:12]}…): pass --force to evaluate it anyway"
    )


def _pick(splits: datasets.Splits, name: str) -> Any:
    chosen = {"test": splits.test, "val": splits.val, "train": splits.train}[name]
    if chosen is None and name == "test":
        chosen = splits.val
    if chosen is None:
        raise TrainingError(f"{splits.info.name} has no {name} split")
    return chosen


def evaluate(o: EvalOptions, stream: TextIO | None = None) -> EvalResult:
    """Evaluate ``o.weights`` on the split ``o.split`` of the data; prints a report unless ``stream`` is None."""
    if o.split not in SPLITS:
        raise ConfigError(f"--split must be one of {', '.join(SPLITS)}")
    state, run = _weights(o)
    config: Mapping[str, Any] = run["config"] if run else {}
    spec_path = _setting(o.spec, config, "spec", "")
    overrides = _setting(dict(o.overrides), config, "set", {})
    spec = prepare.inspect_spec(spec_path, overrides, _setting(o.input, config, "input", None))
    _check_spec(spec, run, o.force)
    data = _setting(o.data, config, "data", "")
    if not data:
        raise ConfigError("--data is needed (the weights are not a netdsl checkpoint that names its data set)")
    info = datasets.describe(data, _setting(o.root, config, "root", "data"))
    prepare.check_fit(spec, info)
    splits = datasets.load(info, o.download, float(config.get("val_split", 0.1)), int(config.get("seed", 0)))
    if run is not None and run["data"]["name"] == data:
        mean, std = tuple(run["data"]["mean"]), tuple(run["data"]["std"])
    else:
        mean, std = datasets.statistics(splits.train, info.channels)
    images = Transformed(_pick(splits, o.split), build(spec.input_shape, mean, std, augment=False))
    world = distributed.setup(o.device)
    try:
        totals, confusion = _run(spec, state, images, world, o, len(info.classes))
    finally:
        distributed.teardown(world)
    classes = datasets.class_names(splits)
    result = _result(totals, confusion, classes)
    if world.main:
        result = _write(result, o, spec.name, data)
        if stream is not None:
            print(report(result, spec.name, data, o.split), file=stream, end="", flush=True)
    return result


def _run(
    spec: prepare.SpecInfo, state: dict[str, torch.Tensor], images: Any, world: distributed.World,
    o: EvalOptions, classes: int,
) -> tuple[engine.Totals, torch.Tensor]:  # fmt: skip
    model = prepare.build_model(spec, seed=0)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        raise TrainingError(f"the weights do not fit {spec.path}: {' '.join(lines[1:3])[:400]}") from None
    model.to(world.device)
    batch = prepare.per_rank_batch(o.batch_size, world)
    loader = prepare.loader(images, batch, o.workers, world, prepare.eval_sampler(images, world))
    stepper = engine.Stepper(model, None, engine.make_loss(model, 0.0), world)
    return engine.evaluate(stepper, loader, classes, lambda step: None)


def _result(totals: engine.Totals, confusion: torch.Tensor, classes: tuple[str, ...]) -> EvalResult:
    matrix = confusion.tolist()
    per_class = {}
    for i, name in enumerate(classes):
        row_total = sum(matrix[i])
        per_class[name] = matrix[i][i] / row_total if row_total else float("nan")
    top5 = totals.correct5 / totals.count if totals.count else float("nan")
    return EvalResult(totals.mean_loss, totals.accuracy, top5, totals.count, classes, per_class, matrix, ())


def _write(r: EvalResult, o: EvalOptions, net: str, data: str) -> EvalResult:
    out = Path(o.out) if o.out else Path(o.weights) if Path(o.weights).is_dir() else Path(o.weights).parent
    stem = f"eval_{o.split}"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["true \\ predicted", *r.classes])
    for name, row in zip(r.classes, r.confusion, strict=True):
        writer.writerow([name, *row])
    files = (out / f"{stem}_confusion.csv", out / f"{stem}_confusion.png", out / f"{stem}.json")
    write_atomic(files[0], buffer.getvalue())
    plots.confusion(r.confusion, r.classes, files[1], f"{net} on {data} ({o.split}): top-1 {100 * r.top1:.2f}%")
    summary = {"weights": o.weights, "data": data, "split": o.split, "images": r.count, "loss": r.loss}
    summary |= {"top1": r.top1, "top5": r.top5, "per_class": r.per_class}
    write_atomic(files[2], json.dumps(records.json_safe(summary), indent=2) + "\n")
    return EvalResult(r.loss, r.top1, r.top5, r.count, r.classes, r.per_class, r.confusion, files)


def report(r: EvalResult, net: str, data: str, split: str) -> str:
    """The printed report: totals, then per-class accuracy, then where the files went."""
    k = min(5, len(r.classes))
    lines = [
        f"{net} on {data} ({split}, {r.count:,} images)",
        f"  loss   {r.loss:.4f}",
        f"  top-1  {100 * r.top1:.2f}%",
        f"  top-{k}  {100 * r.top5:.2f}%",
        "per-class accuracy:",
    ]
    width = max((len(c) for c in r.classes), default=5)
    lines += [f"  {name.ljust(width)}  {100 * acc:6.2f}%" for name, acc in r.per_class.items()]
    lines += [f"wrote {f}" for f in r.files]
    return "\n".join(lines) + "\n"
