"""``--weights``: load a state_dict into a built module with ``strict=True``, or say exactly what does not fit.

A file may hold a plain state_dict (``torch.save(model.state_dict())``, torchvision's ``.pth``)
or a checkpoint dictionary that keeps one under ``model``/``state_dict``/``model_state_dict``
(``netdsl train`` writes ``model``). It is read with torch's restricted unpickler
(``weights_only=True``), which builds tensors and containers and runs no code from the file.
Every missing, unexpected or wrong-shaped key is reported at the spec line that made the
module it belongs to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from netdsl.errors import Diagnostic, NetdslError
from netdsl.pipeline import Analysis

__all__ = ["load_weights", "read_state_dict"]

_NESTED = ("model", "state_dict", "model_state_dict")
_SHOWN = 12  # keys reported one by one; the rest are counted


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The state_dict in ``path`` (a plain one, or inside a checkpoint); raises NetdslError (E510) if none."""
    try:
        data: Any = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise NetdslError([Diagnostic("E510", f"weights file {path} does not exist")]) from None
    except Exception as err:  # not a torch file, or one that holds more than tensors and containers
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise NetdslError([Diagnostic("E510", f"cannot read weights from {path}: {first[:300]}")]) from None
    if isinstance(data, dict):
        for key in _NESTED:
            if isinstance(data.get(key), dict):
                data = data[key]
                break
    if not isinstance(data, dict) or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in data.items()):
        raise NetdslError([Diagnostic("E510", f"{path} holds no state_dict (a mapping of names to tensors)")])
    return data


def load_weights(module: nn.Module, path: str | Path, analysis: Analysis) -> int:
    """Load the weights in ``path`` into ``module`` strictly; the number of tensors loaded.

    Raises :class:`NetdslError` with one E510 per key that does not fit, located at its module's line.
    """
    state = read_state_dict(path)
    own = module.state_dict()
    problems: list[tuple[str, str]] = []
    problems += [(k, f"`{k}` is in the spec but not in {Path(path).name}") for k in own if k not in state]
    problems += [(k, f"`{k}` in {Path(path).name} is not in the spec") for k in state if k not in own]
    problems += [
        (k, f"`{k}`: the spec makes {_shape(own[k])}, {Path(path).name} holds {_shape(state[k])}")
        for k in own
        if k in state and own[k].shape != state[k].shape
    ]
    if problems:
        raise NetdslError(_diagnostics(problems, analysis), analysis.sources)
    module.load_state_dict(state, strict=True)
    return len(state)


def _shape(t: torch.Tensor) -> str:
    return "×".join(map(str, t.shape)) or "a scalar"


def _diagnostics(problems: list[tuple[str, str]], analysis: Analysis) -> list[Diagnostic]:
    assert analysis.shapes is not None
    by_id = analysis.shapes.by_id
    out = []
    for key, message in problems[:_SHOWN]:
        owner = key.rpartition(".")[0]
        while owner and owner not in by_id:  # a parameter of a module inside a layer's own module
            owner = owner.rpartition(".")[0]
        info = by_id.get(owner)
        span = info.span if info is not None else analysis.net.span if analysis.net is not None else None
        out.append(Diagnostic("E510", f"weights do not fit: {message}", span, layer=owner or None))
    if len(problems) > _SHOWN:
        out.append(Diagnostic("E510", f"… and {len(problems) - _SHOWN} more key(s) that do not fit"))
    return out
