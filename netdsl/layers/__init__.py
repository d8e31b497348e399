"""The built-in layer kinds.

Importing this package registers every built-in kind through
:func:`netdsl.registry.register`, the same public call a plugin uses; the
registry imports it lazily on first lookup. Nothing here imports torch at import
time: builders import it in their bodies, and :mod:`netdsl.layers.modules` (the
only torch-importing file) is itself imported only by builders.
"""

from netdsl.layers import activation, conv, linear, merge, misc, norm, pool

__all__ = ["activation", "conv", "linear", "merge", "misc", "norm", "pool"]
