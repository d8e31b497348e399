"""A whole training run: configure, check, build, loop over epochs, record, checkpoint; resume; stop cleanly.

The order matters to a user: the options and the spec are checked, then the spec against
the data set (channels, classes), all before a weight is allocated or an image read.
After every epoch rank 0 writes ``last.pt`` (and ``best.pt`` when validation accuracy
improved), ``metrics.csv``, ``summary.json`` and ``curves.png``, each atomically. A fresh
run saves ``last.pt`` before its first step, so there is always a checkpoint to resume.

Reproducibility: the weights come from ``--seed``; each epoch reseeds the RNGs from
(seed, epoch, rank) and shuffles by (seed, epoch), so an epoch computes the same whether
it follows the previous one in the same process or a ``--resume``. Ctrl-C stops at the
next step boundary and saves the position inside the epoch with the RNG states, so the
resumed run goes on from there.
"""

from __future__ import annotations

import dataclasses
import math
import random
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, NamedTuple, TextIO

import numpy as np
import torch
from torch import nn

from netdsl.atomic import write_atomic
from netdsl.training import checkpoint, datasets, distributed, engine, optim, plots, prepare, records
from netdsl.training.config import TrainConfig, merge, to_toml
from netdsl.training.errors import ConfigError, TrainingError
from netdsl.training.progress import reporter
from netdsl.training.transforms import Transformed, build

OUTPUTS = ("last.pt", "best.pt", "config.toml", "metrics.csv", "summary.json", "curves.png")
FIXED_ON_RESUME = ("spec", "data", "set", "input", "val_split", "seed", "batch_size")


class TrainResult(NamedTuple):
    """What :func:`netdsl.train` returns: the per-epoch history and the run directory."""

    history: list[dict[str, Any]]
    run_dir: Path


def configure(layers: Sequence[Mapping[str, Any]], resume: str | None) -> tuple[TrainConfig, dict[str, Any] | None]:
    """The resolved configuration (defaults < file < flags; a resumed run's own config first) and its checkpoint."""
    if resume is None:
        return merge(*layers).resolved(), None
    payload = checkpoint.load(Path(resume) / "last.pt")
    if not checkpoint.is_checkpoint(payload):
        raise TrainingError(f"{resume}/last.pt is not a netdsl training checkpoint")
    base = dict(payload["config"])
    for layer in layers:
        for key in FIXED_ON_RESUME:
            if key in layer and layer[key] and _differs(key, layer[key], base.get(key)):
                raise ConfigError(f"--resume continues a run as it began: `{key}` cannot change (it was {base[key]!r})")
    config = merge(base, *[{k: v for k, v in layer.items() if k not in FIXED_ON_RESUME} for layer in layers])
    return dataclasses.replace(config, out=str(resume)).resolved(), payload


def _differs(key: str, new: Any, old: Any) -> bool:
    if key == "spec":
        return Path(new).resolve() != Path(str(old)).resolve()
    if key == "set":
        return bool({k: list(v) if isinstance(v, tuple) else v for k, v in new.items()} != old)
    return bool(new != old)


def train(layers: Sequence[Mapping[str, Any]], resume: str | None = None, stream: TextIO | None = None) -> TrainResult:
    """Run ``netdsl train`` with configuration layers (see :func:`configure`); the history and run directory."""
    config, payload = configure(layers, resume)
    spec = prepare.inspect_spec(config.spec, config.set, config.input)
    if payload is not None and payload["spec"]["sha256"] != spec.sha256:
        raise TrainingError(
            f"{spec.path} changed since this run began (sha256 {payload['spec']['sha256'][:12]}…, now "
            f"{spec.sha256[:12]}…): start a new run"
        )
    info = datasets.describe(config.data, config.root)
    prepare.check_fit(spec, info)
    world = distributed.setup(config.device)
    try:
        out = _shared_run_dir(config, spec.name, resume is not None, world)
        trainer = Trainer(config, spec, info, world, out, payload, stream)
        return TrainResult(trainer.fit(), out)
    finally:
        distributed.teardown(world)


def run_dir(config: TrainConfig, net: str, resuming: bool) -> Path:
    """``--out``, or the first free ``runs/NET``, ``runs/NET-2``, …; refuses to overwrite a run."""
    if config.out:
        out = Path(config.out).expanduser()
        if not resuming and (out / "last.pt").exists():
            raise ConfigError(f"{out} already holds a run: continue it with --resume {out}, or choose another --out")
        return out
    base = Path("runs") / net
    n = 1
    while (base.parent / (base.name if n == 1 else f"{base.name}-{n}")).exists():
        n += 1
    return base.parent / (base.name if n == 1 else f"{base.name}-{n}")


def _shared_run_dir(config: TrainConfig, net: str, resuming: bool, world: distributed.World) -> Path:
    """Rank 0 picks the run directory and tells the others (or tells them why not, so that none waits)."""
    chosen: tuple[str, str] = ("", "")
    if world.main:
        try:
            chosen = ("ok", str(run_dir(config, net, resuming)))
        except ConfigError as err:
            chosen = ("error", str(err))
    status, value = distributed.broadcast(world, chosen)
    if status == "error":
        raise ConfigError(value)
    return Path(value)


class _StopFlag:
    """Ctrl-C while training: the first one asks for a stop at the next step; a second one interrupts at once."""

    def __init__(self) -> None:
        self.requested = False
        self.previous: Any = None

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def _seed_epoch(seed: int, epoch: int, rank: int) -> None:
    value = (seed * 1_000_003 + epoch * 7919 + rank * 104_729) % 2**31
    torch.manual_seed(value)
    random.seed(value)
    np.random.seed(value)


class Trainer:
    """The state of one run on one process, and its epoch loop."""

    def __init__(
        self, config: TrainConfig, spec: prepare.SpecInfo, info: datasets.DataInfo, world: distributed.World,
        out: Path, payload: dict[str, Any] | None, stream: TextIO | None,
    ) -> None:  # fmt: skip
        self.config, self.spec, self.world, self.out = config, spec, world, out
        self.report = reporter(config.quiet, world.main, config.epochs, stream)
        splits = datasets.load(info, config.download, config.val_split, config.seed)
        if payload is not None:
            self.mean, self.std = tuple(payload["data"]["mean"]), tuple(payload["data"]["std"])
        else:
            self.mean, self.std = datasets.statistics(splits.train, info.channels)
        self.classes = datasets.class_names(splits)
        self._loaders(splits)
        self._model()
        self.history: list[dict[str, Any]] = []
        self.epoch, self.step, self.partial = 0, 0, engine.Totals()
        if payload is not None:
            self._restore(payload)

    def _loaders(self, splits: datasets.Splits) -> None:
        c, world = self.config, self.world
        self.batch = prepare.per_rank_batch(c.batch_size, world)
        train = Transformed(splits.train, build(self.spec.input_shape, self.mean, self.std, c.augment))
        self.sampler = prepare.train_sampler(train, world, c.seed)
        workers = int(c.workers or 0)
        self.train_loader = prepare.loader(train, self.batch, workers, world, self.sampler)
        self.steps = math.ceil(self.sampler.full_length() / self.batch)
        self.val_loader = None
        self.val_is_test = splits.val_is_test
        if splits.val is not None:
            val = Transformed(splits.val, build(self.spec.input_shape, self.mean, self.std, augment=False))
            self.val_loader = prepare.loader(val, self.batch, workers, world, prepare.eval_sampler(val, world))

    def _model(self) -> None:
        c, world = self.config, self.world
        module = prepare.build_model(self.spec, c.seed, c.init).to(world.device)
        channels_last = prepare.pick_device_format(module, world)
        if channels_last:
            module = module.to(memory_format=torch.channels_last)
        self.module = module
        model: nn.Module = module
        if world.distributed:
            ids = [world.local_rank] if world.device.type == "cuda" else None
            model = nn.parallel.DistributedDataParallel(module, device_ids=ids)
        self.optimizer = optim.optimizer(module.parameters(), c)
        self.scheduler, per_step = optim.schedule(self.optimizer, c, self.steps)
        amp_dtype, scaler = prepare.amp_setup(c.amp, world)
        if c.amp and amp_dtype is None:
            self.report.message("--amp: mixed precision needs CUDA; training in float32")
        self.scaler = scaler
        self.stepper = engine.Stepper(
            model, self.optimizer, engine.make_loss(module, c.label_smoothing), world,
            self.scheduler if per_step else None, scaler, amp_dtype, channels_last,
        )  # fmt: skip
        self.per_epoch_scheduler = None if per_step else self.scheduler

    def _restore(self, p: dict[str, Any]) -> None:
        self.module.load_state_dict(p["model"])
        self.optimizer.load_state_dict(p["optimizer"])
        if self.scheduler is not None and p.get("scheduler") is not None:
            self.scheduler.load_state_dict(p["scheduler"])
            optim.stretch(self.scheduler, self.config, self.steps)
        if self.scaler is not None and p.get("scaler"):
            self.scaler.load_state_dict(p["scaler"])
        self.history = list(p["history"])
        self.epoch, self.step = int(p["epoch"]), int(p["step"])
        self.partial = engine.Totals(**p["partial"]) if p.get("partial") else engine.Totals()
        if self.step:
            checkpoint.set_rng_state(p["rng"])

    def payload(self, step: int, partial: engine.Totals | None) -> dict[str, Any]:
        """The checkpoint of this moment: ``self.epoch`` epochs done, ``step`` steps of the next."""
        return {
            "model": self.module.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "epoch": self.epoch,
            "step": step,
            "partial": dataclasses.asdict(partial) if partial is not None else None,
            "rng": checkpoint.rng_state(),
            "spec": self.spec.record(),
            "config": self.config.to_dict(),
            "data": {
                "name": self.config.data,
                "mean": list(self.mean),
                "std": list(self.std),
                "classes": list(self.classes),
            },
            "history": self.history,
        }

    def fit(self) -> list[dict[str, Any]]:
        """Train up to ``--epochs`` epochs in all; the history of every epoch of the run."""
        c = self.config
        if self.world.main:
            self.out.mkdir(parents=True, exist_ok=True)
            _clear_temporaries(self.out)
            write_atomic(self.out / "config.toml", to_toml(c))
            self.report.message(self._banner())
            if not self.history and not self.step:
                checkpoint.store(self.out / "last.pt", self.payload(0, None))
        try:
            with _StopFlag() as flag:
                self.stepper.stop = lambda: flag.requested
                while self.epoch < c.epochs:
                    self._one_epoch()
        except engine.NonFiniteLoss as bad:
            self._write_records("failed")
            raise TrainingError(
                f"{bad}: stopped; the last good checkpoint is {self.out / 'last.pt'} (epoch {self.epoch}); "
                f"try a lower --lr (now {c.lr:g})"
            ) from None
        except engine.StopRequested as stop:
            self._interrupted(stop.step)
        finally:
            self.report.close()
        self._write_records("finished")
        best = records.best_epoch(self.history)
        self.report.summary(self.history, best["epoch"] if best else None)
        return self.history

    def _banner(self) -> str:
        c = self.config
        h, w = self.spec.input_shape[1:]
        where = f"{self.world.size} processes" if self.world.distributed else str(self.world.device)
        start = f", resuming after epoch {self.epoch}" if self.history or self.step else ""
        return (
            f"netdsl train: {self.spec.name} ({self.spec.path}) on {c.data} at {h}×{w}, {len(self.classes)} classes; "
            f"{c.optimizer} lr {c.lr:g}, batch {c.batch_size}, {c.epochs} epochs on {where}{start}\n"
            f"run directory: {self.out}"
        )

    def _one_epoch(self) -> None:
        epoch = self.epoch + 1
        start, totals = self.step, self.partial
        if start == 0:
            _seed_epoch(self.config.seed, epoch, self.world.rank)
            totals = engine.Totals()
        self.sampler.set_epoch(epoch)
        self.sampler.start = start * self.batch
        lr = float(self.optimizer.param_groups[0]["lr"])
        self.report.start_epoch(epoch, self.steps, start)
        try:
            engine.train_epoch(self.stepper, self.train_loader, epoch, start, totals, self.report.step)
        except engine.StopRequested:
            self.partial = totals
            raise
        self.sampler.start, self.step, self.partial = 0, 0, engine.Totals()
        row: dict[str, Any] = {"epoch": epoch, "lr": lr, **_split("train", totals.reduced(self.world))}
        if self.val_loader is not None:
            self.report.validating()
            classes = len(self.classes)
            val, _ = engine.evaluate(self.stepper, self.val_loader, classes, lambda step: None)
            row.update(_split("val", val))
        if self.per_epoch_scheduler is not None:
            self.per_epoch_scheduler.step()
        self.epoch = epoch
        self.history.append(row)
        self._save_epoch(row)
        self.report.end_epoch(row)

    def _save_epoch(self, row: dict[str, Any]) -> None:
        if not self.world.main:
            return
        payload = self.payload(0, None)
        checkpoint.store(self.out / "last.pt", payload)
        best = records.best_epoch(self.history)
        if best is not None and best["epoch"] == row["epoch"]:
            checkpoint.store(self.out / "best.pt", payload)
        self._write_records("running")

    def _write_records(self, status: str) -> None:
        if not self.world.main:
            return
        best = records.best_epoch(self.history)
        summary = {
            "status": status,
            "net": self.spec.name,
            "spec": self.spec.path,
            "spec_sha256": self.spec.sha256,
            "data": self.config.data,
            "epochs_done": self.epoch,
            "epochs": self.config.epochs,
            "best_epoch": best["epoch"] if best else None,
            "best": best,
            "last": self.history[-1] if self.history else None,
            "validation": "none" if self.val_loader is None else "test set" if self.val_is_test else "held-out split",
            "processes": self.world.size,
            "device": str(self.world.device),
        }
        records.update(self.out, self.history, summary)
        if self.history:
            plots.curves(self.history, self.out / "curves.png", f"{self.spec.name} on {self.config.data}")

    def _interrupted(self, step: int) -> None:
        if self.world.main:
            checkpoint.store(self.out / "last.pt", self.payload(step, self.partial))
            self._write_records("interrupted")
            self.report.close()
            print(
                f"netdsl train: interrupted at epoch {self.epoch + 1}, step {step} of {self.steps}: saved "
                f"{self.out / 'last.pt'}; continue with: netdsl train --resume {self.out}",
                file=sys.stderr,
            )
        raise KeyboardInterrupt


def _clear_temporaries(out: Path) -> None:
    """Temporary files that a killed run left beside its outputs (``.last.pt.x1y2.tmp``)."""
    for name in OUTPUTS:
        for stale in out.glob(f".{name}.*"):
            stale.unlink(missing_ok=True)


def _split(name: str, t: engine.Totals) -> dict[str, float]:
    return {
        f"{name}_loss": t.mean_loss,
        f"{name}_acc": t.accuracy,
        f"{name}_seconds": t.seconds,
        f"{name}_images_per_s": t.images_per_s,
    }
