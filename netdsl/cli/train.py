"""``netdsl train SPEC --data DATASET``: train a spec on a data set, on one process or under torchrun."""

from __future__ import annotations

import argparse
import sys

from netdsl.cli.common import UsageError, parse_overrides, report
from netdsl.cli.options import spec_options
from netdsl.training import config

DESCRIPTION = (
    "Train a spec on a data set. The spec's input shape sets the image size and its output the class count; "
    "both are checked against the data before any work starts. Every epoch writes last.pt (and best.pt), "
    "metrics.csv, curves.png and summary.json into the run directory, atomically; the resolved "
    "configuration goes to config.toml. Ctrl-C saves a checkpoint and exits with 130; --resume continues. "
    "Under torchrun the same command trains with DistributedDataParallel."
)

EPILOG = """\
examples:
  netdsl train specs/lenet5.net --data fashion-mnist --root ~/data --epochs 10
  netdsl train specs/alexnet.net --data fashion-mnist --set in_channels=1 --set num_classes=10 --input 1x224x224
  netdsl train specs/resnet50_signs.net --data signs:~/datasets/signs --optimizer adam --lr 1e-3
  netdsl train --resume runs/LeNet5 --epochs 20
  netdsl train specs/lenet5.net --config train.toml --lr 0.05      (flags override the file)
  torchrun --nproc_per_node 2 -m netdsl train specs/resnet18_d2l.net --data fashion-mnist --epochs 10

run directory: config.toml, metrics.csv (epoch, split, loss, acc, lr, seconds, images_per_s),
curves.png, last.pt, best.pt, summary.json. Exit codes: 0 done, 1 spec or run error, 2 usage error,
130 interrupted (a checkpoint was saved).
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = EPILOG
    p.add_argument("spec", metavar="SPEC", nargs="?", help="the .net spec (optional with --resume)")
    config.add_arguments(p)
    p.add_argument("--config", metavar="FILE", help="TOML file of the same keys (batch_size = 128; [set] table)")
    p.add_argument(
        "--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last.pt (--epochs is the total)"
    )
    spec_options(p)


def run(args: argparse.Namespace) -> int:
    from netdsl.errors import NetdslError
    from netdsl.training.errors import ConfigError, TrainingError
    from netdsl.training.run import train

    try:
        layers = [config.read_toml(args.config)] if args.config else []
        layers.append(config.from_args(args, parse_overrides(args.overrides)))
        if args.resume is None and not any(layer.get("data") for layer in layers):
            raise ConfigError(
                "--data is required: mnist, fashion-mnist, cifar10, cifar100, imagefolder:PATH, signs:DIR"
            )
        train(layers, args.resume)
    except ConfigError as err:
        raise UsageError(str(err)) from None
    except TrainingError as err:
        print(f"netdsl train: error: {err}", file=sys.stderr)
        return 1
    except NetdslError as err:
        report(list(err.diagnostics), err.sources, args)
        return 1
    return 0
