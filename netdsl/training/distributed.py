"""One process or many: torchrun's environment, the process group, and reductions across ranks.

Under ``torchrun`` (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``PORT`` set), the
process group is initialised from the environment: NCCL on CUDA, gloo on CPU. Without
torchrun, a :class:`World` of one process needs no group and every reduction is the identity.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from netdsl.training.errors import TrainingError


@dataclass(frozen=True)
class World:
    """This process's place among the processes of the run."""

    rank: int
    local_rank: int
    size: int
    device: torch.device

    @property
    def distributed(self) -> bool:
        return dist.is_available() and dist.is_initialized()

    @property
    def main(self) -> bool:
        """Rank 0: the one process that prints, writes metrics and saves checkpoints."""
        return self.rank == 0


def _device(choice: str, local_rank: int) -> torch.device:
    if choice == "cuda" and not torch.cuda.is_available():
        raise TrainingError("--device cuda: no CUDA device is available (try --device cpu)")
    if choice == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", local_rank)


def setup(choice: str) -> World:
    """The :class:`World` of this process; joins the process group when launched by torchrun."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return World(0, 0, 1, _device(choice, 0))
    rank, size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = _device(choice, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", init_method="env://")
    return World(rank, local_rank, size, device)


def teardown(world: World) -> None:
    """Leave the process group (every rank, at the end of the run)."""
    if world.distributed:
        dist.destroy_process_group()


def all_sum(world: World, values: list[float]) -> list[float]:
    """The element-wise sum of ``values`` over all ranks (float64, so counts stay exact)."""
    if not world.distributed:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=world.device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return [float(v) for v in tensor.tolist()]


def any_rank(world: World, flags: list[bool]) -> list[bool]:
    """For each flag: is it set on any rank? (One small all-reduce; the identity on one process.)"""
    if not world.distributed:
        return flags
    tensor = torch.tensor([float(f) for f in flags], device=world.device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return [v > 0 for v in tensor.tolist()]


def broadcast(world: World, value: Any) -> Any:
    """Rank 0's ``value`` on every rank (a picklable object)."""
    if not world.distributed:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()
