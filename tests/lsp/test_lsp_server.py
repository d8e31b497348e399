"""The language server as an editor uses it: every request over stdio against the real server."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types as T
from pytest_lsp import LanguageClient

from netdsl.pipeline import analyze
from tests.lsp.helpers import MAIN, PUBLISHED, position, published

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def open_doc(client: LanguageClient, path: Path, text: str, version: int = 1) -> list[T.Diagnostic]:
    uri = path.as_uri()
    _OPEN.add(uri)
    client.text_document_did_open(T.DidOpenTextDocumentParams(T.TextDocumentItem(uri, "netdsl", version, text)))
    return await published(client, uri, version)


_OPEN: set[str] = set()


async def ensure_open(client: LanguageClient, path: Path) -> None:
    """Open the workspace's main.net once per server (tests may run alone)."""
    if path.as_uri() not in _OPEN:
        await open_doc(client, path, MAIN, 100)


async def change(client: LanguageClient, path: Path, text: str, version: int) -> list[T.Diagnostic]:
    uri = path.as_uri()
    ident = T.VersionedTextDocumentIdentifier(version=version, uri=uri)
    client.text_document_did_change(
        T.DidChangeTextDocumentParams(ident, [T.TextDocumentContentChangeWholeDocument(text)])
    )
    return await published(client, uri, version)


async def hover(client: LanguageClient, path: Path, pos: T.Position) -> str:
    result = await client.text_document_hover_async(T.HoverParams(T.TextDocumentIdentifier(path.as_uri()), pos))
    assert result is not None
    assert isinstance(result.contents, T.MarkupContent)
    return result.contents.value


async def test_diagnostics_match_check(client: LanguageClient, workspace: Path) -> None:
    main = workspace / "main.net"
    assert await open_doc(client, main, MAIN) == []
    bad = MAIN.replace("head: global_avgpool", "head: global_avgpol")
    diags = await change(client, main, bad, 2)
    expected = analyze(main, text=bad).diagnostics
    assert [d.code for d in diags] == [d.code for d in expected] == ["E101"]
    assert diags[0].message.splitlines()[0] == expected[0].message
    assert diags[0].severity == T.DiagnosticSeverity.Error and diags[0].source == "netdsl"
    assert diags[0].range.start == position(bad, "global_avgpol")
    assert "hint: did you mean `global_avgpool`?" in diags[0].message
    wrong = MAIN.replace("conv2: conv2d(c, 3, padding=1)", "conv2: conv2d(c * 2, 3, padding=1)")
    diags = await change(client, main, wrong, 3)
    expected = analyze(main, text=wrong).diagnostics
    assert [d.code for d in diags] == [d.code for d in expected] == ["E301"]
    layer = f" (layer `{expected[0].layer}`)" if expected[0].layer else ""
    assert diags[0].message.splitlines()[0] == expected[0].message + layer
    related = diags[0].related_information or []
    assert related and related[0].message.startswith("in block Res, used as body.0")
    assert related[0].location.range.start == position(wrong, "Res(width)")
    assert await change(client, main, MAIN, 4) == []


async def test_warning_and_save(client: LanguageClient, workspace: Path) -> None:
    path = workspace / "warn.net"
    text = "net W {\n    input(3, 32, 32)\n    maxpool(3, stride=2)\n}\n"
    path.write_text(text)
    diags = await open_doc(client, path, text)
    assert diags and all(d.severity == T.DiagnosticSeverity.Warning for d in diags)
    assert diags[0].code == "W401"
    client.text_document_did_save(T.DidSaveTextDocumentParams(T.TextDocumentIdentifier(path.as_uri())))
    assert [d.code for d in await published(client, path.as_uri(), 1)] == ["W401"]


async def test_hover_layer_block_and_name(client: LanguageClient, workspace: Path) -> None:
    main = workspace / "main.net"
    await ensure_open(client, main)
    layer = await hover(client, main, position(MAIN, "conv2d(width"))
    assert "**conv2d**" in layer and "N×16×32×32" in layer and "params 448" in layer and "MACs" in layer
    assert "receptive field 3×3" in layer and "H: (32 + 2·1 − 3) + 1 = 32" in layer.replace("2 × 1", "2·1")
    use = await hover(client, main, position(MAIN, "Res(width)"))
    assert "block Res(c)" in use and "2 instances" in use and "`body.0`" in use
    inner = await hover(client, main, position(MAIN, "conv2: conv2d", offset=7))
    assert "2 instances" in inner and "body.0.conv2" in inner
    name = await hover(client, main, position(MAIN, "conv2d(c,", offset=7))
    assert "`c` = `16`" in name and "parameter of block Res" in name
    param = await hover(client, main, position(MAIN, "Res(c)", offset=4))
    assert "`c` = `16`" in param and "parameter of block Res" in param
    width = await hover(client, main, position(MAIN, "width=16"))
    assert "`width` = `16`" in width
    doc = await hover(client, main, position(MAIN, "ConvBN(c)"))  # a block of the imported lib.net
    assert "block ConvBN(c, k=3)" in doc and "A 3×3 convolution, batch-normalised." in doc


async def test_completion(client: LanguageClient, workspace: Path) -> None:
    main = workspace / "main.net"
    await ensure_open(client, main)
    uri = T.TextDocumentIdentifier(main.as_uri())

    async def labels(pos: T.Position) -> dict[str, T.CompletionItem]:
        result = await client.text_document_completion_async(T.CompletionParams(uri, pos))
        items = result.items if isinstance(result, T.CompletionList) else result or []
        return {i.label: i for i in items}

    start = await labels(position(MAIN, "    head:"))
    assert {"conv2d", "batchnorm", "add", "ConvBN", "Res", "repeat", "let", "lsp_twice"} <= set(start)
    assert "tests.lsp.sample_plugin" in str(start["lsp_twice"].documentation)  # the plugin's kind, by origin
    assert start["conv2d"].detail and start["conv2d"].detail.startswith("conv2d(out_channels, kernel_size")
    params = await labels(position(MAIN, "conv2d(width, ", offset=len("conv2d(width, ")))
    assert "kernel_size=" in params and "padding=" in params and "width" in params
    assert "default" in (params["stride="].detail or "")
    plugin = await change(client, main, MAIN.replace("fc: linear(", "lsp_twice(3)\n    fc: linear("), 9)
    assert plugin == []  # the plugin's kind checks, as with `netdsl check --plugin`
    block_params = await labels(position(MAIN, "Res(width", offset=4))
    assert "c=" in block_params
    edited = MAIN.replace("    @skip", "    @sk")
    await change(client, main, edited, 10)
    captures = await labels(position(edited, "@sk", offset=3))
    assert "skip" in captures
    await change(client, main, MAIN, 11)


async def test_definition_references_symbols(client: LanguageClient, workspace: Path) -> None:
    main = workspace / "main.net"
    await ensure_open(client, main)
    uri = T.TextDocumentIdentifier(main.as_uri())
    found = await client.text_document_definition_async(T.DefinitionParams(uri, position(MAIN, "ConvBN(c)")))
    assert isinstance(found, list) and found[0].uri == (workspace / "lib.net").as_uri()
    assert found[0].range.start == T.Position(2, 6)
    imp = await client.text_document_definition_async(T.DefinitionParams(uri, position(MAIN, "lib.net")))
    assert isinstance(imp, list) and imp[0].uri == (workspace / "lib.net").as_uri()
    local = await client.text_document_definition_async(T.DefinitionParams(uri, position(MAIN, "Res(width)")))
    assert isinstance(local, list) and local[0].range.start == position(MAIN, "Res(c)")
    refs = await client.text_document_references_async(
        T.ReferenceParams(
            text_document=uri, position=position(MAIN, "Res(c)"), context=T.ReferenceContext(include_declaration=True)
        )
    )
    assert refs is not None and sorted(r.range.start.line for r in refs) == [2, 12]
    symbols = await client.text_document_document_symbol_async(T.DocumentSymbolParams(uri))
    assert symbols is not None
    by_name = {s.name: s for s in symbols if isinstance(s, T.DocumentSymbol)}
    assert set(by_name) == {"Res", "Small"}
    assert {c.name for c in by_name["Small"].children or []} == {"stem", "body", "head", "fc"}
    assert {c.name for c in by_name["Res"].children or []} == {"conv2"}


async def test_formatting(client: LanguageClient, workspace: Path) -> None:
    path = workspace / "messy.net"
    messy = "net Messy {\n  input(3,8,8)\n        conv2d(4,3) ;relu\n}\n"
    path.write_text(messy)
    await open_doc(client, path, messy)
    edits = await client.text_document_formatting_async(
        T.DocumentFormattingParams(T.TextDocumentIdentifier(path.as_uri()), T.FormattingOptions(4, True))
    )
    assert edits is not None
    try:
        from netdsl.formatter import format_text
    except ImportError:  # the formatter is not there: the server says so and changes nothing
        assert edits == []
        return
    assert len(edits) == 1 and edits[0].range.start == T.Position(0, 0)
    assert edits[0].range.end == T.Position(4, 0)
    assert edits[0].new_text == format_text(messy) != messy
    assert analyze(path, text=edits[0].new_text).ok


async def test_saving_an_import_rechecks_the_files_that_use_it(client: LanguageClient, workspace: Path) -> None:
    dep, user = workspace / "dep.net", workspace / "user.net"
    dep.write_text("block Pair(c) {\n    conv2d(c, 3, padding=1); relu\n}\n")
    text = 'import "dep.net"\nnet User {\n    input(3, 8, 8)\n    Pair(4)\n}\n'
    user.write_text(text)
    assert await open_doc(client, user, text) == []
    library = await open_doc(client, dep, dep.read_text())  # a library: only blocks
    assert [(d.code, d.severity) for d in library] == [("E206", T.DiagnosticSeverity.Information)]
    dep.write_text("block Pair(c) {\n    conv2d(c, 3, padding=1); relux\n}\n")
    PUBLISHED[user.as_uri()].pop(1)
    client.text_document_did_save(T.DidSaveTextDocumentParams(T.TextDocumentIdentifier(dep.as_uri())))
    diags = await published(client, user.as_uri(), 1)
    assert [d.code for d in diags] == ["E101"]
    assert diags[0].message.startswith(f"{dep}:2:30: unknown layer or block `relux`")
    assert diags[0].related_information and diags[0].related_information[0].location.uri == dep.as_uri()
