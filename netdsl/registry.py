"""The plugin API: what a plugin imports to register its layer kinds.

The registry itself lives in :mod:`netdsl.layers.registry`; importing it from here
(or from :mod:`netdsl.layers`) also registers the built-in kinds, so a plugin's
``register(...)`` meets the built-in names and a clash is reported at once.
"""

from netdsl.layers import (
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
from netdsl.layers.ranks import declare as declare_ranks
from netdsl.layers.ranks import expect_rank

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
    "declare_ranks",
    "expect_rank",
    "no_cost",
    "register",
]
