"""The few torch modules netdsl needs that ``torch.nn`` lacks (merges, global pools, tensor plumbing).

This is the only file of :mod:`netdsl.layers` that imports torch at the top; it is
imported only inside builders, so the dry run never loads torch.

The modules are plain, stateless ``nn.Module`` subclasses defined at module level
with annotated ``forward`` methods, so they pickle, deepcopy, ``torch.jit.script``
and ``torch.export`` like any built-in module. Merge modules take **one argument,
a list of tensors** (``forward(xs: list[Tensor])``), in the order the paths were
written in the spec. Each keeps its constructor arguments as attributes of the same
name and uses only ``torch``, ``nn`` and ``Tensor``, so ``netdsl build --format python``
can copy its source into the standalone file.
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


class Permute(nn.Module):
    """``x.permute(dims)``; ``dims`` count the batch as 0 and keep it first (torchvision's ``Permute``)."""

    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.dims = list(dims)

    def forward(self, x: Tensor) -> Tensor:
        return torch.permute(x, self.dims)

    def extra_repr(self) -> str:
        return f"dims={self.dims}"


class Transpose(nn.Module):
    """``x.transpose(dim0, dim1)`` (dims count the batch as 0)."""

    def __init__(self, dim0: int, dim1: int) -> None:
        super().__init__()
        self.dim0 = dim0
        self.dim1 = dim1

    def forward(self, x: Tensor) -> Tensor:
        return x.transpose(self.dim0, self.dim1)

    def extra_repr(self) -> str:
        return f"dim0={self.dim0}, dim1={self.dim1}"


class Reshape(nn.Module):
    """``x.reshape(batch, *shape)``: every sample to ``shape`` (without the batch; one entry may be -1)."""

    def __init__(self, shape: list[int]) -> None:
        super().__init__()
        self.shape = list(shape)

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape([x.shape[0]] + self.shape)  # noqa: RUF005 - TorchScript has no starred lists

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


class ToTokens(nn.Module):
    """A map to tokens, (N, C, *spatial) → (N, L, C) with L the product of the spatial sizes (as ViT)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(2).transpose(1, 2)


class ToMap(nn.Module):
    """Tokens back to a map, (N, height·width, C) → (N, C, height, width)."""

    def __init__(self, height: int, width: int) -> None:
        super().__init__()
        self.height = height
        self.width = width

    def forward(self, x: Tensor) -> Tensor:
        return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], self.height, self.width)

    def extra_repr(self) -> str:
        return f"height={self.height}, width={self.width}"


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an (N, C, H, W) map, as torchvision's ConvNeXt ``LayerNorm2d``.

    Keys ``weight`` and ``bias`` of shape (C,), like ``nn.LayerNorm(C)``.
    """

    def forward(self, x: Tensor) -> Tensor:
        x = x.permute(0, 2, 3, 1)
        x = torch.nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class StochasticDepth(nn.Module):
    """Drop whole samples ("row") or the whole batch ("batch") of a residual branch with probability ``p``.

    The same computation as ``torchvision.ops.StochasticDepth`` (kept survivors are scaled by
    1 / (1 − p)); the identity in eval mode.
    """

    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival_rate = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival_rate)
        if survival_rate > 0.0:
            noise.div_(survival_rate)
        return x * noise

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"
