"""``netdsl lsp``: run the language server on stdin and stdout (for editors; see docs/lsp.md)."""

from __future__ import annotations

import argparse
import sys

from netdsl.cli.options import plugin_option

INSTALL = "pip install 'netdsl[lsp]'"

DESCRIPTION = (
    "Run the netdsl language server over stdio, for editors: diagnostics as `check` reports them, "
    "hovers with shapes and costs, completion, go-to-definition, references, symbols and formatting. "
    "Needs pygls: pip install 'netdsl[lsp]'."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stdio", action="store_true", help="talk over stdin/stdout (the default and only transport)")
    p.add_argument("--log-file", metavar="FILE", help="write the server's log (analysis times, errors) to FILE")
    plugin_option(p)


def run(args: argparse.Namespace) -> int:
    try:
        from netdsl.lsp.server import serve
    except ImportError as err:  # the `lsp` extra is not installed
        missing = (err.name or "").split(".")[0]
        if missing not in ("pygls", "lsprotocol", "cattrs"):
            raise
        print(f"netdsl lsp: error: the language server needs pygls ({missing} is missing): {INSTALL}", file=sys.stderr)
        return 2
    if args.log_file:
        import logging

        logging.basicConfig(filename=args.log_file, level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        logging.getLogger("pygls").setLevel(logging.WARNING)  # not every message sent and received
    serve()
    return 0
