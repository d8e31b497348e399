"""What ``train`` and ``evaluate`` share before the first batch: the spec, its fit to the data, the loaders.

:func:`inspect_spec` runs the static front end (no weights yet) and :func:`check_fit`
compares the spec's input channels and output size with the data set's, so a mismatch is
one clear line before any data is read or any weight allocated.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from netdsl import notebook
from netdsl.errors import NetdslError
from netdsl.training.checkpoint import sha256
from netdsl.training.datasets import DataInfo
from netdsl.training.distributed import World
from netdsl.training.errors import ConfigError, TrainingError


@dataclass(frozen=True)
class SpecInfo:
    """A checked spec: where it is, its text and hash, its net's name, parameters and shapes."""

    path: str
    text: str
    sha256: str
    sources: dict[str, str]
    name: str
    params: tuple[str, ...]
    overrides: dict[str, Any]
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]

    def record(self) -> dict[str, Any]:
        """What a checkpoint keeps of the spec."""
        return {"path": self.path, "name": self.name, "text": self.text, "sha256": self.sha256, "sources": self.sources}


def parse_shape(text: str | None) -> tuple[int, ...] | None:
    """``--input 1x28x28`` → ``(1, 28, 28)``."""
    if text is None:
        return None
    if not re.fullmatch(r"\d+x\d+x\d+", text.strip()):
        raise ConfigError(f"--input expects CxHxW (positive integers), got {text!r}")
    dims = tuple(int(d) for d in text.strip().split("x"))
    if min(dims) < 1:
        raise ConfigError(f"--input dimensions must be positive, got {text!r}")
    return dims


def inspect_spec(path: str, overrides: Mapping[str, Any], input_text: str | None) -> SpecInfo:
    """Check the spec statically; raises :class:`~netdsl.errors.NetdslError` with its diagnostics."""
    if not path:
        raise ConfigError("no SPEC given (a .net file, or --resume RUN_DIR)")
    if not Path(path).is_file():
        raise TrainingError(f"{path}: no such spec file")
    shape = parse_shape(input_text)
    params: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
    options: dict[str, Any] = {"input": shape} if shape else {}
    analysis = notebook.analyze(path, **params, **options)
    analysis.raise_for_errors()
    assert analysis.net is not None and analysis.shapes is not None
    text = Path(path).read_text(encoding="utf-8")
    return SpecInfo(
        path=path,
        text=text,
        sha256=sha256(text),
        sources=dict(analysis.sources),
        name=analysis.net.name,
        params=tuple(name for name, _ in analysis.net.params),
        overrides=params,
        input_shape=tuple(analysis.shapes.input_shape or ()),
        output_shape=tuple(analysis.shapes.output or ()),
    )


def check_fit(spec: SpecInfo, data: DataInfo) -> None:
    """The spec's input channels and class count must be the data set's; a hint names the fix."""
    if len(spec.input_shape) != 3:
        raise TrainingError(f"{spec.path} takes input {spec.input_shape}; training needs images (C, H, W)")
    channels, height, width = spec.input_shape
    if channels != data.channels:
        fix = "--set in_channels=" if "in_channels" in spec.params else f"--input {data.channels}x{height}x{width}"
        fix = fix + str(data.channels) if fix.endswith("=") else fix
        raise TrainingError(
            f"{spec.path} expects {channels} input channels; {data.name} has {data.channels}: try {fix}"
        )
    classes = len(data.classes)
    if len(spec.output_shape) != 1:
        raise TrainingError(f"{spec.path} outputs shape {spec.output_shape}, not one score per class")
    if spec.output_shape[0] != classes:
        fix = f": try --set num_classes={classes}" if "num_classes" in spec.params else ""
        raise TrainingError(f"{spec.path} outputs {spec.output_shape[0]} classes; {data.name} has {classes}{fix}")


def build_model(spec: SpecInfo, seed: int, init: str = "default") -> nn.Module:
    """The spec compiled to a module with seeded initial weights (the caller's RNG is not touched)."""
    extra: dict[str, Any] = {"input": spec.input_shape, "init": init}
    try:
        return notebook.load(spec.path, seed=seed, **extra, **spec.overrides)
    except NetdslError:
        raise
    except MemoryError:
        raise TrainingError(f"{spec.path}: not enough memory for the weights") from None


class ResumableSampler(DistributedSampler[int]):
    """A DistributedSampler (a seeded shuffle per epoch, one shard per rank) that can skip a started epoch's steps."""

    start = 0  # indices of this rank to skip (steps already done × per-rank batch)

    def __iter__(self) -> Iterator[int]:
        return itertools.islice(super().__iter__(), self.start, None)

    def __len__(self) -> int:
        return max(0, super().__len__() - self.start)

    def full_length(self) -> int:
        return super().__len__()


class Shard(Sampler[int]):
    """Every ``size``-th index from ``rank``, in order: evaluation shards without padding or duplicates."""

    def __init__(self, n: int, rank: int, size: int) -> None:
        self.indices = range(rank, n, size)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def per_rank_batch(batch_size: int, world: World) -> int:
    if batch_size % world.size:
        raise ConfigError(
            f"--batch-size {batch_size} is the global batch: it must divide by the {world.size} processes"
        )
    return batch_size // world.size


def loader(data: Dataset[Any], batch: int, workers: int, world: World, sampler: Sampler[int]) -> DataLoader[Any]:
    """A DataLoader with pinned memory on CUDA and persistent workers."""
    return DataLoader(
        data,
        batch_size=batch,
        sampler=sampler,
        num_workers=workers,
        pin_memory=world.device.type == "cuda",
        persistent_workers=workers > 0,
        drop_last=False,
    )


def train_sampler(data: Dataset[Any], world: World, seed: int) -> ResumableSampler:
    return ResumableSampler(data, num_replicas=world.size, rank=world.rank, shuffle=True, seed=seed)


def eval_sampler(data: Dataset[Any], world: World) -> Shard:
    return Shard(len(data), world.rank, world.size)  # type: ignore[arg-type]


def uses_conv(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


def pick_device_format(model: nn.Module, world: World) -> bool:
    """channels_last for conv nets on CUDA (tensor cores); on the CPU it is rarely faster."""
    return world.device.type == "cuda" and uses_conv(model)


def amp_setup(amp: bool, world: World) -> tuple[torch.dtype | None, torch.amp.GradScaler | None]:
    """(autocast dtype, gradient scaler): bf16 without a scaler where supported, else fp16 with one."""
    if not amp or world.device.type != "cuda":
        return None, None
    if torch.cuda.is_bf16_supported():
        return torch.bfloat16, None
    return torch.float16, torch.amp.GradScaler("cuda")
