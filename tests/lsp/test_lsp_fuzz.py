"""1,000 random edits, partial lines included, sent as an editor sends keystrokes: the server survives them.

Edits insert and delete random snippets (half-typed calls, stray braces, quotes,
non-ASCII text) at random places, without waiting for the server; every hundred,
a hover and a completion are asked for at a random place. Afterwards the server
still answers, and a clean text gets empty diagnostics and a hover with shapes.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from lsprotocol import types as T
from pytest_lsp import LanguageClient

from tests.lsp.helpers import MAIN, position, published

pytestmark = pytest.mark.asyncio(loop_scope="module")

SNIPPETS = (
    "conv2d(", "conv2d(16, 3", ")", "(", "{", "}", "\n", "\n    ", ";", " ", "relu", "add {", "@", "@skip",
    "-> x", "repeat ", "repeat 3 ", "Res(", "= ", "let y = ", "if in.c != 3 {", "else", "'same'", '"', "#",
    "# comment\n", "×", "é", "🙂", "1e", "0x", "//", "**", "[", "]", "inline ", "import \"lib.net\"\n", "net ",
)  # fmt: skip


def _offset(text: str, pos: T.Position) -> int:
    lines = text.split("\n")
    return sum(len(line) + 1 for line in lines[: pos.line]) + pos.character


def _position(text: str, offset: int) -> T.Position:
    line = text.count("\n", 0, offset)
    col = offset - (text.rfind("\n", 0, offset) + 1)
    # the client speaks UTF-16: characters beyond the BMP count twice
    head = text[text.rfind("\n", 0, offset) + 1 : offset]
    return T.Position(line, col + sum(1 for c in head if ord(c) > 0xFFFF))


def _edit(rng: random.Random, text: str) -> tuple[str, T.TextDocumentContentChangePartial]:
    start = rng.randrange(len(text) + 1)
    end = min(len(text), start + (rng.choice((0, 0, 1, 2, 5, 20)) if rng.random() < 0.5 else 0))
    new = rng.choice(SNIPPETS) if rng.random() < 0.7 else ""
    change = T.TextDocumentContentChangePartial(T.Range(_position(text, start), _position(text, end)), new)
    return text[:start] + new + text[end:], change


async def test_random_edits_never_crash_the_server(client: LanguageClient, workspace: Path) -> None:
    path = workspace / "fuzz.net"
    uri = path.as_uri()
    ident = T.TextDocumentIdentifier(uri)
    client.text_document_did_open(T.DidOpenTextDocumentParams(T.TextDocumentItem(uri, "netdsl", 0, MAIN)))
    await published(client, uri, 0)
    rng = random.Random(18)
    text = MAIN
    for version in range(1, 1001):
        text, change = _edit(rng, text)
        versioned = T.VersionedTextDocumentIdentifier(version=version, uri=uri)
        client.text_document_did_change(T.DidChangeTextDocumentParams(versioned, [change]))
        if version % 100 == 50:
            at = _position(text, rng.randrange(len(text) + 1))
            await client.text_document_hover_async(T.HoverParams(ident, at))
            await client.text_document_completion_async(T.CompletionParams(ident, at))
    await published(client, uri, 1000)  # the last version is always analysed (edits in between coalesce)
    versioned = T.VersionedTextDocumentIdentifier(version=1001, uri=uri)
    client.text_document_did_change(
        T.DidChangeTextDocumentParams(versioned, [T.TextDocumentContentChangeWholeDocument(MAIN)])
    )
    assert await published(client, uri, 1001) == []
    result = await client.text_document_hover_async(T.HoverParams(ident, position(MAIN, "conv2d(width")))
    assert result is not None and isinstance(result.contents, T.MarkupContent)
    assert "N×16×32×32" in result.contents.value
    assert client.error is None
