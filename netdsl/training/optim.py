"""Optimizer and learning-rate schedule from the configuration."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from netdsl.training.config import TrainConfig


def optimizer(params: Iterable[torch.nn.Parameter], c: TrainConfig) -> torch.optim.Optimizer:
    """sgd (with --momentum), adam or adamw, at --lr with --weight-decay."""
    lr = float(c.lr if c.lr is not None else 0.1)
    if c.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=c.momentum, weight_decay=c.weight_decay)
    if c.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=c.weight_decay)
    return torch.optim.AdamW(params, lr=lr, weight_decay=c.weight_decay)


def schedule(opt: torch.optim.Optimizer, c: TrainConfig, steps_per_epoch: int) -> tuple[Any, bool]:
    """(scheduler or None, whether it steps per batch rather than per epoch)."""
    sched = torch.optim.lr_scheduler
    if c.schedule == "step":
        return sched.StepLR(opt, step_size=max(1, c.epochs // 3), gamma=0.1), False
    if c.schedule == "cosine":
        return sched.CosineAnnealingLR(opt, T_max=c.epochs), False
    if c.schedule == "onecycle":
        lr = float(c.lr if c.lr is not None else 0.1)
        return sched.OneCycleLR(opt, max_lr=lr, total_steps=c.epochs * max(1, steps_per_epoch)), True
    return None, False


def stretch(scheduler: Any, c: TrainConfig, steps_per_epoch: int) -> None:
    """A resumed run with a new --epochs: the schedule's horizon follows it."""
    if isinstance(scheduler, torch.optim.lr_scheduler.CosineAnnealingLR):
        scheduler.T_max = c.epochs
    elif isinstance(scheduler, torch.optim.lr_scheduler.OneCycleLR):
        scheduler.total_steps = c.epochs * max(1, steps_per_epoch)
    elif isinstance(scheduler, torch.optim.lr_scheduler.StepLR):
        scheduler.step_size = max(1, c.epochs // 3)
