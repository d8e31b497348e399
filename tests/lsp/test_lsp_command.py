"""`netdsl lsp` as a command: listed, a clear error without pygls, a clean shutdown and exit."""

from __future__ import annotations

import subprocess
import sys

import pytest
from lsprotocol import types as T
from pytest_lsp import make_test_lsp_client

from tests.lsp.helpers import CONFIG


def test_listed_in_the_command_table() -> None:
    out = subprocess.run([sys.executable, "-m", "netdsl", "--help"], capture_output=True, text=True, check=True)
    assert "lsp" in out.stdout and "language server" in out.stdout


def test_without_pygls_one_line_with_the_install_hint() -> None:
    code = "import sys; sys.modules['pygls'] = None; from netdsl.cli import main; sys.exit(main(['lsp']))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "netdsl lsp: error: the language server needs pygls (pygls is missing): pip install 'netdsl[lsp]'"
    ]


@pytest.mark.asyncio
async def test_shutdown_and_exit_end_the_process() -> None:
    client = make_test_lsp_client()
    await client.start_io(*CONFIG.server_command)
    result = await client.initialize_session(T.InitializeParams(capabilities=T.ClientCapabilities()))
    assert result.server_info is not None and result.server_info.name == "netdsl"
    caps = result.capabilities
    assert caps.hover_provider and caps.definition_provider and caps.references_provider
    assert caps.document_symbol_provider and caps.document_formatting_provider and caps.completion_provider
    await client.shutdown_session()  # shutdown, then exit, then waits for the process
    assert client._server is not None and client._server.returncode == 0


def test_the_server_never_imports_torch() -> None:
    code = """
import sys
from pathlib import Path
import netdsl.lsp.server
from netdsl.lsp.complete import complete
from netdsl.lsp.hover import hover_text
from netdsl.lsp.navigate import definition, references, symbols
from netdsl.lsp.snapshot import analyse
path = Path("specs/resnet50.net").resolve()
text = path.read_text()
snap = analyse(path, text, 1)
snap.prepare()
for item in snap.index().items:
    hover_text(snap, item)
    definition(snap, item)
    references(snap, item, True)
symbols(snap, snap.lines())
complete(text, len(text) - 2, snap)
print("torch" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
