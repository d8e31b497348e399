"""``netdsl evaluate SPEC --weights CKPT``: loss, top-1/top-5 and per-class accuracy, a confusion matrix."""

from __future__ import annotations

import argparse
import sys

from netdsl.cli.common import UsageError, parse_overrides, report
from netdsl.cli.options import spec_options

DESCRIPTION = (
    "Evaluate weights on a data set: loss, top-1 and top-5 accuracy, per-class accuracy, and a confusion "
    "matrix as CSV and PNG. The weights are a checkpoint of netdsl train (its data set, net parameters "
    "and normalisation are the defaults; a checkpoint of a different spec is refused unless --force) or "
    "any plain state_dict that loads strictly, such as torchvision's."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC", nargs="?", help="the .net spec (default: the checkpoint's)")
    p.add_argument("--weights", metavar="CKPT", required=True, help="last.pt, best.pt, a run directory or a state_dict")
    p.add_argument("--data", metavar="DATASET", help="as for netdsl train (default: the checkpoint's)")
    p.add_argument("--root", metavar="DIR", help="torchvision's data directory (default: the checkpoint's, else data)")
    p.add_argument("--download", action="store_true", help="let torchvision download a missing data set")
    p.add_argument("--split", choices=["test", "val", "train"], default="test", help="which images (default test)")
    p.add_argument("--batch-size", type=int, default=256, metavar="B", help="batch size (default 256)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="(default auto)")
    p.add_argument("--workers", type=int, default=0, metavar="W", help="DataLoader workers (default 0)")
    p.add_argument("--out", metavar="DIR", help="where the confusion matrix goes (default: beside the weights)")
    p.add_argument("--force", action="store_true", help="evaluate a checkpoint even if its spec's sha256 differs")
    spec_options(p)


def run(args: argparse.Namespace) -> int:
    from netdsl.errors import NetdslError
    from netdsl.training.errors import ConfigError, TrainingError
    from netdsl.training.evaluation import EvalOptions, evaluate

    if args.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    if args.workers < 0:
        raise UsageError("--workers must not be negative")
    options = EvalOptions(
        weights=args.weights, spec=args.spec, data=args.data, root=args.root, split=args.split,
        batch_size=args.batch_size, device=args.device, workers=args.workers, out=args.out, force=args.force,
        download=args.download, overrides=parse_overrides(args.overrides), input=args.input,
    )  # fmt: skip
    try:
        evaluate(options, sys.stdout)
    except ConfigError as err:
        raise UsageError(str(err)) from None
    except TrainingError as err:
        print(f"netdsl evaluate: error: {err}", file=sys.stderr)
        return 1
    except NetdslError as err:
        report(list(err.diagnostics), err.sources, args)
        return 1
    return 0
