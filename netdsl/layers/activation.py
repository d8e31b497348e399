"""Activations: element-wise (or, for softmax, per-slice) functions with no parameters or MACs.

Every schema field has the same name as the keyword of the torch.nn class it
builds, so one generic builder serves all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from netdsl.layers.common import LayerParams, NoParams, PosFloat, normalize_dim, one_input
from netdsl.layers.registry import LayerKind, Shape, register

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn


class InplaceParams(LayerParams):
    """Parameters of ``relu`` / ``relu6``."""

    inplace: bool = Field(False, description="overwrite the input tensor instead of allocating the output")


class LeakyReluParams(LayerParams):
    """Parameters of ``leaky_relu``."""

    negative_slope: float = Field(0.01, description="slope for negative inputs")


class EluParams(LayerParams):
    """Parameters of ``elu``."""

    alpha: PosFloat = Field(1.0, description="saturation value for negative inputs (output ≥ −alpha)")


class GeluParams(LayerParams):
    """Parameters of ``gelu``."""

    approximate: Literal["none", "tanh"] = Field("none", description="'tanh' uses the tanh approximation")


class SoftmaxParams(LayerParams):
    """Parameters of ``softmax``."""

    dim: int = Field(1, description="dimension summing to 1, PyTorch convention (0 = batch, 1 = channels)")


def same_shape(p: object, inputs: Sequence[Shape]) -> Shape:
    """Shape rule of shape-preserving single-input layers."""
    return one_input(inputs)


def _softmax_shape(p: SoftmaxParams, inputs: Sequence[Shape]) -> Shape:
    """Shape unchanged; dim must exist and must not be the batch."""
    shape = one_input(inputs)
    normalize_dim("softmax", p.dim, shape)
    return shape


def _run_inplace(module: nn.Module) -> nn.Module:
    """In-place form of a built activation: the torch module's own ``inplace`` switch."""
    module.inplace = True  # type: ignore[assignment]
    return module


def _builder(cls_name: str) -> Callable[[LayerParams, Sequence[Shape], Shape], nn.Module]:
    """A builder calling ``torch.nn.<cls_name>(**params)`` (torch imported only when called)."""

    def build(p: LayerParams, inputs: Sequence[Shape], output: Shape) -> nn.Module:
        from torch import nn

        module: nn.Module = getattr(nn, cls_name)(**p.model_dump())
        return module

    build.__doc__ = f"Build torch.nn.{cls_name}."
    return build


# Only activations whose in-place backward reads their *result* (not the overwritten
# input) get an in-place form: relu_, relu6 (hardtanh_), leaky_relu_ and elu_.
_INPLACE_SAFE = frozenset({"relu", "relu6", "leaky_relu", "elu"})

_ACTIVATIONS: tuple[tuple[str, str, type[LayerParams], tuple[str, ...], str], ...] = (
    ("relu", "ReLU", InplaceParams, (), "max(0, x)"),
    ("relu6", "ReLU6", InplaceParams, (), "min(max(0, x), 6), as in MobileNet"),
    ("leaky_relu", "LeakyReLU", LeakyReluParams, ("negative_slope",), "x, or negative_slope·x below 0"),
    ("elu", "ELU", EluParams, ("alpha",), "x, or alpha·(exp(x) − 1) below 0"),
    ("gelu", "GELU", GeluParams, ("approximate",), "x·Φ(x), the Gaussian error linear unit"),
    ("silu", "SiLU", NoParams, (), "x·sigmoid(x) (swish)"),
    ("sigmoid", "Sigmoid", NoParams, (), "1 / (1 + exp(−x))"),
    ("tanh", "Tanh", NoParams, (), "hyperbolic tangent"),
    ("hardswish", "Hardswish", NoParams, (), "x·relu6(x + 3)/6, as in MobileNetV3"),
    ("hardsigmoid", "Hardsigmoid", NoParams, (), "relu6(x + 3)/6, as in MobileNetV3"),
)

for _name, _cls, _schema, _positional, _what in _ACTIVATIONS:
    register(
        LayerKind(
            name=_name,
            schema=_schema,
            shape=same_shape,
            build=_builder(_cls),
            doc=f"Activation {_what} (nn.{_cls}); shape unchanged.",
            family="activation",
            positional=_positional,
            inplace=_run_inplace if _name in _INPLACE_SAFE else None,
        )
    )

register(
    LayerKind(
        name="softmax",
        schema=SoftmaxParams,
        shape=_softmax_shape,
        build=_builder("Softmax"),
        doc="Softmax along dim (PyTorch convention: 1 = channels/features) (nn.Softmax); shape unchanged.",
        family="activation",
        positional=("dim",),
    )
)
