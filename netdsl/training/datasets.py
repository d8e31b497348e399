"""Data sets by name: what they are (channels, classes), where they lie, and their splits.

``mnist``, ``fashion-mnist``, ``cifar10`` and ``cifar100`` are torchvision's classes reading
their usual files under ``--root`` (``ROOT/MNIST/raw/train-images-idx3-ubyte`` …, also
gzipped; ``ROOT/cifar-10-batches-py/data_batch_1`` …); ``imagefolder:PATH`` is torchvision's
``ImageFolder``; ``signs:DIR`` the course's hand-signs h5 files (:mod:`netdsl.training.signs`).
Every item is a ``(PIL image, class index)`` pair; :mod:`netdsl.training.transforms` turns
it into the tensor the spec expects. :func:`describe` is cheap (no image is read), so a
mismatch with the spec is reported before any work starts.
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torchvision.datasets as tvd
from PIL import Image
from torch.utils.data import Dataset, Subset

from netdsl.atomic import write_atomic
from netdsl.training.errors import ConfigError, TrainingError

MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# name → (torchvision class, folder under ROOT, channels, class names or a class count)
BUILTIN: dict[str, tuple[str, str, int, Sequence[str] | int]] = {
    "mnist": ("MNIST", "MNIST", 1, tuple(str(i) for i in range(10))),
    "fashion-mnist": ("FashionMNIST", "FashionMNIST", 1, FASHION_CLASSES),
    "cifar10": ("CIFAR10", "cifar-10-batches-py", 3, CIFAR10_CLASSES),
    "cifar100": ("CIFAR100", "cifar-100-python", 3, 100),
}
ALIASES = {"fashion_mnist": "fashion-mnist", "fmnist": "fashion-mnist", "cifar-10": "cifar10", "cifar-100": "cifar100"}
KINDS = (*BUILTIN, "imagefolder:PATH", "signs:DIR")


@dataclass(frozen=True)
class DataInfo:
    """What a data set is, known without reading its images."""

    name: str  # as written on the command line
    kind: str  # a BUILTIN key, "imagefolder" or "signs"
    path: str  # --root for the built-in ones, else PATH / DIR
    channels: int
    classes: tuple[str, ...]


@dataclass
class Splits:
    """The untransformed data of a run: training part, validation part, test set (each may be absent)."""

    info: DataInfo
    train: Dataset[Any]
    val: Dataset[Any] | None
    test: Dataset[Any] | None
    val_is_test: bool  # --val-split 0: the test set validates


def parse(data: str, root: str) -> tuple[str, str]:
    """``--data`` → (kind, path)."""
    kind, sep, path = data.partition(":")
    kind = ALIASES.get(kind.lower(), kind.lower())
    if kind in BUILTIN and not sep:
        return kind, str(Path(root).expanduser())
    if kind in ("imagefolder", "signs") and sep and path:
        return kind, str(Path(path).expanduser())
    raise ConfigError(f"--data {data!r}: expected one of {', '.join(KINDS)}")


def describe(data: str, root: str) -> DataInfo:
    """Channels and class names of ``--data``; reads directory listings and h5 headers only."""
    kind, path = parse(data, root)
    if kind in BUILTIN:
        _, _, channels, classes = BUILTIN[kind]
        names = tuple(str(i) for i in range(classes)) if isinstance(classes, int) else tuple(classes)
        return DataInfo(data, kind, path, channels, names)
    if kind == "signs":
        from netdsl.training import signs

        channels, names = signs.describe(Path(path))
        return DataInfo(data, kind, path, channels, names)
    train, _ = _folders(Path(path))
    classes = tuple(sorted(d.name for d in train.iterdir() if d.is_dir() and not d.name.startswith(".")))
    if not classes:
        raise TrainingError(f"{train}: no class folders (ImageFolder expects {train}/CLASS/IMAGE.png)")
    return DataInfo(data, kind, path, _folder_channels(train), classes)


def _folders(path: Path) -> tuple[Path, Path | None]:
    """ImageFolder layout: PATH/train and PATH/val (or valid/ or test/), or PATH alone (to be split)."""
    if not path.is_dir():
        raise TrainingError(f"imagefolder: {path} is not a directory")
    if (path / "train").is_dir():
        held_out = next((path / n for n in ("val", "valid", "test") if (path / n).is_dir()), None)
        return path / "train", held_out
    return path, None


def _folder_channels(folder: Path) -> int:
    """1 when the first image is greyscale, else 3 (ImageFolder converts the rest to that mode)."""
    for image in sorted(folder.rglob("*")):
        if image.is_file() and not image.name.startswith("."):
            try:
                with Image.open(image) as im:
                    return 1 if im.mode in ("1", "L", "I", "I;16", "F") else 3
            except OSError:
                continue
    raise TrainingError(f"{folder}: no images")


def rgb_loader(path: str) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("RGB")


def grey_loader(path: str) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("L")


def load(info: DataInfo, download: bool, val_split: float, seed: int) -> Splits:
    """Open the data set and split off the validation part (the same split for a given seed)."""
    train: Dataset[Any]
    test: Dataset[Any] | None
    if info.kind == "imagefolder":
        train, held_out = _imagefolder(info)
        if held_out is not None:
            return Splits(info, train, held_out, held_out, val_is_test=False)
        test = None
    elif info.kind == "signs":
        from netdsl.training import signs

        train, test = signs.load(Path(info.path))
    else:
        train, test = _builtin(info, download)
    if val_split == 0:
        return Splits(info, train, test, test, val_is_test=True)
    part, held = split(train, val_split, seed)
    return Splits(info, part, held, test, val_is_test=False)


def split(data: Dataset[Any], fraction: float, seed: int) -> tuple[Dataset[Any], Dataset[Any]]:
    """A seeded random split: (the rest, ``fraction`` of the items)."""
    n = len(data)  # type: ignore[arg-type]
    held = round(n * fraction)
    if held < 1 or held >= n:
        raise ConfigError(f"--val-split {fraction} of {n} images leaves no training or no validation images")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    return Subset(data, sorted(order[held:])), Subset(data, sorted(order[:held]))


def _imagefolder(info: DataInfo) -> tuple[Dataset[Any], Dataset[Any] | None]:
    loader = grey_loader if info.channels == 1 else rgb_loader
    train_dir, held_dir = _folders(Path(info.path))
    train = tvd.ImageFolder(str(train_dir), loader=loader)
    if held_dir is None:
        return train, None
    held = tvd.ImageFolder(str(held_dir), loader=loader)
    if held.classes != train.classes:
        raise TrainingError(f"{held_dir}: its class folders differ from {train_dir}'s")
    return train, held


def _builtin(info: DataInfo, download: bool) -> tuple[Dataset[Any], Dataset[Any]]:
    cls_name, folder, _, _ = BUILTIN[info.kind]
    cls: Any = {"CIFAR10": CIFAR10Files, "CIFAR100": CIFAR100Files}.get(cls_name) or getattr(tvd, cls_name)
    if info.kind in ("mnist", "fashion-mnist"):
        _gunzip(Path(info.path) / folder / "raw")
    try:
        return cls(info.path, train=True, download=download), cls(info.path, train=False, download=download)
    except RuntimeError as err:
        if "not found" not in str(err) and "corrupted" not in str(err):
            raise
        where = Path(info.path) / folder
        raise TrainingError(
            f"{info.name} not found under {info.path} (looked in {where}): pass --download to fetch it, "
            "or --root DIR where it lies"
        ) from None


def _gunzip(raw: Path) -> None:
    """Unpack ``*-ubyte.gz`` files that torchvision would only unpack after a download."""
    for name in MNIST_FILES:
        packed = raw / f"{name}.gz"
        if not (raw / name).exists() and packed.exists():
            unpacked = gzip.decompress(packed.read_bytes())
            write_atomic(raw / name, unpacked)


class CIFAR10Files(tvd.CIFAR10):  # type: ignore[misc]
    """CIFAR-10 with its files' presence checked but not their md5, so re-packed or generated files load."""

    train_list: ClassVar = [[name, None] for name, _ in tvd.CIFAR10.train_list]
    test_list: ClassVar = [[name, None] for name, _ in tvd.CIFAR10.test_list]
    meta: ClassVar = {**tvd.CIFAR10.meta, "md5": None}


class CIFAR100Files(tvd.CIFAR100):  # type: ignore[misc]
    """CIFAR-100, checked as :class:`CIFAR10Files` is."""

    train_list: ClassVar = [[name, None] for name, _ in tvd.CIFAR100.train_list]
    test_list: ClassVar = [[name, None] for name, _ in tvd.CIFAR100.test_list]
    meta: ClassVar = {**tvd.CIFAR100.meta, "md5": None}


def pixel_arrays(data: Dataset[Any]) -> np.ndarray | None:
    """The data set's images as one uint8 array (N, H, W[, C]) when it keeps them in memory."""
    indices: list[int] | None = None
    while isinstance(data, Subset):
        indices = list(data.indices) if indices is None else [data.indices[i] for i in indices]
        data = data.dataset
    array = getattr(data, "data", None)
    if array is None:
        return None
    array = array.numpy() if isinstance(array, torch.Tensor) else np.asarray(array)
    return array[indices] if indices is not None else array


def statistics(data: Dataset[Any], channels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of the pixels in [0, 1] (at most 500 images if on disk)."""
    array = pixel_arrays(data)
    if array is None:
        n = len(data)  # type: ignore[arg-type]
        picks = np.linspace(0, n - 1, num=min(n, 500)).astype(int)
        images = [np.asarray(data[int(i)][0]) for i in picks]
        chunks = [im.reshape(-1, channels).astype(np.float64) for im in images]
    else:
        flat = array.reshape(len(array), -1, channels)
        chunks = [flat[i : i + 4096].reshape(-1, channels).astype(np.float64) for i in range(0, len(flat), 4096)]
    count = sum(len(c) for c in chunks)
    total = sum(c.sum(axis=0) for c in chunks) / 255.0
    squares = sum((c * c).sum(axis=0) for c in chunks) / 255.0**2
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean * mean, 1e-12))
    return tuple(float(m) for m in mean), tuple(max(float(s), 1e-3) for s in std)


def class_names(splits: Splits) -> tuple[str, ...]:
    """The class names the loaded data set gives (CIFAR-100's from its meta file), else :attr:`DataInfo.classes`."""
    data: Any = splits.train
    while isinstance(data, Subset):
        data = data.dataset
    names = getattr(data, "classes", None)
    return tuple(str(c) for c in names) if names else splits.info.classes
