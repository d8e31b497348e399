"""The deep-learning course's hand-signs data: ``train_signs.h5`` and ``test_signs.h5`` in one folder.

Each file holds ``{train,test}_set_x`` (N×64×64×3 uint8), ``{train,test}_set_y`` (N class
indices) and ``list_classes``. Read with h5py, an optional extra: ``pip install 'netdsl[signs]'``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from netdsl.training.errors import TrainingError

FILES = {"train": "train_signs.h5", "test": "test_signs.h5"}


class ArrayImages(Dataset[tuple[Image.Image, int]]):
    """Images kept in memory as a uint8 array (N, H, W, C), served as PIL images, with their labels."""

    def __init__(self, data: np.ndarray, targets: np.ndarray, classes: tuple[str, ...]) -> None:
        self.data = data
        self.targets = [int(t) for t in targets.reshape(-1)]
        self.classes = list(classes)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Image.Image, int]:
        image = self.data[index]
        return Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image), self.targets[index]


def _h5py() -> Any:
    try:
        import h5py  # type: ignore[import-not-found, import-untyped, unused-ignore]

        return h5py
    except ImportError:
        raise TrainingError("signs: data sets need h5py: pip install 'netdsl[signs]'") from None


def _read(folder: Path, split: str, header_only: bool) -> tuple[Any, Any, tuple[str, ...]]:
    path = folder / FILES[split]
    if not path.is_file():
        raise TrainingError(f"signs: {path} not found (the folder should hold {' and '.join(FILES.values())})")
    try:
        with _h5py().File(path, "r") as f:
            x, y = f[f"{split}_set_x"], f[f"{split}_set_y"]
            classes = tuple(str(c.decode() if isinstance(c, bytes) else c) for c in f["list_classes"][()])
            if x.ndim != 4 or x.shape[0] != y.shape[-1]:
                raise TrainingError(f"signs: {path}: expected N×H×W×C images and N labels, got {x.shape}, {y.shape}")
            if header_only:
                return x.shape, None, classes
            return np.asarray(x[()], dtype=np.uint8), np.asarray(y[()]), classes
    except KeyError as err:
        raise TrainingError(f"signs: {path}: missing data set {err}") from None
    except OSError as err:
        raise TrainingError(f"signs: {path}: not a readable h5 file ({err})") from None


def describe(folder: Path) -> tuple[int, tuple[str, ...]]:
    """(channels, class names) from the training file's header."""
    shape, _, classes = _read(folder, "train", header_only=True)
    return int(shape[-1]), classes


def load(folder: Path) -> tuple[ArrayImages, ArrayImages | None]:
    """The training images and, when ``test_signs.h5`` is there, the test images."""
    x, y, classes = _read(folder, "train", header_only=False)
    train = ArrayImages(x, y, classes)
    if not (folder / FILES["test"]).is_file():
        return train, None
    tx, ty, _ = _read(folder, "test", header_only=False)
    return train, ArrayImages(tx, ty, classes)
