"""Fixtures of the language-server tests: the server (one per test module) and a workspace of files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as T
from pytest_lsp import LanguageClient

from tests.lsp.helpers import CONFIG, LIB, MAIN, PUBLISHED


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient) -> AsyncIterator[None]:
    features = lsp_client.protocol.fm.features
    keep = features[T.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]

    def record(params: T.PublishDiagnosticsParams) -> None:
        PUBLISHED.setdefault(params.uri, {})[params.version or 0] = list(params.diagnostics)
        keep(params)

    features[T.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = record
    await lsp_client.initialize_session(T.InitializeParams(capabilities=T.ClientCapabilities()))
    yield
    await lsp_client.shutdown_session()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ws")
    (root / "lib.net").write_text(LIB)
    (root / "main.net").write_text(MAIN)
    return root
