"""Shared by the language-server tests: the workspace's files, the server command, waiting for diagnostics."""

from __future__ import annotations

import asyncio
import sys

from lsprotocol import types as T
from pytest_lsp import ClientServerConfig, LanguageClient

LIB = """\
# A 3×3 convolution, batch-normalised.
# Used everywhere below.
block ConvBN(c, k=3) {
    conv: conv2d(c, k, padding=k // 2, bias=false)
    bn: batchnorm
    relu
}
"""

MAIN = """\
import "lib.net"

block Res(c) {
    add {
        { ConvBN(c); conv2: conv2d(c, 3, padding=1) }
        {}
    }
}

net Small(width=16, num_classes=10) {
    input(3, 32, 32)
    stem: conv2d(width, 3, padding=1) -> skip
    body: repeat 2 Res(width)
    @skip
    head: global_avgpool
    fc: linear(num_classes)
}
"""

CONFIG = ClientServerConfig(
    server_command=[sys.executable, "-m", "netdsl", "lsp", "--plugin", "tests.lsp.sample_plugin"]
)

#: uri → version → the diagnostics published for it (every notification, as none may be missed).
PUBLISHED: dict[str, dict[int, list[T.Diagnostic]]] = {}


async def published(client: LanguageClient, uri: str, version: int) -> list[T.Diagnostic]:
    """Wait for the diagnostics of one version of a document (30 s at most)."""
    for _ in range(3000):
        found = PUBLISHED.get(uri, {}).get(version)
        if found is not None:
            return found
        await asyncio.sleep(0.01)
    raise TimeoutError(f"no diagnostics for version {version} of {uri}")


def position(text: str, needle: str, nth: int = 0, offset: int = 0) -> T.Position:
    """The position of the ``nth`` occurrence of ``needle`` (plus ``offset`` characters)."""
    at = -1
    for _ in range(nth + 1):
        at = text.index(needle, at + 1)
    at += offset
    return T.Position(text.count("\n", 0, at), at - (text.rfind("\n", 0, at) + 1))
