"""``last.pt`` and ``best.pt``: everything needed to continue a run exactly, written atomically.

A checkpoint is a dict (``torch.save``; it loads with ``weights_only=True``): the model's,
optimizer's, scheduler's and gradient scaler's state, the number of finished epochs and
the steps done of the next one, the RNG states, the spec's text and sha256, the resolved
configuration, the data's statistics and classes, and the history so far. It is written
to a temporary file beside the target, flushed to disk and renamed over it, so a process
killed at any moment leaves either the previous checkpoint or the new one, never a mix.
"""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from netdsl.atomic import save_atomic
from netdsl.training.errors import TrainingError

FORMAT = "netdsl-checkpoint"
VERSION = 1


def sha256(text: str) -> str:
    """The hex sha256 of a spec's text (what ``sha256sum SPEC`` prints for a UTF-8 file)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def rng_state() -> dict[str, Any]:
    """torch (CPU and CUDA), Python and NumPy RNG states, in types ``weights_only`` loading accepts."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state(legacy=True)  # type: ignore[misc]
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": [kind, torch.from_numpy(np.asarray(keys).copy()), int(pos), int(has_gauss), float(gauss)],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def store(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` atomically (a temporary file renamed over it), then flush it to disk."""
    data = {"format": FORMAT, "version": VERSION, **payload}
    save_atomic(path, lambda tmp: torch.save(data, tmp))
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load(path: str | Path) -> dict[str, Any]:
    """A checkpoint or any ``torch.save``'d state dict, on the CPU; a clear error if it is neither."""
    path = Path(path)
    if path.is_dir():
        path = path / "last.pt"
    if not path.is_file():
        raise TrainingError(f"{path}: no such checkpoint")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, not a torch file, or a pickle of arbitrary objects
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise TrainingError(f"{path}: not a readable checkpoint or state_dict ({first[:200]})") from None
    if not isinstance(data, dict):
        raise TrainingError(f"{path}: holds a {type(data).__name__}, not a checkpoint or state_dict")
    return data


def is_checkpoint(data: dict[str, Any]) -> bool:
    return data.get("format") == FORMAT


def model_state(data: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The model weights of a netdsl checkpoint, a plain state_dict, or a ``{"state_dict": …}`` wrapper."""
    if is_checkpoint(data):
        state: dict[str, torch.Tensor] = data["model"]
        return state
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(data.get(key), dict):
            data = data[key]
            break
    state = {k.removeprefix("module."): v for k, v in data.items() if isinstance(v, torch.Tensor)}
    if not state:
        raise TrainingError("the file holds no tensors: not a state_dict")
    return state
