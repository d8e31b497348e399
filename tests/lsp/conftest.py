"""The language server under test: `python -m netdsl lsp`, driven over stdio by pytest-lsp's client.

Without the `lsp` extra (pygls) or pytest-lsp, these tests are not collected.
"""

from __future__ import annotations

import importlib.util

if any(importlib.util.find_spec(m) is None for m in ("pygls", "lsprotocol", "pytest_lsp")):
    collect_ignore_glob = ["test_*.py"]
else:
    from tests.lsp.fixtures import client, workspace

    __all__ = ["client", "workspace"]
