"""A plugin registering nothing on import: its entry point names `late_register:register`."""

from netdsl.layers.common import NoParams
from netdsl.registry import LayerKind
from netdsl.registry import register as add_kind


def _shape(p: NoParams, inputs: tuple[tuple[int, ...], ...]) -> tuple[int, ...]:
    """Shape unchanged."""
    return inputs[0]


def _build(p: NoParams, inputs: object, output: object) -> object:
    from torch import nn

    return nn.Identity()


def register() -> None:
    """Called by netdsl through the entry point."""
    add_kind(LayerKind("late_identity", NoParams, _shape, _build, "registered by an entry-point function"))
