"""Kinds whose rules crash with ordinary Python errors (not ShapeError): `faulty_shape` and `faulty_build`."""

from netdsl.layers.common import NoParams
from netdsl.registry import LayerKind, register


def _crashing_shape(p: NoParams, inputs: tuple[tuple[int, ...], ...]) -> tuple[int, ...]:
    """Divides by zero: a bug in the plugin, not a user mistake."""
    return (inputs[0][0] // 0,)


def _shape(p: NoParams, inputs: tuple[tuple[int, ...], ...]) -> tuple[int, ...]:
    """Shape unchanged."""
    return inputs[0]


def _crashing_build(p: NoParams, inputs: object, output: object) -> object:
    raise KeyError("weights_v2")


def _build(p: NoParams, inputs: object, output: object) -> object:
    from torch import nn

    return nn.Identity()


register(LayerKind("faulty_shape", NoParams, _crashing_shape, _build, "crashes in its shape rule"))
register(LayerKind("faulty_build", NoParams, _shape, _crashing_build, "crashes in its builder"))
