"""A plugin for the language-server tests: one layer kind, `lsp_twice`, with one parameter."""

from pydantic import Field

from netdsl.registry import LayerKind, Params
from netdsl.registry import register as add_kind


class TwiceParams(Params):
    factor: int = Field(2, ge=1, description="how many times the channels are repeated")


def _shape(p: TwiceParams, inputs: tuple[tuple[int, ...], ...]) -> tuple[int, ...]:
    """Channels multiplied by ``factor``."""
    c, *rest = inputs[0]
    return (c * p.factor, *rest)


def _build(p: TwiceParams, inputs: object, output: object) -> object:
    from torch import nn

    return nn.Identity()


add_kind(
    LayerKind("lsp_twice", TwiceParams, _shape, _build, "Repeat the channels (a test plugin).", positional=("factor",))
)
