"""A plugin registering a kind named `relu`, which the built-ins already own: loading it must fail."""

from netdsl.layers.activation import InplaceParams, same_shape
from netdsl.registry import LayerKind, register


def _build(p: InplaceParams, inputs: object, output: object) -> object:
    raise AssertionError("never built")


register(LayerKind("relu", InplaceParams, same_shape, _build, "a second relu"))
