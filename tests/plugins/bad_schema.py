"""A plugin whose parameter schema pydantic cannot build (a field of a plain class, no validator for it).

Schemas are built on first use (``defer_build``), but a plugin's is built when it registers:
the mistake must still fail the plugin's load, naming it, not the first spec that uses the layer.
"""

from netdsl.registry import LayerKind, Params, register


class Weights:
    """Not a type pydantic knows how to validate."""


class BadParams(Params):
    """Parameters of ``bad_schema``."""

    weights: Weights


def _shape(p: BadParams, inputs: tuple[tuple[int, ...], ...]) -> tuple[int, ...]:
    """Shape unchanged."""
    return inputs[0]


def _build(p: BadParams, inputs: object, output: object) -> object:
    raise AssertionError("never built")


register(LayerKind("bad_schema", BadParams, _shape, _build, "a layer whose schema cannot be built"))
