"""Transforms driven by the spec: resize to its H×W, optional light augmentation, normalise.

The spec's declared (or ``--input``) shape decides the size; the data set's own statistics
(:func:`netdsl.training.datasets.statistics`, kept in the checkpoint so that ``evaluate``
normalises as training did) decide the normalisation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from PIL import Image
from torch.utils.data import Dataset


class FitSize:
    """Resize a PIL image to (H, W), bilinear with antialiasing, unless it has that size already."""

    def __init__(self, height: int, width: int) -> None:
        self.size = (height, width)

    def __call__(self, image: Image.Image) -> Image.Image:
        if (image.height, image.width) == self.size:
            return image
        out: Image.Image = TF.resize(image, list(self.size), antialias=True)
        return out

    def __repr__(self) -> str:
        return f"FitSize{self.size}"


def build(
    input_shape: tuple[int, ...], mean: tuple[float, ...], std: tuple[float, ...], augment: bool
) -> Callable[[Image.Image], torch.Tensor]:
    """PIL image → normalised C×H×W tensor; ``augment`` adds a padded random crop and a horizontal flip."""
    _, height, width = input_shape
    steps: list[Any] = [FitSize(height, width)]
    if augment:
        pad = max(1, min(height, width) // 8)  # 4 pixels at 32×32, as for CIFAR
        steps += [T.RandomCrop((height, width), padding=pad), T.RandomHorizontalFlip()]
    steps += [T.ToTensor(), T.Normalize(mean, std)]
    compose: Callable[[Image.Image], torch.Tensor] = T.Compose(steps)
    return compose


class Transformed(Dataset[tuple[torch.Tensor, int]]):
    """A data set of (PIL image, label) pairs with a transform applied to the image."""

    def __init__(self, base: Dataset[Any], transform: Callable[[Image.Image], torch.Tensor]) -> None:
        self.base = base
        self.transform = transform

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image, label = self.base[index]
        return self.transform(image), int(label)
