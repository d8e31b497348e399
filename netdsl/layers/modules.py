"""The few torch modules netdsl needs that ``torch.nn`` lacks (merges and global pools).

This is the only file of :mod:`netdsl.layers` that imports torch at the top; it is
imported only inside builders, so the dry run never loads torch.

The modules are plain, stateless ``nn.Module`` subclasses defined at module level
with annotated ``forward`` methods, so they pickle, deepcopy, ``torch.jit.script``
and ``torch.export`` like any built-in module. Merge modules take **one argument,
a list of tensors** (``forward(xs: list[Tensor])``), in the order the paths were
written in the spec.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Add(nn.Module):
    """Element-wise sum of all inputs (equal shapes): ``forward(xs: list[Tensor])``."""

    def forward(self, xs: list[Tensor]) -> Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class AddInplace(nn.Module):
    """:class:`Add` that accumulates into its first input (``out += identity``, as torchvision's ResNet).

    The compiler uses it only where nothing else reads the first input and the layer
    that produced it does not need it for its backward pass.
    """

    def forward(self, xs: list[Tensor]) -> Tensor:
        out = xs[0]
        for x in xs[1:]:
            out += x
        return out


class Mul(nn.Module):
    """Element-wise product of all inputs with broadcasting, e.g. (N, C, H, W) · (N, C, 1, 1).

    ``forward(xs: list[Tensor])``; squeeze-and-excitation gates use it.
    """

    def forward(self, xs: list[Tensor]) -> Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


class Concat(nn.Module):
    """Concatenation of all inputs along ``dim`` (PyTorch convention: 0 is the batch, 1 channels).

    ``forward(xs: list[Tensor])``.
    """

    def __init__(self, dim: int = 1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, xs: list[Tensor]) -> Tensor:
        return torch.cat(xs, dim=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class GlobalAvgPool(nn.Module):
    """Mean over every spatial position: (N, C, H, W) or (N, C, L) → (N, C)."""

    def forward(self, x: Tensor) -> Tensor:
        # flatten(2) merges all spatial axes, so one module serves 1-D and 2-D inputs.
        return x.flatten(2).mean(dim=-1)


class GlobalMaxPool(nn.Module):
    """Max over every spatial position: (N, C, H, W) or (N, C, L) → (N, C)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(2).amax(dim=-1)
