"""Pass 2, lowering: syntax tree → typed, immutable IR (names, blocks, repeats, parameters).

Entry point: :class:`Lowerer` (``Lowerer(blocks, limits, sources).lower_net(...)``). The IR
is :mod:`netdsl.lower.ir`; expressions are evaluated by :mod:`netdsl.lower.expr`; argument
binding is :mod:`netdsl.lower.arguments`; scopes, naming and name errors are
:mod:`netdsl.lower.scopes`.
"""

from netdsl.lower.lowerer import Lowerer

__all__ = ["Lowerer"]
