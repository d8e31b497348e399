"""The ``netdsl`` command line: argument parsing and dispatch only.

argparse (standard library) keeps start-up instant; each subcommand's work
lives in its own module of this package (:mod:`netdsl.cli.table` lists them) and is
imported only when that command runs,
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

from netdsl import __version__
from netdsl.cli.table import BY_NAME, COMMANDS

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


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser: every command of :data:`~netdsl.cli.table.COMMANDS` as a subcommand.

    With ``only``, just that command's arguments are filled in, so running a command imports
    one command module, not all of them (start-up time); the others still appear in the list.
    The full parser (``only=None``) is what ``--help`` and the docs test see.
    """
    parser = argparse.ArgumentParser(
        prog="netdsl",
        description="netdsl: a text language for convolutional networks. Check a .net spec by static shape "
        "inference, see per-layer shapes and costs, compile it to a torch.nn.Module, draw it.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"netdsl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        if only is not None and command.name != only:
            sub.add_parser(command.name, help=command.help)
            continue
        module = command.load()
        p = sub.add_parser(command.name, help=command.help, description=module.DESCRIPTION)
        module.add_arguments(p)
    return parser


class _Terminated(BaseException):  # like KeyboardInterrupt: no `except Exception` swallows it
    """SIGTERM, turned into an exception so that `finally` blocks run (no temporary output is left)."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``netdsl`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv[0] if argv and argv[0] in BY_NAME else None)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors and 0 on --help
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from netdsl.cli import common
    from netdsl.errors import printable
    from netdsl.limits import using

    # A `kill` midway through writing an output must not leave a temporary file beside it (nor
    # touch the previous output): the handler unwinds like Ctrl-C. Only the main thread may set it.
    previous = signal.getsignal(signal.SIGTERM) if threading.current_thread() is threading.main_thread() else None
    if previous is not None:
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        limits = common.limits_from(args)
        failed = common.load_plugins(args)
        if failed is not None:
            return failed
        with using(limits):  # every analysis this command runs gets the command line's limits
            return int(BY_NAME[args.command].load().run(args))
    except common.UsageError as err:
        print(f"netdsl {args.command}: error: {printable(str(err))}", file=sys.stderr)
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
        print(f"netdsl {args.command}: error: {printable(str(err))}", file=sys.stderr)
        return EXIT_SPEC
    except Exception as err:  # a netdsl bug, never the user's mistake: one line, not a traceback
        if os.environ.get("NETDSL_DEBUG"):
            raise
        print(
            f"netdsl {args.command}: internal error: {type(err).__name__}: {printable(str(err)[:500])}\n"
            "  this is a bug in netdsl: please report it with the spec; NETDSL_DEBUG=1 shows the traceback",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
