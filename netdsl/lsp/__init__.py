"""``netdsl lsp``: a language server for ``.net`` files (pygls, over stdio).

Diagnostics as ``netdsl check`` reports them (on open, change and save), hovers with
each layer's shape, parameters, MACs and receptive field, completion of layer kinds,
blocks, parameters and captured values, go-to-definition, references, document
symbols and formatting. :mod:`netdsl.lsp.server` holds the server;
:mod:`~netdsl.lsp.snapshot` one analysed version of a document and its indexes;
:mod:`~netdsl.lsp.index`, :mod:`~netdsl.lsp.hover`, :mod:`~netdsl.lsp.complete`,
:mod:`~netdsl.lsp.navigate` and :mod:`~netdsl.lsp.values` answer the requests;
:mod:`~netdsl.lsp.convert` translates positions and diagnostics. Needs the
``lsp`` extra (``pip install 'netdsl[lsp]'``); nothing here imports torch.
"""

from __future__ import annotations


def serve() -> None:
    """Run the language server on stdin/stdout (imports pygls: see :func:`netdsl.lsp.server.serve`)."""
    from netdsl.lsp.server import serve as _serve

    _serve()
