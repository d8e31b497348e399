"""A plugin registering `se`, which the netdsl-se plugin already owns."""

from netdsl.layers.common import NoParams
from netdsl.registry import LayerKind, register


def _shape(p: NoParams, inputs: tuple[tuple[int, ...], ...]) -> tuple[int, ...]:
    """Shape unchanged."""
    return inputs[0]


def _build(p: NoParams, inputs: object, output: object) -> object:
    raise AssertionError("never built")


register(LayerKind("se", NoParams, _shape, _build, "another squeeze-and-excitation"))
