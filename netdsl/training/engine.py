"""One epoch of training, one pass of evaluation: the loop, mixed precision, bad losses, stop requests.

Loss, correct predictions and image counts are summed per process and reduced across ranks
at the end of the pass (:func:`netdsl.training.distributed.all_sum`), so every rank reports
the global figures. A loss that is NaN or infinite on any rank stops every rank before the
backward pass (:class:`NonFiniteLoss`); a Ctrl-C is honoured at the next step boundary
(:class:`StopRequested`), so a checkpoint never holds half an optimizer step.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from netdsl.training.distributed import World, all_sum, any_rank

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class NonFiniteLoss(Exception):
    """The loss of a training step was NaN or infinite."""

    def __init__(self, epoch: int, step: int, value: float) -> None:
        super().__init__(f"loss is {value} at epoch {epoch}, step {step}")
        self.epoch, self.step, self.value = epoch, step, value


class StopRequested(Exception):
    """A signal asked the run to stop; ``step`` steps of the epoch are done."""

    def __init__(self, step: int) -> None:
        super().__init__(f"stopped after step {step}")
        self.step = step


@dataclass
class Totals:
    """Sums over a pass (or the part of it done so far)."""

    loss: float = 0.0  # sum of per-image losses
    correct: int = 0
    correct5: int = 0
    count: int = 0
    seconds: float = 0.0

    @property
    def mean_loss(self) -> float:
        return self.loss / self.count if self.count else math.nan

    @property
    def accuracy(self) -> float:
        return self.correct / self.count if self.count else math.nan

    @property
    def images_per_s(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    def reduced(self, world: World) -> Totals:
        loss, correct, correct5, count = all_sum(world, [self.loss, self.correct, self.correct5, self.count])
        return Totals(loss, int(correct), int(correct5), int(count), self.seconds)


@dataclass
class Stepper:
    """What a training step needs besides the batch."""

    model: nn.Module
    optimizer: torch.optim.Optimizer | None
    loss_fn: LossFn
    world: World
    scheduler: Any = None  # stepped after every batch (onecycle), else None
    scaler: torch.amp.GradScaler | None = None
    amp_dtype: torch.dtype | None = None
    channels_last: bool = False
    stop: Callable[[], bool] = field(default=lambda: False)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.world.device.type, dtype=self.amp_dtype)

    def to_device(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        device = self.world.device
        fmt = torch.channels_last if self.channels_last and x.dim() == 4 else torch.contiguous_format
        return x.to(device, non_blocking=True, memory_format=fmt), y.to(device, non_blocking=True)


def make_loss(model: nn.Module, smoothing: float) -> LossFn:
    """Cross-entropy on logits; on probabilities when the net ends in a softmax (as Keras' nets do)."""
    last = list(model.modules())[-1]
    if not isinstance(last, nn.Softmax):
        return nn.CrossEntropyLoss(label_smoothing=smoothing)

    def on_probabilities(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logp = torch.log(p.float().clamp_min(1e-12))
        nll = F.nll_loss(logp, y)
        return (1 - smoothing) * nll - smoothing * logp.mean(dim=1).mean() if smoothing else nll

    return on_probabilities


def _count(out: torch.Tensor, y: torch.Tensor, totals: Totals, loss: float) -> None:
    n = y.numel()
    totals.loss += loss * n
    totals.count += n
    totals.correct += int((out.argmax(dim=1) == y).sum())


def train_epoch(
    s: Stepper, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], epoch: int, start_step: int,
    totals: Totals, on_step: Callable[[int, Totals], None],
) -> Totals:  # fmt: skip
    """Train over ``batches`` (the epoch's rest after ``start_step`` steps), adding to ``totals``."""
    assert s.optimizer is not None, "training needs an optimizer"
    s.model.train()
    step = start_step
    clock = time.perf_counter()
    for x_cpu, y_cpu in batches:
        x, y = s.to_device(x_cpu, y_cpu)
        with s.autocast():
            out = s.model(x)
            loss = s.loss_fn(out, y)
        value = float(loss.detach())
        bad, stop = any_rank(s.world, [not math.isfinite(value), s.stop()])
        if bad:
            raise NonFiniteLoss(epoch, step + 1, value)
        s.optimizer.zero_grad(set_to_none=True)
        if s.scaler is not None:
            s.scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
            s.scaler.step(s.optimizer)
            s.scaler.update()
        else:
            loss.backward()  # type: ignore[no-untyped-call]
            s.optimizer.step()
        if s.scheduler is not None:
            s.scheduler.step()
        step += 1
        _count(out.detach(), y, totals, value)
        now = time.perf_counter()
        totals.seconds += now - clock
        clock = now
        on_step(step, totals)
        if stop:
            raise StopRequested(step)
    return totals


def evaluate(
    s: Stepper, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], classes: int, on_step: Callable[[int], None]
) -> tuple[Totals, torch.Tensor]:
    """Loss, top-1 and top-5 counts and the confusion matrix (rows: true class), reduced over ranks."""
    s.model.eval()
    totals = Totals()
    confusion = torch.zeros(classes * classes, dtype=torch.int64, device=s.world.device)
    k = min(5, classes)
    clock = time.perf_counter()
    with torch.no_grad():
        for step, (x_cpu, y_cpu) in enumerate(batches, start=1):
            x, y = s.to_device(x_cpu, y_cpu)
            with s.autocast():
                out = s.model(x)
                loss = s.loss_fn(out, y)
            _count(out, y, totals, float(loss))
            totals.correct5 += int((out.topk(k, dim=1).indices == y[:, None]).any(dim=1).sum())
            confusion += torch.bincount(y * classes + out.argmax(dim=1), minlength=classes * classes)
            on_step(step)
    totals.seconds = time.perf_counter() - clock
    if s.world.distributed:
        torch.distributed.all_reduce(confusion)
    return totals.reduced(s.world), confusion.view(classes, classes).cpu()
