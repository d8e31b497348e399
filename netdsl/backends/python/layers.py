"""Constructor calls for built layer modules, and Python literals, for :mod:`netdsl.backends.python.codegen`.

A small table gives, per ``torch.nn`` class, the constructor's arguments in
order with their defaults; the values are read back from the built module's
attributes (``conv.in_channels``, ``conv.stride`` …), never parsed out of its
``repr``. Classes missing from the table fall back on the constructor's
signature, which works for modules that store each argument under its own name
(most of ``torch.nn`` and the usual plugin style). Modules defined outside
``torch`` (netdsl's own helpers, plugins) are emitted as their class source.
"""

from __future__ import annotations

import inspect
import keyword
import math
import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

REQUIRED: Any = inspect.Parameter.empty

_CONV = (
    ("in_channels", REQUIRED),
    ("out_channels", REQUIRED),
    ("kernel_size", REQUIRED),
    ("stride", 1),
    ("padding", 0),
    ("dilation", 1),
    ("groups", 1),
    ("bias", True),
    ("padding_mode", "zeros"),
)
_CONV_T = (
    ("in_channels", REQUIRED),
    ("out_channels", REQUIRED),
    ("kernel_size", REQUIRED),
    ("stride", 1),
    ("padding", 0),
    ("output_padding", 0),
    ("groups", 1),
    ("bias", True),
    ("dilation", 1),
    ("padding_mode", "zeros"),
)
_BN = (("num_features", REQUIRED), ("eps", 1e-5), ("momentum", 0.1), ("affine", True), ("track_running_stats", True))
_MAXPOOL = (("kernel_size", REQUIRED), ("stride", None), ("padding", 0), ("dilation", 1), ("ceil_mode", False))
_AVGPOOL = (
    ("kernel_size", REQUIRED),
    ("stride", None),
    ("padding", 0),
    ("ceil_mode", False),
    ("count_include_pad", True),
)
_INPLACE = (("inplace", False),)

#: torch.nn class name → constructor arguments (name, default) in signature order.
TABLE: dict[str, tuple[tuple[str, Any], ...]] = {
    "Conv1d": _CONV,
    "Conv2d": _CONV,
    "Conv3d": _CONV,
    "ConvTranspose1d": _CONV_T,
    "ConvTranspose2d": _CONV_T,
    "ConvTranspose3d": _CONV_T,
    "Linear": (("in_features", REQUIRED), ("out_features", REQUIRED), ("bias", True)),
    "BatchNorm1d": _BN,
    "BatchNorm2d": _BN,
    "BatchNorm3d": _BN,
    "LayerNorm": (("normalized_shape", REQUIRED), ("eps", 1e-5), ("elementwise_affine", True), ("bias", True)),
    "GroupNorm": (("num_groups", REQUIRED), ("num_channels", REQUIRED), ("eps", 1e-5), ("affine", True)),
    "LocalResponseNorm": (("size", REQUIRED), ("alpha", 1e-4), ("beta", 0.75), ("k", 1.0)),
    "MaxPool1d": _MAXPOOL,
    "MaxPool2d": _MAXPOOL,
    "MaxPool3d": _MAXPOOL,
    "AvgPool1d": _AVGPOOL,
    "AvgPool2d": (*_AVGPOOL, ("divisor_override", None)),
    "AvgPool3d": (*_AVGPOOL, ("divisor_override", None)),
    "AdaptiveAvgPool1d": (("output_size", REQUIRED),),
    "AdaptiveAvgPool2d": (("output_size", REQUIRED),),
    "AdaptiveAvgPool3d": (("output_size", REQUIRED),),
    "AdaptiveMaxPool1d": (("output_size", REQUIRED),),
    "AdaptiveMaxPool2d": (("output_size", REQUIRED),),
    "AdaptiveMaxPool3d": (("output_size", REQUIRED),),
    "ReLU": _INPLACE,
    "ReLU6": _INPLACE,
    "SiLU": _INPLACE,
    "Hardswish": _INPLACE,
    "Hardsigmoid": _INPLACE,
    "LeakyReLU": (("negative_slope", 0.01), *_INPLACE),
    "ELU": (("alpha", 1.0), *_INPLACE),
    "GELU": (("approximate", "none"),),
    "PReLU": (("num_parameters", 1), ("init", 0.25)),
    "Sigmoid": (),
    "Tanh": (),
    "Identity": (),
    "Softmax": (("dim", None),),
    "Dropout": (("p", 0.5), *_INPLACE),
    "Dropout1d": (("p", 0.5), *_INPLACE),
    "Dropout2d": (("p", 0.5), *_INPLACE),
    "Dropout3d": (("p", 0.5), *_INPLACE),
    "Flatten": (("start_dim", 1), ("end_dim", -1)),
    "ZeroPad1d": (("padding", REQUIRED),),
    "ZeroPad2d": (("padding", REQUIRED),),
    "Upsample": (("size", None), ("scale_factor", None), ("mode", "nearest"), ("align_corners", None)),
}

#: Arguments that accept an int for "the same value on every axis": (3, 3) is written 3.
_COMPACT = {"kernel_size", "stride", "padding", "dilation", "output_size", "output_padding"}
_COMPACT_CLASSES = {name for name in TABLE if name.startswith(("Conv", "MaxPool", "AvgPool", "Adaptive", "ZeroPad"))}


class CodegenError(Exception):
    """A module cannot be written as standalone Python (e.g. a plugin class whose arguments are not stored)."""


@dataclass(frozen=True)
class Ctor:
    """A constructor call: the callee's text and its arguments as (name, value, default)."""

    func: str
    args: tuple[tuple[str, Any, Any], ...]
    source: type | None = None  # a class whose source the emitted file must contain


def _read(module: nn.Module, name: str) -> Any:
    if not hasattr(module, name):
        raise CodegenError(f"{type(module).__name__} does not store its constructor argument `{name}`")
    value = getattr(module, name)
    if name == "bias" and not isinstance(value, bool):
        return value is not None  # the constructor's `bias` flag is stored as the bias Parameter (or None)
    if isinstance(value, list):
        value = tuple(value)
    return value


def ctor(module: nn.Module) -> Ctor:
    """How to construct ``module`` again: a table entry, the signature, or the class's own source."""
    cls = type(module)
    name = cls.__name__
    in_torch = cls.__module__.startswith("torch.nn")
    if in_torch and name in TABLE:
        spec = TABLE[name]
    else:
        try:
            sig = inspect.signature(cls.__init__)
        except (TypeError, ValueError) as err:
            raise CodegenError(f"cannot read the constructor of {cls.__module__}.{name}: {err}") from None
        spec = tuple(
            (p.name, p.default)
            for p in list(sig.parameters.values())[1:]
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in ("device", "dtype")
        )
    args = []
    for arg, default in spec:
        value = _read(module, arg)
        if name in _COMPACT_CLASSES and arg in _COMPACT and isinstance(value, tuple) and len(set(value)) == 1:
            value = value[0]
        args.append((arg, value, default))
    if in_torch:
        return Ctor(f"nn.{name}", tuple(args))
    return Ctor(name, tuple(args), source=cls)


def class_source(cls: type) -> str:
    """The source of a module class defined outside torch, for inlining into the emitted file."""
    try:
        return textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError) as err:
        raise CodegenError(f"cannot read the source of {cls.__module__}.{cls.__name__}: {err}") from None


# ---------------------------------------------------------------- Python source of values


def same_value(a: Any, b: Any) -> bool:
    """Equal values of the same type: 1, 1.0 and True are three different constructor arguments."""
    return repr(a) == repr(b)


def literal(v: Any) -> str:
    """Python source of a literal value."""
    if isinstance(v, str):
        return f'"{v}"' if '"' not in v and "\\" not in v else repr(v)
    if isinstance(v, tuple):
        return "(" + ", ".join(map(literal, v)) + ("," if len(v) == 1 else "") + ")"
    if isinstance(v, float) and not math.isfinite(v):
        return f'float("{v}")'
    return repr(v)


def annotation(values: list[Any]) -> str:
    """The type annotation of a generated constructor parameter taking these values."""
    types = {type(v) for v in values}
    if len(types) == 1:
        t = types.pop()
        if t in (bool, int, float, str):
            return t.__name__
        if t is tuple and all(isinstance(x, int) for v in values for x in v):
            return "tuple[int, ...]"
    return "Any"


def is_identifier(name: str) -> bool:
    """A module name usable as ``self.name`` (else ``getattr(self, "name")``)."""
    return name.isidentifier() and not keyword.iskeyword(name)
