"""The torch side of netdsl-se, imported only when a net is compiled."""

from __future__ import annotations

import torch
from torch import nn


class SqueezeExcitation(nn.Module):
    """x · sigmoid(fc2(relu(fc1(avgpool(x))))) with 1×1 convs, as in Hu et al. 2018.

    Submodule names (``fc1``, ``fc2``) follow torchvision's ``SqueezeExcitation`` and
    the reference SENet code, so state_dict keys read ``…se.fc1.weight``.
    """

    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale: torch.Tensor = self.sigmoid(self.fc2(self.relu(self.fc1(self.avgpool(x)))))
        return x * scale
