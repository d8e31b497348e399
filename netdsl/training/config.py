"""The options of ``netdsl train``: one table of names, defaults and help, read from flags and TOML.

The same keys work on the command line (``--batch-size 128``) and in a ``--config`` file
(``batch_size = 128``); flags override the file, the file overrides the defaults, and
the resolved configuration is saved into the run directory as ``config.toml``, as
LightningCLI does. Net parameters go into a ``[set]`` table. No torch here.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from netdsl.training.errors import ConfigError

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("none", "step", "cosine", "onecycle")
DEVICES = ("auto", "cpu", "cuda")
INITS = ("xavier", "kaiming", "default")


def _opt(default: Any, help: str, choices: tuple[str, ...] = (), metavar: str = "", said: bool = False) -> Any:
    """A field with its help; ``said``: the help already tells the default."""
    return field(default=default, metadata={"help": help, "choices": choices, "metavar": metavar, "said": said})


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of one training run; ``None`` means "chosen at run time" (see :meth:`resolved`)."""

    spec: str = _opt("", "the .net spec to train")
    data: str = _opt(
        "",
        "mnist, fashion-mnist, cifar10, cifar100, imagefolder:PATH (train/ and val/ inside, or class folders "
        "to split) or signs:DIR (train_signs.h5, test_signs.h5); required, here or in --config",
        metavar="DATASET",
        said=True,
    )
    root: str = _opt("data", "directory of the torchvision data sets", metavar="DIR")
    download: bool = _opt(False, "let torchvision download a missing data set into --root (needs a network)")
    epochs: int = _opt(10, "total number of epochs (with --resume too: the run stops after epoch N)", metavar="N")
    batch_size: int = _opt(256, "global batch size (split across processes under torchrun)", metavar="B")
    lr: float | None = _opt(
        None, "learning rate; default 0.1 for sgd, 0.001 for adam and adamw", metavar="LR", said=True
    )
    optimizer: str = _opt("sgd", "optimizer", OPTIMIZERS)
    momentum: float = _opt(0.9, "SGD momentum (sgd only)", metavar="M")
    weight_decay: float = _opt(0.0, "weight decay (decoupled for adamw)", metavar="W")
    schedule: str = _opt(
        "none",
        "learning-rate schedule: none; step (×0.1 every third of the epochs); cosine (to 0 at the last epoch); "
        "onecycle (per batch, peak at --lr)",
        SCHEDULES,
    )
    init: str = _opt(
        "xavier",
        "initial weights: xavier (uniform, zero biases: d2l's train_ch6), kaiming (torchvision's ResNet "
        "convention) or default (PyTorch's per-layer defaults)",
        INITS,
    )
    label_smoothing: float = _opt(0.0, "label smoothing of the cross-entropy loss", metavar="S")
    val_split: float = _opt(
        0.1, "fraction of the training set held out for validation; 0 validates on the test set", metavar="F"
    )
    seed: int = _opt(0, "seed of the weights, the split, the shuffling and the augmentation", metavar="S")
    device: str = _opt("auto", "where to train: auto picks cuda when there is one", DEVICES)
    workers: int | None = _opt(
        None, "DataLoader worker processes per process; default min(4, CPUs)", metavar="W", said=True
    )
    out: str | None = _opt(
        None, "run directory; default runs/NET, runs/NET-2, … (a new one each run)", metavar="DIR", said=True
    )
    augment: bool = _opt(False, "light augmentation: random crop with padding and horizontal flip")
    amp: bool = _opt(False, "mixed precision on CUDA: bf16 where supported, else fp16 with a gradient scaler")
    input: str | None = _opt(None, "override the spec's input shape, e.g. 1x28x28", metavar="CxHxW")
    set: Mapping[str, Any] = field(default_factory=dict, metadata={"help": "net parameters", "said": True})
    quiet: bool = _opt(False, "no progress output (errors are still printed)")

    def resolved(self) -> TrainConfig:
        """The configuration with every run-time choice made (learning rate and workers)."""
        lr = self.lr if self.lr is not None else (0.1 if self.optimizer == "sgd" else 0.001)
        workers = self.workers if self.workers is not None else min(4, os.cpu_count() or 1)
        return dataclasses.replace(self, lr=lr, workers=workers)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (the ``set`` table as a dict, tuples as lists): for checkpoints and JSON."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["set"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.set.items()}
        return out


NAMES = tuple(f.name for f in fields(TrainConfig))
_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "str | None": (str,),
    "bool": (bool,),
    "int": (int,),
    "int | None": (int,),
    "float": (float, int),
    "float | None": (float, int),
}


def _check_type(name: str, value: Any, where: str) -> Any:
    annotation = str(TrainConfig.__dataclass_fields__[name].type)
    if name == "set":
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: `set` must be a table of net parameters, e.g. [set] num_classes = 10")
        return {str(k): tuple(v) if isinstance(v, list) else v for k, v in value.items()}
    allowed = _TYPES[annotation]
    if (isinstance(value, bool) and bool not in allowed) or not isinstance(value, allowed):
        kind = " or ".join(t.__name__ for t in allowed)
        raise ConfigError(f"{where}: `{name}` must be {kind}, got {value!r}")
    return float(value) if float in allowed and isinstance(value, int | float) else value


def from_mapping(values: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Check the keys and value types of a TOML table (hyphens or underscores)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = key.replace("-", "_")
        if name not in NAMES:
            close = difflib.get_close_matches(name, NAMES, n=1)
            hint = f" (did you mean `{close[0]}`?)" if close else ""
            raise ConfigError(f"{where}: unknown key `{key}`{hint}")
        out[name] = _check_type(name, value, where)
    return out


def read_toml(path: str | Path) -> dict[str, Any]:
    """The settings of a ``--config`` file."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"--config {path}: no such file") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"--config {path}: not valid TOML: {err}") from None
    return from_mapping(data, str(path))


def merge(*layers: Mapping[str, Any]) -> TrainConfig:
    """Later layers override earlier ones; ``set`` tables are merged key by key. Validated."""
    values: dict[str, Any] = {}
    params: dict[str, Any] = {}
    for layer in layers:
        params.update(layer.get("set", {}))
        values.update({k: v for k, v in layer.items() if k != "set"})
    config = TrainConfig(**values, set=params)
    validate(config)
    return config


def validate(c: TrainConfig) -> None:
    """Raise :class:`ConfigError` for a value out of range (the first one found)."""
    checks = [
        (c.epochs >= 1, "--epochs must be at least 1"),
        (c.batch_size >= 1, "--batch-size must be at least 1"),
        (c.lr is None or (math.isfinite(c.lr) and c.lr > 0), "--lr must be a positive number"),
        (c.optimizer in OPTIMIZERS, f"--optimizer must be one of {', '.join(OPTIMIZERS)}"),
        (c.schedule in SCHEDULES, f"--schedule must be one of {', '.join(SCHEDULES)}"),
        (c.device in DEVICES, f"--device must be one of {', '.join(DEVICES)}"),
        (c.init in INITS, f"--init must be one of {', '.join(INITS)}"),
        (c.momentum >= 0, "--momentum must not be negative"),
        (c.weight_decay >= 0, "--weight-decay must not be negative"),
        (0 <= c.label_smoothing < 1, "--label-smoothing must be in [0, 1)"),
        (0 <= c.val_split < 1, "--val-split must be in [0, 1)"),
        (c.workers is None or c.workers >= 0, "--workers must not be negative"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a valid TOML basic string


def to_toml(config: TrainConfig) -> str:
    """The configuration as a TOML file that ``--config`` reads back to the same values."""
    lines = ["# netdsl train: the resolved configuration of this run (netdsl train --config this-file)"]
    values = {name: getattr(config, name) for name in NAMES if name != "set"}
    lines += [f"{name} = {_toml_value(value)}" for name, value in values.items() if value is not None]
    lines += ["", "[set]"] + [f"{k} = {_toml_value(v)}" for k, v in config.set.items()]
    return "\n".join(lines) + "\n"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """One flag per option (default ``None``: "not given", so that the file and the defaults apply)."""
    for f in fields(TrainConfig):
        if f.name in ("spec", "set", "input"):  # positional, and spec_options' --set/--input
            continue
        flag = "--" + f.name.replace("_", "-")
        default = f.default
        shown = "" if f.metadata["said"] else f" (default {default})"
        help_text = f.metadata["help"] + shown
        annotation = str(f.type)
        if annotation == "bool":
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
            continue
        kind = int if annotation.startswith("int") else float if annotation.startswith("float") else str
        p.add_argument(
            flag,
            type=kind,
            default=None,
            choices=f.metadata["choices"] or None,
            metavar=f.metadata["metavar"] or None,
            help=help_text,
        )


def from_args(args: argparse.Namespace, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The options given on the command line, as a layer for :func:`merge`."""
    given = {name: getattr(args, name) for name in NAMES if getattr(args, name, None) is not None}
    given.pop("set", None)
    if overrides:
        given["set"] = dict(overrides)
    return given
