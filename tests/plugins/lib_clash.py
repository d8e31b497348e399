"""A plugin trying to replace netdsl's own block library `netdsl`: refused."""

from pathlib import Path

from netdsl.imports import register_library

register_library("netdsl", Path(__file__).parent)
