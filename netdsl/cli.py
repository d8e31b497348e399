"""The ``netdsl`` command line: argument parsing and dispatch only.

argparse (standard library) keeps start-up instant; each subcommand's work
lives in :mod:`netdsl.commands` and is imported only when that command runs,
so ``check`` and ``shapes`` never import torch or graphviz.

Exit codes: 0 success, 1 errors in a spec, 2 usage errors, 3 a plugin failed to load,
4 an internal error (a netdsl bug, reported in one line; ``NETDSL_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import fields

from netdsl import __version__
from netdsl.limits import DESCRIPTIONS, Limits, env_name, option_name, parse_limit

EXIT_OK, EXIT_SPEC, EXIT_USAGE, EXIT_PLUGIN, EXIT_INTERNAL = 0, 1, 2, 3, 4

EPILOG = """\
examples:
  netdsl check specs/resnet50.net
  netdsl shapes specs/lenet5.net --explain
  netdsl shapes specs/resnet50.net --depth 2 --input 3x160x160
  netdsl build specs/resnet18.net --set num_classes=10 -o resnet18.pt --verify
  netdsl render specs/resnet50.net -o resnet50.svg
  netdsl layers conv2d

exit codes: 0 ok, 1 errors in the spec, 2 usage error, 3 a plugin failed to load, 4 internal error.
Language reference: docs/language.md
"""


def _spec_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--set",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        dest="overrides",
        help="override a net parameter, e.g. --set num_classes=10 (repeatable)",
    )
    p.add_argument("--input", metavar="CxHxW", help="override the declared input shape, e.g. 1x28x28 or 3x224x224")
    p.add_argument(
        "--plugin",
        metavar="MODULE",
        action="append",
        default=[],
        help="import a plugin module that registers layer kinds (repeatable)",
    )
    p.add_argument("--no-color", action="store_true", help="plain diagnostics, even on a terminal")
    _limit_options(p)


def _limit_type(field: str) -> object:
    def convert(text: str) -> int | float | None:
        try:
            return parse_limit(field, text, option_name(field))
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return convert


def _limit_options(p: argparse.ArgumentParser) -> None:
    """One option per limit of :class:`netdsl.limits.Limits`, e.g. ``--max-nodes N``, ``--timeout SECONDS``."""
    group = p.add_argument_group(
        "limits",
        "guards against runaway specs, generous for any real net; each is also read from the environment "
        "(NETDSL_MAX_NODES=…, NETDSL_TIMEOUT=…)",
    )
    for f in fields(Limits):
        default = f.default
        shown = f"{default:g}" if isinstance(default, float) else f"{default:,}" if isinstance(default, int) else "none"
        group.add_argument(
            option_name(f.name),
            dest=f"limit_{f.name}",
            metavar="SECONDS" if f.name == "timeout" else "N",
            type=_limit_type(f.name),  # type: ignore[arg-type]
            help=f"{DESCRIPTIONS[f.name]} (default {shown}; env {env_name(f.name)})",
        )


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used by the docs test to keep --help honest)."""
    parser = argparse.ArgumentParser(
        prog="netdsl",
        description="netdsl: a text language for convolutional networks. Check a .net spec by static shape "
        "inference, see per-layer shapes and costs, compile it to a torch.nn.Module, draw it.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"netdsl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "check",
        help="validate specs (parse, names, blocks, shapes); one line per file",
        description="Validate each spec fully: syntax, names, blocks, arguments and static shape "
        "inference. A spec that checks clean will build. Exit 1 if any spec has errors.",
    )
    p.add_argument("specs", nargs="+", metavar="SPEC", help=".net files")
    p.add_argument("--warnings-as-errors", "-W", action="store_true", help="exit 1 on warnings too")
    p.add_argument("--format", choices=["text", "json"], default="text", help="diagnostic format")
    _spec_options(p)

    p = sub.add_parser(
        "shapes",
        help="dry run: per-layer shapes, parameters, MACs (no torch)",
        description="Static shape inference: a per-layer table of output shapes, parameters, MACs, "
        "receptive field and jump, with totals and memory estimates. Never imports torch.",
    )
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--batch", type=int, default=1, metavar="N", help="batch size for activation memory (default 1)")
    p.add_argument("--depth", type=int, metavar="D", help="fold modules deeper than D into their block's row")
    p.add_argument("--explain", action="store_true", help="show the arithmetic behind every spatial size")
    p.add_argument("--format", choices=["table", "json", "markdown", "csv"], default="table")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE (atomically) instead of stdout")
    _spec_options(p)

    p = sub.add_parser(
        "build",
        help="compile a spec to a torch.nn.Module and save it",
        description="Compile a checked spec into a torch.nn.Module whose state_dict keys follow "
        "the spec's names, and save it.",
    )
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("-o", "--output", metavar="OUT", help="output file (default: SPEC name + format suffix)")
    p.add_argument(
        "--format",
        choices=["state_dict", "torchscript", "python"],
        help="state_dict (.pt, the default), torchscript (.pt via torch.jit.script; the default and the only "
        "choice with --optimize inference) or python (standalone source)",
    )
    p.add_argument("--seed", type=int, help="seed the initialisation: the same seed gives bit-identical weights")
    p.add_argument(
        "--init",
        choices=["default", "kaiming", "xavier"],
        default="default",
        help="weight initialisation policy (default: PyTorch's own)",
    )
    p.add_argument(
        "--verify",
        action="store_true",
        help="run the module once and compare every node's shape with the static inference",
    )
    p.add_argument(
        "--device",
        default="cpu",
        help="device to build on; 'meta' builds (and --verify runs) without allocating, and writes no weights file",
    )
    p.add_argument(
        "--optimize",
        choices=["none", "inference"],
        default="none",
        help="inference: fold BatchNorm into convs, drop dropout, freeze the weights into an inference-only "
        "TorchScript module (saved as torchscript)",
    )
    p.add_argument(
        "--no-inplace",
        dest="inplace",
        action="store_false",
        help="keep every activation and add out of place (by default they overwrite inputs nothing else reads, "
        "like torchvision's ReLU(inplace=True); forward hooks then see overwritten values)",
    )
    _spec_options(p)

    p = sub.add_parser(
        "render",
        help="draw the net as a diagram (graphviz)",
        description="Draw the net with graphviz: nodes are layers named as in the spec, edges carry "
        "tensor shapes, blocks are clusters; repeated blocks fold as ×N unless --expand.",
    )
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("-o", "--output", metavar="OUT", help="output file (default: SPEC name + format suffix)")
    p.add_argument("--format", choices=["svg", "png", "pdf", "dot"], help="default: from OUT's suffix, else svg")
    p.add_argument("--depth", type=int, metavar="D", help="collapse modules deeper than D into one node")
    p.add_argument("--expand", action="store_true", help="draw every repetition instead of folding ×N")
    p.add_argument("--direction", choices=["TB", "LR"], default="TB", help="layout direction (default TB)")
    _spec_options(p)

    p = sub.add_parser(
        "layers",
        help="list layer kinds, or show one kind's parameters",
        description="List every registered layer kind with its origin, or show one kind's "
        "parameters, defaults and documentation.",
    )
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("--plugin", metavar="MODULE", action="append", default=[], help="import a plugin module first")
    return parser


class _Terminated(BaseException):  # like KeyboardInterrupt: no `except Exception` swallows it
    """SIGTERM, turned into an exception so that `finally` blocks run (no temporary output is left)."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``netdsl`` console script."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors and 0 on --help
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from netdsl.commands import common

    # A `kill` midway through writing an output must not leave a temporary file beside it (nor
    # touch the previous output): the handler unwinds like Ctrl-C. Only the main thread may set it.
    previous = signal.getsignal(signal.SIGTERM) if threading.current_thread() is threading.main_thread() else None
    if previous is not None:
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return common.dispatch(args)
    except common.UsageError as err:
        print(f"netdsl {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("netdsl: interrupted", file=sys.stderr)
        return 130
    except _Terminated:
        print("netdsl: terminated", file=sys.stderr)
        return 143
    except BrokenPipeError:
        return EXIT_OK
    except OSError as err:  # the machine's trouble, not netdsl's: a full disk, an unwritable directory
        print(f"netdsl {args.command}: error: {err}", file=sys.stderr)
        return EXIT_SPEC
    except Exception as err:  # a netdsl bug, never the user's mistake: one line, not a traceback
        if os.environ.get("NETDSL_DEBUG"):
            raise
        print(
            f"netdsl {args.command}: internal error: {type(err).__name__}: {str(err)[:500]}\n"
            "  this is a bug in netdsl: please report it with the spec; NETDSL_DEBUG=1 shows the traceback",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
