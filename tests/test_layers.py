"""The built-in layer kinds against real PyTorch: shapes, costs, errors, windows and modules."""

from __future__ import annotations

import copy
import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from pydantic import ValidationError
from torch.utils.flop_counter import FlopCounterMode

from netdsl.layers.arith import dropped, explain, same_padding, window_out
from netdsl.registry import REGISTRY, LayerKind, Shape, ShapeError, Window

ROOT = Path(__file__).resolve().parents[1]

# (kind, params, input shapes). Every built-in kind needs at least one case (checked below).
CASES: list[tuple[str, dict[str, Any], list[Shape]]] = [
    # convolutions
    ("conv2d", {"out_channels": 8, "kernel_size": 7, "stride": 2, "padding": 3}, [(3, 32, 32)]),
    ("conv2d", {"out_channels": 8, "kernel_size": 3, "padding": "same", "dilation": 2}, [(4, 9, 9)]),
    ("conv2d", {"out_channels": 8, "kernel_size": 4, "padding": "same"}, [(4, 9, 10)]),
    (
        "conv2d",
        {"out_channels": 6, "kernel_size": (3, 5), "stride": (2, 1), "padding": "valid"},
        [(4, 11, 12)],
    ),
    ("conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1, "groups": 4, "bias": False}, [(8, 8, 8)]),
    ("conv2d", {"out_channels": 8, "kernel_size": 3, "stride": 2, "padding": 2, "dilation": 2}, [(8, 10, 9)]),
    ("conv2d", {"out_channels": 8, "kernel_size": 3, "groups": 8, "padding": (1, 0)}, [(8, 6, 6)]),
    ("conv1d", {"out_channels": 16, "kernel_size": 3, "stride": 1, "padding": 1}, [(4, 20)]),
    ("conv1d", {"out_channels": 6, "kernel_size": 4, "padding": "same", "dilation": 3}, [(4, 20)]),
    (
        "conv1d",
        {"out_channels": 6, "kernel_size": (5,), "stride": (2,), "groups": 2, "bias": False},
        [(4, 21)],
    ),
    ("conv3d", {"out_channels": 6, "kernel_size": 3, "stride": 2, "padding": 1}, [(4, 7, 8, 9)]),
    ("conv3d", {"out_channels": 8, "kernel_size": (1, 3, 3), "groups": 2, "bias": False}, [(4, 5, 6, 6)]),
    ("conv_transpose2d", {"out_channels": 8, "kernel_size": 2, "stride": 2}, [(4, 5, 6)]),
    (
        "conv_transpose2d",
        {"out_channels": 6, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1, "groups": 2},
        [(4, 5, 5)],
    ),
    ("conv_transpose2d", {"out_channels": 4, "kernel_size": (3, 1), "dilation": 2, "bias": False}, [(4, 5, 5)]),
    ("conv_transpose1d", {"out_channels": 4, "kernel_size": 4, "stride": 2, "padding": 1}, [(3, 10)]),
    ("conv_transpose3d", {"out_channels": 4, "kernel_size": 2, "stride": 2}, [(3, 3, 4, 5)]),
    # linear and dropout
    ("linear", {"out_features": 10}, [(32,)]),
    ("linear", {"out_features": 7, "bias": False}, [(12,)]),
    ("linear", {"out_features": 9}, [(5, 12)]),
    ("linear", {"out_features": 6}, [(3, 4, 12)]),
    ("dropout1d", {"p": 0.2}, [(4, 10)]),
    ("dropout2d", {}, [(4, 5, 5)]),
    ("dropout3d", {"p": 0.1}, [(4, 3, 5, 5)]),
    ("stochastic_depth", {"p": 0.2}, [(4, 5, 5)]),
    ("stochastic_depth", {"p": 0.5, "mode": "batch"}, [(7, 12)]),
    ("dropout", {"p": 0.3}, [(10,)]),
    ("dropout", {}, [(4, 5, 5)]),
    # normalisation
    ("batchnorm", {}, [(10,)]),
    ("batchnorm", {"momentum": None, "affine": False}, [(6, 12)]),
    ("batchnorm", {"eps": 1e-3, "momentum": 0.01}, [(8, 5, 5)]),
    ("batchnorm", {}, [(4, 3, 5, 5)]),
    ("batchnorm1d", {}, [(6, 12)]),
    ("batchnorm2d", {"affine": False}, [(8, 5, 5)]),
    ("batchnorm3d", {}, [(4, 3, 5, 5)]),
    ("layernorm", {}, [(6, 10)]),
    ("layernorm", {}, [(4, 5, 6, 7)]),
    ("layernorm2d", {}, [(8, 5, 6)]),
    ("layernorm2d", {"eps": 1e-6, "elementwise_affine": False}, [(8, 5, 6)]),
    ("layernorm", {}, [(8,)]),
    ("layernorm", {"dims": 3}, [(4, 5, 5)]),
    ("layernorm", {"dims": 2, "elementwise_affine": False}, [(4, 10)]),
    ("groupnorm", {"num_groups": 4}, [(8, 5, 5)]),
    ("groupnorm", {"num_groups": 2, "affine": False}, [(6, 10)]),
    ("lrn", {"size": 5}, [(8, 6, 6)]),
    ("lrn", {"size": 3, "alpha": 2e-4, "beta": 0.5, "k": 2.0}, [(8, 10)]),
    # activations
    ("relu", {}, [(4, 5, 5)]),
    ("relu", {"inplace": True}, [(10,)]),
    ("relu6", {}, [(4, 10)]),
    ("leaky_relu", {"negative_slope": 0.2}, [(4, 5, 5)]),
    ("elu", {"alpha": 0.5}, [(4, 5, 5)]),
    ("gelu", {"approximate": "tanh"}, [(4, 5, 5)]),
    ("gelu", {}, [(6, 10)]),
    ("prelu", {}, [(4, 5, 5)]),
    ("prelu", {"num_parameters": 4, "init": 0.1}, [(4, 5, 5)]),
    ("prelu", {"num_parameters": 10}, [(10,)]),
    ("silu", {}, [(4, 5, 5)]),
    ("sigmoid", {}, [(10,)]),
    ("tanh", {}, [(10,)]),
    ("hardswish", {}, [(4, 5, 5)]),
    ("hardsigmoid", {}, [(4, 5, 5)]),
    ("softmax", {}, [(10,)]),
    ("softmax", {"dim": -1}, [(4, 5, 6)]),
    # pools
    ("maxpool", {"kernel_size": 3, "stride": 2, "padding": 1}, [(4, 32, 32)]),
    ("maxpool", {"kernel_size": 2}, [(4, 9, 9)]),
    ("maxpool", {"kernel_size": 3, "stride": 2, "ceil_mode": True}, [(4, 8, 8)]),
    ("maxpool", {"kernel_size": 3, "stride": 2, "ceil_mode": True}, [(4, 2, 2)]),
    ("maxpool", {"kernel_size": (3, 2), "stride": (2, 1), "padding": (1, 0)}, [(4, 9, 9)]),
    ("maxpool", {"kernel_size": 3, "stride": 2, "padding": 1}, [(4, 20)]),
    ("maxpool", {"kernel_size": (2,), "ceil_mode": True}, [(4, 11)]),
    ("avgpool", {"kernel_size": 2}, [(4, 8, 8)]),
    ("avgpool", {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False}, [(4, 9, 9)]),
    ("avgpool", {"kernel_size": 2, "stride": 2, "ceil_mode": True}, [(4, 7, 7)]),
    ("avgpool", {"kernel_size": 4, "stride": 3}, [(4, 20)]),
    ("adaptive_avgpool", {"output_size": 1}, [(4, 7, 7)]),
    ("adaptive_avgpool", {"output_size": (2, 3)}, [(4, 9, 9)]),
    ("adaptive_avgpool", {"output_size": 4}, [(4, 20)]),
    ("adaptive_maxpool", {"output_size": 2}, [(4, 7, 7)]),
    ("adaptive_maxpool", {"output_size": (5,)}, [(4, 20)]),
    ("global_avgpool", {}, [(4, 7, 7)]),
    ("global_avgpool", {}, [(4, 9)]),
    ("global_maxpool", {}, [(4, 7, 7)]),
    ("global_maxpool", {}, [(4, 9)]),
    ("global_avgpool", {}, [(4, 3, 5, 5)]),
    ("maxpool", {"kernel_size": 2}, [(4, 6, 6, 6)]),
    ("avgpool", {"kernel_size": (1, 2, 2)}, [(4, 3, 6, 6)]),
    ("maxpool1d", {"kernel_size": 3, "stride": 2, "padding": 1}, [(4, 20)]),
    ("maxpool2d", {"kernel_size": 3, "stride": 2, "padding": 1}, [(4, 9, 9)]),
    ("maxpool3d", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}, [(4, 7, 8, 9)]),
    ("avgpool1d", {"kernel_size": 2}, [(4, 9)]),
    ("avgpool2d", {"kernel_size": 2, "count_include_pad": False, "padding": 1}, [(4, 9, 9)]),
    ("avgpool3d", {"kernel_size": (2, 3, 3), "stride": 2}, [(4, 6, 9, 9)]),
    ("adaptive_avgpool1d", {"output_size": 3}, [(4, 10)]),
    ("adaptive_avgpool2d", {"output_size": (2, 3)}, [(4, 9, 9)]),
    ("adaptive_avgpool3d", {"output_size": 1}, [(4, 3, 5, 5)]),
    ("adaptive_maxpool1d", {"output_size": 2}, [(4, 10)]),
    ("adaptive_maxpool2d", {"output_size": 2}, [(4, 9, 9)]),
    ("adaptive_maxpool3d", {"output_size": (1, 2, 2)}, [(4, 3, 5, 5)]),
    # reshapes
    ("flatten", {}, [(4, 5, 5)]),
    ("flatten", {}, [(10,)]),
    ("flatten", {"start_dim": 2}, [(4, 5, 6)]),
    ("flatten", {"start_dim": 1, "end_dim": 2}, [(4, 5, 6)]),
    ("flatten", {"start_dim": -2, "end_dim": -1}, [(3, 4, 5, 6)]),
    ("permute", {"dims": (0, 2, 3, 1)}, [(4, 5, 6)]),
    ("permute", {"dims": (0, -1, 1)}, [(4, 7)]),
    ("transpose", {"dim0": 1, "dim1": 2}, [(4, 7)]),
    ("transpose", {"dim0": -1, "dim1": 1}, [(4, 5, 6)]),
    ("reshape", {"shape": (4, -1)}, [(4, 5, 6)]),
    ("reshape", {"shape": -1}, [(4, 5, 6)]),
    ("reshape", {"shape": (2, 3, 2, 5)}, [(60,)]),
    ("to_tokens", {}, [(8, 4, 5)]),
    ("to_tokens", {}, [(8, 10)]),
    ("to_tokens", {}, [(8, 2, 3, 4)]),
    ("to_map", {"height": 4, "width": 5}, [(20, 8)]),
    ("identity", {}, [(4, 5, 5)]),
    ("zeropad", {"padding": 1}, [(4, 5, 5)]),
    ("zeropad", {"padding": (1, 2)}, [(4, 5, 5)]),
    ("zeropad", {"padding": (1, 2, 3, 4)}, [(4, 5, 5)]),
    ("zeropad", {"padding": (2, 3)}, [(4, 10)]),
    ("zeropad", {"padding": 2}, [(4, 10)]),
    ("upsample", {}, [(4, 5, 5)]),
    ("upsample", {"scale_factor": 1.5, "mode": "bilinear"}, [(4, 5, 5)]),
    ("upsample", {"scale_factor": 3, "mode": "linear"}, [(4, 10)]),
    ("upsample", {"scale_factor": 2, "mode": "nearest-exact"}, [(4, 5)]),
    ("upsample", {"mode": "bicubic"}, [(4, 5, 6)]),
    ("upsample", {"size": (7, 9), "mode": "bilinear", "align_corners": True}, [(4, 5, 6)]),
    ("upsample", {"size": 11}, [(4, 5)]),
    ("upsample", {"scale_factor": (2, 1.5), "mode": "bilinear", "align_corners": False}, [(4, 5, 6)]),
    ("upsample", {"mode": "trilinear"}, [(4, 3, 5, 6)]),
    ("upsample", {"scale_factor": 2}, [(4, 3, 5, 6)]),
    # merges
    ("add", {}, [(4, 5, 5), (4, 5, 5)]),
    ("add", {}, [(10,), (10,), (10,)]),
    ("mul", {}, [(4, 5, 5), (4, 1, 1)]),
    ("mul", {}, [(4, 1, 1), (4, 5, 5), (1, 5, 5)]),
    ("concat", {}, [(4, 5, 5), (6, 5, 5)]),
    ("concat", {"dim": 2}, [(4, 5, 5), (4, 3, 5)]),
    ("concat", {"dim": -1}, [(4, 10), (4, 2), (4, 1)]),
    ("concat", {}, [(10,), (3,)]),
]


def _case_id(case: tuple[str, dict[str, Any], list[Shape]]) -> str:
    name, params, shapes = case
    args = ",".join(f"{k}={v}" for k, v in params.items())
    return f"{name}({args})@{'+'.join(str(s) for s in shapes)}".replace(" ", "")


def _kind(name: str) -> LayerKind:
    kind = REGISTRY.get(name)
    assert kind is not None, f"{name} is not registered"
    return kind


def _run(kind: LayerKind, module: torch.nn.Module, xs: list[torch.Tensor]) -> torch.Tensor:
    out: torch.Tensor = module(xs) if kind.is_merge else module(xs[0])
    return out


def _builtin_names() -> list[str]:
    # Plugins registered by other tests in the same session are not ours to cover.
    return [k.name for k in REGISTRY if k.shape.__module__.startswith("netdsl.layers.")]


def test_every_builtin_kind_has_a_case() -> None:
    covered = {name for name, _, _ in CASES}
    missing = sorted(set(_builtin_names()) - covered)
    assert not missing, f"add test cases for {missing}"


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_kind_matches_pytorch(case: tuple[str, dict[str, Any], list[Shape]]) -> None:
    name, raw, in_shapes = case
    kind = _kind(name)
    params = kind.schema(**raw)
    out_shape = kind.shape(params, in_shapes)
    module = kind.build(params, in_shapes, out_shape)

    torch.manual_seed(0)
    xs = [torch.randn(2, *s) for s in in_shapes]
    assert tuple(_run(kind, module, xs).shape) == (2, *out_shape)

    cost = kind.cost(params, in_shapes, out_shape)
    assert cost.params == sum(p.numel() for p in module.parameters())
    assert cost.buffers == sum(b.numel() for b in module.buffers())
    module.eval()  # batch-1 batchnorm on (F,) refuses to run in training mode
    with FlopCounterMode(display=False) as counter:
        _run(kind, module, [x[:1] for x in xs])
    assert cost.macs == counter.get_total_flops() // 2

    # Sliding-window kinds: the shape rule and the declared windows must agree.
    if kind.windows is not None:
        windows = kind.windows(params, in_shapes[0])
        assert len(windows) == len(in_shapes[0]) - 1
        assert out_shape[1:] == tuple(window_out(s, w) for s, w in zip(in_shapes[0][1:], windows, strict=True))

    assert isinstance(kind.describe(params), str)
    clone = pickle.loads(pickle.dumps(module))
    assert type(clone) is type(module)
    assert type(copy.deepcopy(module)) is type(module)


@pytest.mark.parametrize("name", REGISTRY.names())
def test_kind_is_documented(name: str) -> None:
    kind = _kind(name)
    assert kind.doc.strip()
    assert kind.family in (
        "conv",
        "norm",
        "activation",
        "pool",
        "linear",
        "merge",
        "dropout",
        "reshape",
        "other",
    )
    for field_name, info in kind.schema.model_fields.items():
        assert info.description, f"{name}.{field_name} has no description"
    for target in [*kind.positional, *kind.aliases.values()]:
        assert target in kind.schema.model_fields
    assert kind.schema.model_config.get("frozen") and kind.schema.model_config.get("extra") == "forbid"


# --- labels ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params", "label"),
    [
        ("conv2d", {"out_channels": 64, "kernel_size": 3, "stride": 2}, "conv 3×3, 64, /2"),
        ("conv2d", {"out_channels": 64, "kernel_size": 3}, "conv 3×3, 64"),
        ("conv2d", {"out_channels": 128, "kernel_size": 3, "groups": 32}, "conv 3×3, 128 g32"),
        ("conv2d", {"out_channels": 64, "kernel_size": 3, "dilation": 2}, "conv 3×3, 64 d2"),
        ("conv2d", {"out_channels": 64, "kernel_size": (1, 7)}, "conv 1×7, 64"),
        ("conv1d", {"out_channels": 32, "kernel_size": 3}, "conv 3, 32"),
        ("maxpool", {"kernel_size": 3, "stride": 2}, "maxpool 3×3 /2"),
        ("avgpool", {"kernel_size": 2}, "avgpool 2×2 /2"),
        ("linear", {"out_features": 4096}, "linear 4096"),
        ("dropout", {"p": 0.5}, "dropout 0.5"),
        ("batchnorm", {}, "batchnorm"),
        ("concat", {}, "concat"),
        ("add", {}, "add"),
        ("adaptive_avgpool", {"output_size": 1}, "adaptive_avgpool 1×1"),
        ("relu", {}, "relu"),
    ],
)
def test_labels(name: str, params: dict[str, Any], label: str) -> None:
    kind = _kind(name)
    assert kind.describe(kind.schema(**params)) == label


# --- errors ------------------------------------------------------------------------------------


def _shape_error(name: str, params: dict[str, Any], shapes: list[Shape]) -> ShapeError:
    kind = _kind(name)
    with pytest.raises(ShapeError) as info:
        kind.shape(kind.schema(**params), shapes)
    return info.value


@pytest.mark.parametrize(
    ("name", "params", "shapes", "message"),
    [
        (
            "conv2d",
            {"out_channels": 8, "kernel_size": 3},
            [(4096,)],
            "conv2d expects a (C, H, W) input, got (4096,)",
        ),
        (
            "conv2d",
            {"out_channels": 63, "kernel_size": 3, "groups": 3},
            [(64, 8, 8)],
            "groups=3 must divide input channels 64",
        ),
        (
            "conv2d",
            {"out_channels": 64, "kernel_size": 3, "groups": 3},
            [(63, 8, 8)],
            "groups=3 must divide output channels 64",
        ),
        (
            "conv2d",
            {"out_channels": 8, "kernel_size": 5},
            [(3, 3, 3)],
            "output height would be 0: input height 3 is smaller than the 5×5 window (padding 0)",
        ),
        (
            "conv2d",
            {"out_channels": 8, "kernel_size": (1, 5), "padding": (0, 1)},
            [(3, 3, 2)],
            "output width would be 0: input width 2 is smaller than the 1×5 window (padding 1)",
        ),
        (
            "conv1d",
            {"out_channels": 8, "kernel_size": 3},
            [(3, 8, 8)],
            "conv1d expects a (C, L) input, got (3, 8, 8)",
        ),
        (
            "conv3d",
            {"out_channels": 8, "kernel_size": 3},
            [(64, 56, 56)],
            "conv3d expects a (C, D, H, W) input, got (64, 56, 56) (rank 3, not 4)",
        ),
        (
            "add",
            {},
            [(64, 56, 56), (256, 56, 56)],
            "add needs equal shapes, got (64, 56, 56) and (256, 56, 56)",
        ),
        ("add", {}, [(4,), (4,), (5,)], "add needs equal shapes, got (4,), (4,) and (5,)"),
        (
            "concat",
            {},
            [(64, 28, 28), (32, 27, 27)],
            "concat along channels needs equal spatial sizes, got (64, 28, 28) and (32, 27, 27)",
        ),
        (
            "concat",
            {},
            [(64, 28, 28), (64,)],
            "concat needs inputs of the same rank, got (64, 28, 28) and (64,)",
        ),
        ("concat", {"dim": 0}, [(4, 5), (4, 5)], "concat dim=0 is the batch dimension"),
        ("mul", {}, [(64, 7, 7), (32, 1, 1)], "got (64, 7, 7) and (32, 1, 1)"),
        ("mul", {}, [(64, 7, 7), (64,)], "mul needs inputs of the same rank"),
        ("groupnorm", {"num_groups": 32}, [(48, 4, 4)], "num_groups=32 must divide channels 48"),
        ("softmax", {"dim": 4}, [(4, 5, 5)], "softmax dim=4 is out of range for a (4, 5, 5) input"),
        ("softmax", {"dim": 0}, [(10,)], "softmax dim=0 is the batch dimension"),
        (
            "maxpool",
            {"kernel_size": (3, 3)},
            [(4, 20)],
            "maxpool on a (C, L) input takes kernel_size as an int, got (3, 3)",
        ),
        (
            "maxpool",
            {"kernel_size": 3},
            [(4,)],
            "maxpool expects a (C, L), (C, H, W) or (C, D, H, W) input, got (4,) (rank 1, not 2, 3 or 4)",
        ),
        ("maxpool", {"kernel_size": 3, "stride": 2}, [(4, 2, 2)], "output height would be 0: input height 2"),
        ("layernorm", {"dims": 4}, [(4, 5, 5)], "layernorm dims=4 exceeds the 3 dimensions"),
        (
            "upsample",
            {"mode": "bilinear"},
            [(4, 10)],
            "upsample mode='bilinear' needs a (C, H, W) input, got (4, 10)",
        ),
        (
            "zeropad",
            {"padding": (1, 2, 3, 4)},
            [(4, 10)],
            "takes padding as an int or (left, right), got (1, 2, 3, 4)",
        ),
        ("lrn", {"size": 3}, [(10,)], "lrn expects a (C, L) or (C, H, W) input, got (10,)"),
    ],
)
def test_shape_errors_name_the_values(name: str, params: dict[str, Any], shapes: list[Shape], message: str) -> None:
    assert message in _shape_error(name, params, shapes).message


def test_shape_error_hints() -> None:
    assert "conv2d" in (_shape_error("conv3d", {"out_channels": 8, "kernel_size": 3}, [(3, 8, 8)]).hint or "")
    assert "conv2d" in (_shape_error("conv1d", {"out_channels": 8, "kernel_size": 3}, [(3, 8, 8)]).hint or "")
    assert "1×1 conv" in (_shape_error("add", {}, [(64, 56, 56), (256, 56, 56)]).hint or "")


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("conv2d", {"out_channels": 8, "kernel_size": 0}, "kernel_size must be ≥ 1, got 0"),
        ("conv2d", {"out_channels": 8, "kernel_size": (3, 0)}, "kernel_size must be ≥ 1, got (3, 0)"),
        ("conv2d", {"out_channels": 8, "kernel_size": 3, "padding": -1}, "padding must be ≥ 0, got -1"),
        ("conv2d", {"out_channels": 0, "kernel_size": 3}, "out_channels must be ≥ 1, got 0"),
        (
            "conv2d",
            {"out_channels": 8, "kernel_size": 3, "stride": 2, "padding": "same"},
            "padding='same' needs stride 1",
        ),
        ("conv2d", {"out_channels": 8, "kernel_size": 3, "padding": "full"}, "padding"),
        ("conv2d", {"out_channels": True, "kernel_size": 3}, "out_channels"),
        ("conv2d", {"out_channels": 8, "kernel_size": 3.5}, "kernel_size"),
        ("conv2d", {"out_channels": 8, "kernel_size": (3, 3, 3)}, "kernel_size"),
        ("conv2d", {"out_channels": 8, "kernel_size": 3, "bogus": 1}, "bogus"),
        ("conv1d", {"out_channels": 8, "kernel_size": (3, 3)}, "kernel_size"),
        ("maxpool", {"kernel_size": 3, "padding": 2}, "padding=2 must be at most half of kernel_size=3"),
        ("avgpool", {"kernel_size": (3, 5), "padding": (1, 3)}, "at most half"),
        ("dropout", {"p": 1.5}, "p must be in [0, 1], got 1.5"),
        ("dropout", {"p": "0.5"}, "p"),
        ("batchnorm", {"momentum": 2.0}, "momentum must be in [0, 1]"),
        ("batchnorm", {"eps": 0.0}, "eps must be > 0, got 0.0"),
        ("linear", {"out_features": 10, "bias": 1}, "bias"),
        ("upsample", {"scale_factor": 0}, "scale_factor must be > 0"),
    ],
)
def test_param_validation(name: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        _kind(name).schema(**params)
    assert message in str(info.value)


def test_params_are_frozen() -> None:
    schema: Any = _kind("conv2d").schema
    params = schema(out_channels=8, kernel_size=3)
    with pytest.raises(ValidationError):
        params.out_channels = 9


# --- the shared window arithmetic --------------------------------------------------------------


def test_window_out_hand_computed() -> None:
    assert window_out(224, Window(kernel=7, stride=2, pad_lo=3, pad_hi=3)) == 112  # (224+6-7)//2+1
    assert window_out(112, Window(kernel=3, stride=2, pad_lo=1, pad_hi=1)) == 56
    assert window_out(10, Window(kernel=3, dilation=2)) == 6  # effective kernel 5
    assert window_out(3, Window(kernel=5)) == 0
    assert window_out(112, Window(kernel=3, stride=2, ceil_mode=True)) == 56  # (112-3)/2 = 54.5 → 55 + 1
    assert window_out(55, Window(kernel=3, stride=2, ceil_mode=True)) == 27


def test_explain() -> None:
    assert (
        explain(224, Window(kernel=7, stride=2, pad_lo=3, pad_hi=3)) == "(224 + 2·3 − 7) / 2 + 1 = 112.5 → 112 (floor)"
    )
    assert explain(56, Window(kernel=3, pad_lo=1, pad_hi=1)) == "(56 + 2·1 − 3) + 1 = 56"


def test_same_padding_and_dropped() -> None:
    assert same_padding(3) == (1, 1)
    assert same_padding(4) == (1, 2)  # the odd pixel goes to the end, like PyTorch
    assert same_padding(3, dilation=2) == (2, 2)
    assert dropped(10, Window(kernel=3, stride=2)) == 1  # windows cover rows 0..8
    assert dropped(224, Window(kernel=7, stride=2, pad_lo=3, pad_hi=3)) == 0


def _torch_len(fn: Any, size: int, k: int, s: int, p: int, ceil: bool) -> int:
    try:
        return int(fn(torch.zeros(1, 1, size), k, s, p, ceil_mode=ceil).shape[-1])
    except RuntimeError:  # torch refuses an empty output
        return 0


@pytest.mark.parametrize("ceil", [False, True])
def test_window_out_matches_torch_pools(ceil: bool) -> None:
    """Exhaustive small grid, including the ceil_mode rule for windows starting in the padding."""
    pools = (torch.nn.functional.max_pool1d, torch.nn.functional.avg_pool1d)
    for size in range(1, 13):
        for k in range(1, 6):
            for s in range(1, 4):
                for p in range(k // 2 + 1):
                    w = Window(kernel=k, stride=s, pad_lo=p, pad_hi=p, ceil_mode=ceil)
                    for fn in pools:
                        expected = _torch_len(fn, size, k, s, p, ceil)
                        assert window_out(size, w) == expected, (fn.__name__, size, k, s, p, ceil)


def test_window_out_matches_torch_maxpool2d_ceil() -> None:
    for h, w in [(112, 112), (55, 54), (7, 8), (2, 3)]:
        pool = torch.nn.MaxPool2d(3, 2, ceil_mode=True)
        out = pool(torch.zeros(1, 1, h, w)).shape[2:]
        win = Window(kernel=3, stride=2, ceil_mode=True)
        assert (window_out(h, win), window_out(w, win)) == tuple(out)


def test_window_out_matches_torch_dilated_conv() -> None:
    for size in range(1, 15):
        for k, s, p, d in [(3, 1, 0, 2), (3, 2, 1, 3), (5, 3, 2, 2), (2, 2, 0, 1)]:
            span = size + 2 * p - d * (k - 1) - 1
            expected = span // s + 1 if span >= 0 else 0
            if expected > 0:
                conv = torch.nn.functional.conv1d(torch.zeros(1, 1, size), torch.zeros(1, 1, k), None, s, p, d)
                assert conv.shape[-1] == expected
            assert window_out(size, Window(kernel=k, stride=s, pad_lo=p, pad_hi=p, dilation=d)) == expected


# --- modules and import hygiene ----------------------------------------------------------------


def test_import_does_not_load_torch() -> None:
    code = "import netdsl.registry as r; r.REGISTRY.names(); import sys; assert 'torch' not in sys.modules"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("name", "params", "shapes"),
    [
        ("add", {}, [(4, 5, 5), (4, 5, 5), (4, 5, 5)]),
        ("mul", {}, [(4, 5, 5), (4, 1, 1)]),
        ("concat", {}, [(4, 5, 5), (2, 5, 5)]),
        ("global_avgpool", {}, [(4, 5, 5)]),
        ("global_maxpool", {}, [(4, 7)]),
        ("permute", {"dims": (0, 2, 3, 1)}, [(4, 5, 6)]),
        ("transpose", {"dim0": 1, "dim1": 2}, [(4, 7)]),
        ("reshape", {"shape": (2, -1)}, [(4, 5, 6)]),
        ("to_tokens", {}, [(4, 5, 6)]),
        ("to_map", {"height": 5, "width": 6}, [(30, 4)]),
        ("layernorm2d", {}, [(4, 5, 6)]),
    ],
)
def test_own_modules_script_export_pickle(name: str, params: dict[str, Any], shapes: list[Shape]) -> None:
    kind = _kind(name)
    p = kind.schema(**params)
    module = kind.build(p, shapes, kind.shape(p, shapes))
    xs = [torch.randn(2, *s) for s in shapes]
    expected = _run(kind, module, xs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.script is deprecated upstream, still supported
        scripted = torch.jit.script(module)
    torch.testing.assert_close(_run(kind, scripted, xs), expected)
    torch.testing.assert_close(_run(kind, pickle.loads(pickle.dumps(module)), xs), expected)
    torch.testing.assert_close(_run(kind, copy.deepcopy(module), xs), expected)
    args = (xs,) if kind.is_merge else (xs[0],)
    exported = torch.export.export(module, args)
    torch.testing.assert_close(_run(kind, exported.module(), xs), expected)
