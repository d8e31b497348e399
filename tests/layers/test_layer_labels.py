"""Table and diagram labels of the new and extended kinds."""

from __future__ import annotations

from typing import Any

import pytest

from netdsl.registry import REGISTRY


@pytest.mark.parametrize(
    ("name", "params", "label"),
    [
        ("conv3d", {"out_channels": 64, "kernel_size": 3, "stride": 2}, "conv 3×3×3, 64, /2"),
        ("conv_transpose2d", {"out_channels": 64, "kernel_size": 2, "stride": 2}, "convT 2×2, 64, ×2"),
        ("conv_transpose1d", {"out_channels": 8, "kernel_size": 4, "groups": 2}, "convT 4, 8 g2"),
        ("maxpool1d", {"kernel_size": 3, "stride": 2}, "maxpool1d 3 /2"),
        ("avgpool3d", {"kernel_size": 2}, "avgpool3d 2×2×2 /2"),
        ("maxpool", {"kernel_size": 3, "stride": 2}, "maxpool 3×3 /2"),
        ("adaptive_avgpool3d", {"output_size": 1}, "adaptive_avgpool3d 1×1×1"),
        ("upsample", {}, "upsample ×2"),
        ("upsample", {"scale_factor": (2, 1.5)}, "upsample ×2×1.5"),
        ("upsample", {"size": (7, 9), "mode": "bilinear"}, "upsample to 7×9"),
        ("flatten", {}, "flatten"),
        ("flatten", {"start_dim": 2}, "flatten 2..-1"),
        ("permute", {"dims": (0, 2, 3, 1)}, "permute [0, 2, 3, 1]"),
        ("transpose", {"dim0": 1, "dim1": 2}, "transpose 1,2"),
        ("reshape", {"shape": (768, -1)}, "reshape 768×-1"),
        ("to_tokens", {}, "to_tokens"),
        ("to_map", {"height": 14, "width": 14}, "to_map 14×14"),
        ("layernorm2d", {}, "layernorm2d"),
        ("stochastic_depth", {"p": 0.1}, "stochastic_depth 0.1"),
        ("stochastic_depth", {"p": 0.1, "mode": "batch"}, "stochastic_depth 0.1 batch"),
        ("dropout2d", {"p": 0.2}, "dropout2d 0.2"),
        ("prelu", {}, "prelu"),
        ("prelu", {"num_parameters": 64}, "prelu ×64"),
    ],
)
def test_labels(name: str, params: dict[str, Any], label: str) -> None:
    kind = REGISTRY.get(name)
    assert kind is not None
    assert kind.describe(kind.schema(**params)) == label


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("conv3d", "conv"),
        ("conv_transpose2d", "conv"),
        ("maxpool3d", "pool"),
        ("batchnorm3d", "norm"),
        ("layernorm2d", "norm"),
        ("permute", "reshape"),
        ("reshape", "reshape"),
        ("to_tokens", "reshape"),
        ("to_map", "reshape"),
        ("transpose", "reshape"),
        ("dropout2d", "dropout"),
        ("stochastic_depth", "dropout"),
        ("prelu", "activation"),
    ],
)
def test_diagram_families(name: str, family: str) -> None:
    kind = REGISTRY.get(name)
    assert kind is not None and kind.family == family
