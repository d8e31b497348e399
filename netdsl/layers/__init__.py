"""The layer kinds: the registry (one entry per kind) and the built-in kinds.

This package is the one door to the registry for the rest of netdsl: importing it
registers every built-in kind through :func:`netdsl.layers.registry.register`, the
same public call a plugin makes (plugins import it as :mod:`netdsl.registry`).
Nothing here imports torch at import time: builders import it in their bodies, and
:mod:`netdsl.layers.modules` (the only torch-importing file) is itself imported only
by builders. A new layer kind is one file here (or a plugin) plus its test row.
"""

from netdsl.layers import activation, conv, conv_transpose, extra, linear, merge, misc, norm, pool, tensor
from netdsl.layers.registry import (
    FAMILIES,
    REGISTRY,
    Cost,
    LayerKind,
    Params,
    Registry,
    RegistryError,
    Shape,
    ShapeError,
    Window,
    no_cost,
    register,
)

__all__ = [
    "FAMILIES",
    "REGISTRY",
    "Cost",
    "LayerKind",
    "Params",
    "Registry",
    "RegistryError",
    "Shape",
    "ShapeError",
    "Window",
    "activation",
    "conv",
    "conv_transpose",
    "extra",
    "linear",
    "merge",
    "misc",
    "no_cost",
    "norm",
    "pool",
    "register",
    "tensor",
]
