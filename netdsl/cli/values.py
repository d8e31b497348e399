"""``--set`` values, read as spec expressions: lists, tuples, ``1_000``, ``2**3``, ``true``, strings.

The text is parsed by the spec's own parser (as the default of a parameter of an empty net,
so every literal and operator means what it means in a spec) and evaluated by the spec's
evaluator, which knows no names: nothing is ever ``eval``'d. A value that is no expression
(``bilinear``, ``resnet-50``) stays the string it is, as before; ``1x7`` is the tuple (1, 7).
"""

from __future__ import annotations

import re

from netdsl.lower.expr import EvalError, Value, evaluate
from netdsl.syntax import parse_text
from netdsl.syntax import tree as S

__all__ = ["parse_value"]


def parse_value(text: str) -> Value:
    """A ``--set`` value (see the module's docstring)."""
    t = text.strip()
    if re.fullmatch(r"\d+(x\d+)+", t):  # the shape spelling of --input: 1x7
        return tuple(int(p) for p in t.split("x"))
    if t in ("True", "False"):  # Python's spelling, accepted as before
        return t == "True"
    value = _expression(t)
    if value is not None:
        return value
    if re.fullmatch(r"[-+]?\d+", t):  # spellings the spec lacks but --set always took: +5
        return int(t)
    if re.fullmatch(r"[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?", t):  # .5, 5.
        return float(t)
    return t.strip("'\"")


def _expression(t: str) -> Value | None:
    """The value of ``t`` as a spec expression, or None if it is not one (or names something)."""
    if not t or any(c in t for c in "{}\n\r#;"):  # one expression only: nothing that could end the default
        return None
    module = parse_text(f"net _Set(v = {t}) {{}}", "<--set>")
    if not isinstance(module, S.Module) or len(module.blocks) != 1 or len(module.blocks[0].params) != 1:
        return None
    default = module.blocks[0].params[0].default
    if default is None:
        return None
    try:
        return evaluate(default, {})
    except EvalError:  # an undefined name or a bad operation: not a value
        return None
