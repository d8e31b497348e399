"""The plugin API: what a plugin imports to register its layer kinds.

The registry itself lives in :mod:`netdsl.layers.registry`; importing it from here
(or from :mod:`netdsl.layers`) also registers the built-in kinds, so a plugin's
``register(...)`` meets the built-in names and a clash is reported at once. The names
are :mod:`netdsl.layers`'s own (everything but its built-in modules), plus the rank
helpers of :mod:`netdsl.layers.ranks`.
"""

from netdsl.layers import *  # noqa: F403  (re-exported: the plugin API)
from netdsl.layers import __all__ as _LAYERS_API
from netdsl.layers.ranks import declare as declare_ranks
from netdsl.layers.ranks import expect_rank

__all__ = [n for n in _LAYERS_API if n[0].isupper() or n in ("no_cost", "register")] + ["declare_ranks", "expect_rank"]
