"""Options shared by the commands that read a spec: ``--set``, ``--input``, ``--plugin``, limits."""

from __future__ import annotations

import argparse
from dataclasses import fields

from netdsl.limits import DESCRIPTIONS, Limits, env_name, option_name, parse_limit


def spec_options(p: argparse.ArgumentParser) -> None:
    """``--set``, ``--input``, ``--plugin``, ``--no-color`` and one option per limit."""
    p.add_argument(
        "--set",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        dest="overrides",
        help="override a net parameter, e.g. --set num_classes=10 (repeatable)",
    )
    p.add_argument("--input", metavar="CxHxW", help="override the declared input shape, e.g. 1x28x28 or 3x224x224")
    plugin_option(p)
    p.add_argument("--no-color", action="store_true", help="plain diagnostics, even on a terminal")
    limit_options(p)


def plugin_option(p: argparse.ArgumentParser) -> None:
    """``--plugin MODULE`` (repeatable)."""
    p.add_argument(
        "--plugin",
        metavar="MODULE",
        action="append",
        default=[],
        help="import a plugin module that registers layer kinds (repeatable)",
    )


def _limit_type(field: str) -> object:
    def convert(text: str) -> int | float | None:
        try:
            return parse_limit(field, text, option_name(field))
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return convert


def limit_options(p: argparse.ArgumentParser) -> None:
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
