"""Ranks: every built-in kind declares the ranks it accepts, and its shape rule refuses exactly the others.

The refusal names the kind, the shape it wants, the shape it got and both ranks; through the
shape pass the diagnostic also carries the file, line, column and the layer's module name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from netdsl.layers.ranks import ACCEPTS, ANY, accepted, declare, expect_rank
from netdsl.pipeline import analyze
from netdsl.registry import REGISTRY, LayerKind, Shape, ShapeError

#: Arguments that make each kind accept a (4, 4, …) input of every rank it declares.
EXAMPLES: dict[str, dict[str, Any]] = {
    **{k: {"out_channels": 4, "kernel_size": 1} for k in ACCEPTS if k.startswith("conv")},
    **{k: {"kernel_size": 1} for k in ACCEPTS if k.startswith(("maxpool", "avgpool"))},
    **{k: {"output_size": 1} for k in ACCEPTS if k.startswith("adaptive_")},
    "linear": {"out_features": 3},
    "groupnorm": {"num_groups": 2},
    "lrn": {"size": 3},
    "zeropad": {"padding": 1},
    "to_map": {"height": 2, "width": 2},
    "stochastic_depth": {"p": 0.1},
    "transpose": {"dim0": 1, "dim1": -1},
}


def _builtins() -> list[LayerKind]:
    return [k for k in REGISTRY if k.origin == "built-in" and k.shape.__module__.startswith("netdsl.layers.")]


def _params(kind: LayerKind, rank: int) -> Any:
    if kind.name == "permute":
        return kind.schema(dims=tuple(range(rank + 1)))
    if kind.name == "reshape":
        return kind.schema(shape=-1)
    return kind.schema(**EXAMPLES.get(kind.name, {}))


def test_every_builtin_kind_declares_its_ranks() -> None:
    names = {k.name for k in _builtins()}
    assert not names - set(ACCEPTS), f"declare the ranks of {sorted(names - set(ACCEPTS))} in netdsl/layers/ranks.py"
    assert all(set(ranks) <= set(ANY) and ranks for ranks in ACCEPTS.values())


@pytest.mark.parametrize("kind", _builtins(), ids=lambda k: k.name)
def test_shape_rule_enforces_the_declared_ranks(kind: LayerKind) -> None:
    ranks = accepted(kind.name)
    assert ranks is not None
    for rank in ANY:
        shape: Shape = (4,) * rank
        inputs = [shape, shape] if kind.is_merge else [shape]
        params = _params(kind, rank)
        if rank in ranks:
            kind.shape(params, inputs)  # accepted: no error at all on a 4×4… input
            continue
        with pytest.raises(ShapeError) as info:
            kind.shape(params, inputs)
        message = info.value.message
        assert message.startswith(f"{kind.name} expects a "), message
        assert f"got {shape} (rank {rank}, not " in message, message


def test_rank_message_names_both_shapes_and_ranks() -> None:
    with pytest.raises(ShapeError) as info:
        expect_rank("conv3d", (64, 56, 56), (4,), hint="use conv2d")
    assert info.value.message == "conv3d expects a (C, D, H, W) input, got (64, 56, 56) (rank 3, not 4)"
    assert info.value.hint == "use conv2d" and info.value.code == "E301"
    with pytest.raises(ShapeError) as info:
        expect_rank("maxpool", (10,), (2, 3, 4))
    assert info.value.message == (
        "maxpool expects a (C, L), (C, H, W) or (C, D, H, W) input, got (10,) (rank 1, not 2, 3 or 4)"
    )


def test_plugins_can_declare_ranks() -> None:
    try:
        assert declare("my_plugin_kind", [3, 2, 3]) == (2, 3)
        assert accepted("my_plugin_kind") == (2, 3)
    finally:
        ACCEPTS.pop("my_plugin_kind", None)
    assert accepted("my_plugin_kind") is None


@pytest.mark.parametrize(
    ("body", "line", "col", "layer", "message", "hint"),
    [
        (
            "conv2d(8, 3, padding=1)\n    conv3d(8, 3)",
            4,
            5,
            "1",
            "conv3d expects a (C, D, H, W) input, got (8, 16, 16) (rank 3, not 4)",
            "use conv2d for a (C, H, W) input",
        ),
        (
            "to_tokens\n    head: layernorm2d",
            4,
            5,
            "head",
            "layernorm2d expects a (C, H, W) input, got (256, 3) (rank 2, not 3)",
            "layernorm",
        ),
        (
            "global_avgpool\n    to_map(2, 2)",
            4,
            5,
            "1",
            "to_map expects a (C, L) input, got (3,) (rank 1, not 2)",
            "tokens",
        ),
        ("flatten\n    maxpool3d(2)", 4, 5, "1", "maxpool3d expects a (C, D, H, W) input, got (768,)", None),
    ],
)
def test_rank_errors_through_the_shape_pass(
    tmp_path: Path, body: str, line: int, col: int, layer: str, message: str, hint: str | None
) -> None:
    spec = tmp_path / "ranks.net"
    spec.write_text(f"net Ranks {{\n    input(3, 16, 16)\n    {body}\n}}\n", encoding="utf-8")
    result = analyze(spec)
    (error,) = result.errors
    assert error.code == "E301"
    assert error.span is not None and (error.span.line, error.span.col) == (line, col)
    assert error.layer == layer
    assert message in error.message
    if hint is not None:
        assert hint in (error.hint or "")
