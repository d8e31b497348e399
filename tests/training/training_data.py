"""Data sets generated in each one's real on-disk format, small and with separable classes.

MNIST/Fashion-MNIST as idx files (raw, or gzipped as downloaded), CIFAR-10/100 as the python
pickles, an ImageFolder of PNGs, the hand-signs h5 layout. Class ``k`` is a bright block at
the ``k``-th place of a grid, over noise, so a LeNet-5 separates the classes in one epoch.
"""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
LENET = str(ROOT / "specs" / "lenet5.net")


def patterns(n: int, classes: int, size: int, channels: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uint8 images (N, H, W[, C]) and their labels; class k lights the k-th cell of a 4-wide grid."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    rng.shuffle(labels)
    shape = (n, size, size) if channels == 1 else (n, size, size, channels)
    images = rng.integers(0, 70, size=shape, dtype=np.uint8)
    rows = (classes + 3) // 4
    cell_h, cell_w = size // rows, size // 4
    for i, k in enumerate(labels):
        r, c = divmod(int(k), 4)
        images[i, r * cell_h + 1 : (r + 1) * cell_h - 1, c * cell_w + 1 : (c + 1) * cell_w - 1] = 230
    return images, labels.astype(np.uint8)


def write_idx(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray, packed: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    n, h, w = images.shape
    blobs = {
        f"{prefix}-images-idx3-ubyte": struct.pack(">IIII", 0x803, n, h, w) + images.tobytes(),
        f"{prefix}-labels-idx1-ubyte": struct.pack(">II", 0x801, n) + labels.tobytes(),
    }
    for name, blob in blobs.items():
        if packed:
            (folder / f"{name}.gz").write_bytes(gzip.compress(blob))
        else:
            (folder / name).write_bytes(blob)


def make_mnist(root: Path, folder: str, n_train: int, n_test: int, packed: bool) -> Path:
    raw = root / folder / "raw"
    x, y = patterns(n_train, 10, 28, 1, seed=1)
    write_idx(raw, "train", x, y, packed)
    x, y = patterns(n_test, 10, 28, 1, seed=2)
    write_idx(raw, "t10k", x, y, packed)
    return root


def _pickle(path: Path, obj: object) -> None:
    path.write_bytes(pickle.dumps(obj))


def make_cifar(root: Path, hundred: bool, n_per_file: int) -> Path:
    classes = 100 if hundred else 10
    folder = root / ("cifar-100-python" if hundred else "cifar-10-batches-py")
    folder.mkdir(parents=True, exist_ok=True)
    names = ["train"] if hundred else [f"data_batch_{i}" for i in range(1, 6)]
    label_key = "fine_labels" if hundred else "labels"
    for i, name in enumerate([*names, "test" if hundred else "test_batch"]):
        x, y = patterns(n_per_file, min(classes, 12), 32, 3, seed=10 + i)
        data = x.transpose(0, 3, 1, 2).reshape(len(x), -1)  # the files keep planes: R, G, B
        _pickle(folder / name, {"data": data, label_key: [int(v) for v in y]})
    meta_key = "fine_label_names" if hundred else "label_names"
    _pickle(folder / ("meta" if hundred else "batches.meta"), {meta_key: [f"class{k}" for k in range(classes)]})
    return root


def make_imagefolder(root: Path, classes: int, per_class: int, size: int, split_folders: bool) -> Path:
    x, y = patterns(classes * per_class * 2, classes, size, 3, seed=20)
    half = len(x) // 2
    for i, (image, label) in enumerate(zip(x, y, strict=True)):
        part = ("train" if i < half else "val") if split_folders else ""
        folder = root / part / f"c{int(label)}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{i}.png")
    return root


def make_signs(folder: Path, n_train: int, n_test: int, size: int = 64) -> Path:
    import h5py

    folder.mkdir(parents=True, exist_ok=True)
    for split, n, seed in (("train", n_train, 30), ("test", n_test, 31)):
        x, y = patterns(n, 6, size, 3, seed)
        with h5py.File(folder / f"{split}_signs.h5", "w") as f:
            f[f"{split}_set_x"] = x
            f[f"{split}_set_y"] = y.astype(np.int64)
            f["list_classes"] = np.arange(6)
    return folder


def child_env() -> dict[str, str]:
    """The environment of a subprocess: one thread, no plugins from the machine."""
    import os

    return {**os.environ, "OMP_NUM_THREADS": "1", "NETDSL_DISABLE_PLUGIN_AUTOLOAD": "1"}
