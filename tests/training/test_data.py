"""Each data set in its real on-disk format, through torchvision's own classes; the spec/data checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from training_data import LENET, make_cifar, make_imagefolder, make_mnist, make_signs

from netdsl.cli import main
from netdsl.training import datasets
from netdsl.training.errors import ConfigError, TrainingError
from netdsl.training.prepare import check_fit, inspect_spec

ALEXNET = str(Path(LENET).with_name("alexnet.net"))


def _first(data: object) -> tuple[Image.Image, int]:
    return data[0]  # type: ignore[index, no-any-return]


def test_mnist_raw_idx_files(mnist_root: Path) -> None:
    info = datasets.describe("mnist", str(mnist_root))
    assert (info.channels, len(info.classes)) == (1, 10)
    splits = datasets.load(info, download=False, val_split=0.25, seed=0)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (300, 100, 100)  # type: ignore[arg-type]
    image, label = _first(splits.train)
    assert image.mode == "L" and image.size == (28, 28) and 0 <= label < 10


def test_fashion_mnist_gzipped_idx_files_are_unpacked(tmp_path: Path) -> None:
    root = make_mnist(tmp_path, "FashionMNIST", 60, 20, packed=True)
    splits = datasets.load(datasets.describe("fashion-mnist", str(root)), False, 0.0, 0)
    assert (root / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").is_file()
    assert splits.val_is_test and len(splits.train) == 60 and splits.val is splits.test  # type: ignore[arg-type]
    assert datasets.class_names(splits)[0] == "T-shirt/top"


def test_the_split_is_seeded(mnist_root: Path) -> None:
    info = datasets.describe("mnist", str(mnist_root))
    a, b, c = (datasets.load(info, False, 0.1, seed).val for seed in (0, 0, 1))
    assert a.indices == b.indices != c.indices  # type: ignore[union-attr]


@pytest.mark.parametrize("hundred", [False, True])
def test_cifar_python_pickles(tmp_path: Path, hundred: bool) -> None:
    root = make_cifar(tmp_path, hundred, n_per_file=12)
    info = datasets.describe("cifar100" if hundred else "cifar10", str(root))
    splits = datasets.load(info, False, 0.0, 0)
    assert len(splits.train) == (12 if hundred else 60) and len(splits.test) == 12  # type: ignore[arg-type]
    image, _ = _first(splits.train)
    assert image.mode == "RGB" and image.size == (32, 32)
    assert len(datasets.class_names(splits)) == (100 if hundred else 10)
    assert datasets.class_names(splits)[3] == "class3"  # read from the meta file
    mean, std = datasets.statistics(splits.train, 3)
    assert len(mean) == 3 and all(0 < m < 1 for m in mean) and all(s > 0 for s in std)


def test_imagefolder_with_train_and_val_folders(tmp_path: Path) -> None:
    root = make_imagefolder(tmp_path / "imgs", classes=3, per_class=4, size=20, split_folders=True)
    info = datasets.describe(f"imagefolder:{root}", "unused")
    assert (info.channels, info.classes) == (3, ("c0", "c1", "c2"))
    splits = datasets.load(info, False, 0.1, 0)
    assert len(splits.train) == 12 and len(splits.val) == 12 and splits.test is splits.val  # type: ignore[arg-type]


def test_imagefolder_without_folders_is_split(tmp_path: Path) -> None:
    root = make_imagefolder(tmp_path / "imgs", classes=2, per_class=10, size=16, split_folders=False)
    splits = datasets.load(datasets.describe(f"imagefolder:{root}", ""), False, 0.25, 0)
    assert (len(splits.train), len(splits.val)) == (30, 10) and splits.test is None  # type: ignore[arg-type]


def test_signs_h5_files(tmp_path: Path) -> None:
    pytest.importorskip("h5py")
    folder = make_signs(tmp_path / "signs", n_train=30, n_test=12)
    info = datasets.describe(f"signs:{folder}", "")
    assert (info.channels, len(info.classes)) == (3, 6)
    splits = datasets.load(info, False, 0.2, 0)
    image, label = _first(splits.test)
    assert (len(splits.train), len(splits.val)) == (24, 6)  # type: ignore[arg-type]
    assert image.size == (64, 64) and 0 <= label < 6
    with pytest.raises(TrainingError, match=r"train_signs\.h5 not found"):
        datasets.describe(f"signs:{tmp_path}", "")


def test_a_mismatch_of_channels_or_classes_names_the_fix(fmnist_root: Path) -> None:
    fashion = datasets.describe("fashion-mnist", str(fmnist_root))
    with pytest.raises(TrainingError) as err:
        check_fit(inspect_spec("specs/alexnet.net", {}, None), fashion)
    assert str(err.value) == "specs/alexnet.net expects 3 input channels; fashion-mnist has 1: try --set in_channels=1"
    with pytest.raises(TrainingError, match="outputs 10 classes; cifar100 has 100: try --set num_classes=100"):
        check_fit(inspect_spec(LENET, {"in_channels": 3}, None), datasets.describe("cifar100", "x"))
    check_fit(inspect_spec(ALEXNET, {"in_channels": 1, "num_classes": 10}, None), fashion)  # fits


def test_unknown_or_missing_data_sets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match="expected one of mnist, fashion-mnist"):
        datasets.parse("imagenet", "")
    assert main(["train", LENET, "--data", "mnist", "--root", str(tmp_path), "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert "mnist not found under" in err and "--download" in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()  # nothing started
