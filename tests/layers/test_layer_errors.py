"""The new kinds' mistakes: shape errors and parameter errors that name the values."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from netdsl.registry import REGISTRY, LayerKind, Shape, ShapeError


def _kind(name: str) -> LayerKind:
    kind = REGISTRY.get(name)
    assert kind is not None
    return kind


@pytest.mark.parametrize(
    ("name", "params", "shape", "message"),
    [
        ("permute", {"dims": (0, 2, 1)}, (4, 5, 6), "permute needs 4 dims for a (4, 5, 6) input (the batch is dim 0)"),
        ("permute", {"dims": (0, 1, 1, 2)}, (4, 5, 6), "permute dims [0, 1, 1, 2] are not a permutation of 0..3"),
        ("permute", {"dims": (1, 0, 2, 3)}, (4, 5, 6), "permute dims [1, 0, 2, 3] move the batch dimension"),
        ("transpose", {"dim0": 0, "dim1": 1}, (4, 5), "transpose dim=0 is the batch dimension"),
        ("transpose", {"dim0": 1, "dim1": 3}, (4, 5), "transpose dim=3 is out of range for a (4, 5) input"),
        (
            "reshape",
            {"shape": (3, 5)},
            (4, 5, 5),
            "reshape to (3, 5) needs 15 values per sample, the input (4, 5, 5) has 100",
        ),
        (
            "reshape",
            {"shape": (3, -1)},
            (4, 5, 5),
            "the input (4, 5, 5) has 100 values per sample, not a multiple of 3",
        ),
        ("flatten", {"start_dim": 3, "end_dim": 2}, (4, 5, 6), "flatten start_dim=3 comes after end_dim=2"),
        ("flatten", {"start_dim": 0}, (4, 5, 6), "flatten dim=0 is the batch dimension"),
        ("to_map", {"height": 4, "width": 4}, (20, 8), "to_map(4, 4) needs 16 tokens, the input (20, 8) has 20"),
        ("to_tokens", {}, (8,), "to_tokens expects a (C, L), (C, H, W) or (C, D, H, W) input, got (8,)"),
        (
            "conv_transpose2d",
            {"out_channels": 4, "kernel_size": 1, "padding": 2},
            (3, 3, 3),
            "conv_transpose2d output height would be -1",
        ),
        ("conv_transpose2d", {"out_channels": 4, "kernel_size": 2, "groups": 2}, (3, 3, 3), "groups=2 must divide"),
        ("conv_transpose2d", {"out_channels": 4, "kernel_size": 2}, (3, 3, 3, 3), "(rank 4, not 3)"),
        ("prelu", {"num_parameters": 3}, (4, 5, 5), "prelu num_parameters=3 must be 1 or the 4 channels"),
        ("upsample", {"scale_factor": (2, 2)}, (4, 5, 5, 5), "upsample on a (C, D, H, W) input takes 3 scale factors"),
        ("upsample", {"size": (2, 2)}, (4, 5), "upsample on a (C, L) input takes size as an int, got (2, 2)"),
        ("upsample", {"mode": "trilinear"}, (4, 5, 5), "upsample mode='trilinear' needs a (C, D, H, W) input"),
        ("avgpool3d", {"kernel_size": 3}, (4, 2, 5, 5), "avgpool3d input depth 2 is smaller than the kernel 3"),
        ("layernorm2d", {}, (4, 5), "layernorm2d expects a (C, H, W) input, got (4, 5) (rank 2, not 3)"),
        ("dropout2d", {}, (4, 5), "dropout2d expects a (C, H, W) input, got (4, 5)"),
        ("batchnorm1d", {}, (4, 5, 5), "batchnorm1d expects a (F,) or (C, L) input, got (4, 5, 5)"),
    ],
)
def test_shape_errors(name: str, params: dict[str, Any], shape: Shape, message: str) -> None:
    kind = _kind(name)
    with pytest.raises(ShapeError) as info:
        kind.shape(kind.schema(**params), [shape])
    assert message in info.value.message


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("upsample", {"scale_factor": 2, "size": 4}, "give scale_factor or size, not both"),
        ("upsample", {"align_corners": True}, "align_corners needs an interpolating mode"),
        (
            "conv_transpose2d",
            {"out_channels": 4, "kernel_size": 3, "stride": 2, "output_padding": 2},
            "output_padding=2 must be smaller than stride=2",
        ),
        ("conv_transpose2d", {"out_channels": 4, "kernel_size": (3, 3, 3)}, "kernel_size takes an int or 2 values"),
        ("conv3d", {"out_channels": 4, "kernel_size": (3, 3)}, "kernel_size"),
        ("reshape", {"shape": (2, -1, -1)}, "shape may infer only one size (-1)"),
        ("reshape", {"shape": (2, 0)}, "shape sizes must be ≥ 1 or -1"),
        ("reshape", {"shape": (1, 2, 3, 4, 5)}, "shape must have 1 to 4 sizes"),
        ("stochastic_depth", {"p": 1.5}, "p must be in [0, 1]"),
        ("stochastic_depth", {"p": 0.1, "mode": "sample"}, "mode"),
        ("prelu", {"num_parameters": 0}, "num_parameters must be ≥ 1"),
        ("to_map", {"height": 0, "width": 4}, "height must be ≥ 1"),
        ("gelu", {"approximate": "fast"}, "approximate"),
    ],
)
def test_parameter_errors(name: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        _kind(name).schema(**params)
    assert message in str(info.value)
