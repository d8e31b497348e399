"""A plugin that registers a kind and a library, then fails: both must be rolled back."""

from pathlib import Path

from netdsl.imports import register_library
from netdsl.layers.common import NoParams
from netdsl.registry import LayerKind, register


def _shape(p: NoParams, inputs: tuple[tuple[int, ...], ...]) -> tuple[int, ...]:
    """Shape unchanged."""
    return inputs[0]


def _build(p: NoParams, inputs: object, output: object) -> object:
    raise AssertionError("never built")


register(LayerKind("half_ok", NoParams, _shape, _build, "registered before the failure"))
register_library("half_lib", Path(__file__).parent)
raise ImportError("half_broken needs a newer numpy")
