"""Shape and cost rules of the rank-aware kinds against torch on seeded random configurations.

For every configuration: the static output shape equals the shape of the built module's real
output, the static MACs equal FlopCounterMode's FLOPs / 2, and the static parameter count equals
the module's; a configuration torch refuses is one the shape rule (or the schema) refuses too.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch
from pydantic import ValidationError
from torch.utils.flop_counter import FlopCounterMode

from netdsl.registry import REGISTRY, LayerKind, Shape, ShapeError

Config = tuple[str, dict[str, Any], Shape]
CASES_PER_FAMILY = 40


def _kind(name: str) -> LayerKind:
    kind = REGISTRY.get(name)
    assert kind is not None
    return kind


def _spatial(rng: random.Random, n: int, lo: int = 1, hi: int = 9) -> tuple[int, ...]:
    return tuple(rng.randint(lo, hi) for _ in range(n))


def _one_or_each(rng: random.Random, values: tuple[int, ...]) -> int | tuple[int, ...]:
    return values[0] if rng.random() < 0.4 else values


def _conv(rng: random.Random) -> Config:
    n = rng.randint(1, 3)
    groups = rng.choice([1, 1, 2])
    cin, cout = groups * rng.randint(1, 3), groups * rng.randint(1, 3)
    params: dict[str, Any] = {
        "out_channels": cout,
        "kernel_size": _one_or_each(rng, _spatial(rng, n, 1, 4)),
        "stride": _one_or_each(rng, _spatial(rng, n, 1, 3)),
        "padding": _one_or_each(rng, _spatial(rng, n, 0, 2)),
        "dilation": _one_or_each(rng, _spatial(rng, n, 1, 2)),
        "groups": groups,
        "bias": rng.random() < 0.5,
    }
    return f"conv{n}d", params, (cin, *_spatial(rng, n, 1, 10))


def _conv_transpose(rng: random.Random) -> Config:
    n = rng.randint(1, 3)
    groups = rng.choice([1, 1, 2])
    stride = _spatial(rng, n, 1, 3)
    dilation = _spatial(rng, n, 1, 2)
    params: dict[str, Any] = {
        "out_channels": groups * rng.randint(1, 3),
        "kernel_size": _spatial(rng, n, 1, 4),
        "stride": stride,
        "padding": _spatial(rng, n, 0, 2),
        "output_padding": tuple(rng.randint(0, max(s, d) - 1) for s, d in zip(stride, dilation, strict=True)),
        "groups": groups,
        "bias": rng.random() < 0.5,
        "dilation": dilation,
    }
    return f"conv_transpose{n}d", params, (groups * rng.randint(1, 3), *_spatial(rng, n, 1, 6))


def _pool(rng: random.Random) -> Config:
    n = rng.randint(1, 3)
    kernel = _spatial(rng, n, 1, 4)
    params: dict[str, Any] = {
        "kernel_size": _one_or_each(rng, kernel) if len(set(kernel)) == 1 else kernel,
        "stride": _spatial(rng, n, 1, 3) if rng.random() < 0.7 else None,
        "padding": tuple(rng.randint(0, k // 2) for k in kernel),
        "ceil_mode": rng.random() < 0.5,
    }
    name = rng.choice(["maxpool", "avgpool", f"maxpool{n}d", f"avgpool{n}d"])
    if "avg" in name:
        params["count_include_pad"] = rng.random() < 0.5
    return name, params, (rng.randint(1, 3), *_spatial(rng, n, 1, 10))


def _adaptive(rng: random.Random) -> Config:
    n = rng.randint(1, 3)
    op = rng.choice(["avg", "max"])
    name = rng.choice([f"adaptive_{op}pool", f"adaptive_{op}pool{n}d"])
    return name, {"output_size": _one_or_each(rng, _spatial(rng, n, 1, 4))}, (2, *_spatial(rng, n, 1, 9))


def _upsample(rng: random.Random) -> Config:
    n = rng.randint(1, 3)
    mode = rng.choice(["nearest", "nearest-exact", {1: "linear", 2: "bilinear", 3: "trilinear"}[n]])
    params: dict[str, Any] = {"mode": mode}
    if rng.random() < 0.5:
        params["size"] = _one_or_each(rng, _spatial(rng, n, 1, 12))
    elif rng.random() < 0.7:
        params["scale_factor"] = rng.choice([0.5, 1.5, 2.0, 3.0, 2.5])
    if mode not in ("nearest", "nearest-exact") and rng.random() < 0.5:
        params["align_corners"] = rng.random() < 0.5
    return "upsample", params, (2, *_spatial(rng, n, 1, 7))


def _tensor(rng: random.Random) -> Config:
    rank = rng.randint(1, 4)
    shape = _spatial(rng, rank, 1, 5)
    choice = rng.choice(["permute", "transpose", "reshape", "flatten", "linear", "layernorm", "to_tokens"])
    if choice == "permute":
        rest = list(range(1, rank + 1))
        rng.shuffle(rest)
        dims = [0, *(d - rank - 1 if rng.random() < 0.3 else d for d in rest)]
        return "permute", {"dims": tuple(dims)}, shape
    if choice == "transpose":
        a, b = rng.randint(1, rank), rng.randint(1, rank)
        return "transpose", {"dim0": a if rng.random() < 0.5 else a - rank - 1, "dim1": b}, shape
    if choice == "reshape":
        total = 1
        for s in shape:
            total *= s
        sizes = [d for d in range(1, total + 1) if total % d == 0]
        first = rng.choice(sizes)
        target = (first, -1) if rng.random() < 0.5 else (total // first, first)
        return "reshape", {"shape": target}, shape
    if choice == "flatten":
        start, end = sorted((rng.randint(1, rank), rng.randint(1, rank)))
        return "flatten", {"start_dim": start, "end_dim": end if rng.random() < 0.5 else end - rank - 1}, shape
    if choice == "linear":
        return "linear", {"out_features": rng.randint(1, 6), "bias": rng.random() < 0.5}, shape
    if choice == "layernorm":
        return "layernorm", {"dims": rng.randint(1, rank)}, shape
    if rank == 1:
        return "to_map", {"height": 1, "width": shape[0]}, (shape[0], 3)
    return "to_tokens", {}, shape


FAMILIES: dict[str, Callable[[random.Random], Config]] = {
    "conv": _conv,
    "conv_transpose": _conv_transpose,
    "pool": _pool,
    "adaptive": _adaptive,
    "upsample": _upsample,
    "tensor": _tensor,
}


def _configs() -> list[tuple[str, Config]]:
    out = []
    for family, make in FAMILIES.items():
        rng = random.Random(f"netdsl-{family}")
        out += [(family, make(rng)) for _ in range(CASES_PER_FAMILY)]
    return out


CONFIGS = _configs()


def _torch_result(kind: LayerKind, params: Any, shape: Shape, out: Shape | None) -> tuple[torch.nn.Module, Any]:
    module = kind.build(params, [shape], out or shape)
    module.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return module, module(torch.randn(2, *shape))


@pytest.mark.parametrize(("family", "config"), CONFIGS, ids=[f"{f}{i}" for i, (f, _) in enumerate(CONFIGS)])
def test_static_shape_and_cost_equal_torch(family: str, config: Config) -> None:
    name, raw, shape = config
    kind = _kind(name)
    try:
        params = kind.schema(**raw)
        out: Shape | None = kind.shape(params, [shape])
    except (ValidationError, ShapeError):
        out = None
    if out is None:  # refused statically: torch must refuse it too (or produce nothing)
        try:
            params = kind.schema(**raw)
        except ValidationError:
            return  # e.g. output_padding ≥ stride and dilation, a rule torch applies at run time as well
        try:
            _, result = _torch_result(kind, params, shape, None)
        except (RuntimeError, ValueError):
            return
        assert result.numel() == 0, f"torch accepts {name}({raw}) on {shape}: {tuple(result.shape)}"
        return
    module, result = _torch_result(kind, params, shape, out)
    assert tuple(result.shape) == (2, *out), (name, raw, shape)
    cost = kind.cost(params, [shape], out)
    assert cost.params == sum(p.numel() for p in module.parameters())
    with FlopCounterMode(display=False) as counter, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module(torch.randn(1, *shape))
    assert cost.macs == counter.get_total_flops() // 2


def test_enough_configurations_are_accepted() -> None:
    """The generators are not so wild that most cases only test refusal."""
    accepted = 0
    for _, (name, raw, shape) in CONFIGS:
        kind = _kind(name)
        try:
            kind.shape(kind.schema(**raw), [shape])
            accepted += 1
        except (ValidationError, ShapeError):
            pass
    assert len(CONFIGS) >= 200 and accepted >= 0.7 * len(CONFIGS)
