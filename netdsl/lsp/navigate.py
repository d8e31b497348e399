"""Navigation: go to a block's or an import's definition (across files), find a block's uses, list symbols."""

from __future__ import annotations

import os
from pathlib import Path

from lsprotocol import types as T

from netdsl.errors import Span
from netdsl.imports import library_roots, shipped_specs
from netdsl.lsp.convert import Lines, path_to_uri, span_path
from netdsl.lsp.index import Item
from netdsl.lsp.snapshot import Snapshot
from netdsl.syntax import tree as S


def definition(snap: Snapshot, item: Item) -> list[T.Location]:
    """Where the item under the cursor is defined: a block, an imported file, a parameter or ``let``, a capture."""
    if item.what in ("call", "merge", "def"):
        block = snap.blocks().get(item.name)
        return [_at(snap, block.name_span)] if block is not None else []
    if item.what == "import":
        target = resolve_import(item.name, span_path(item.span))
        return [T.Location(path_to_uri(target), T.Range(T.Position(0, 0), T.Position(0, 0)))] if target else []
    if item.what == "use":
        index = snap.index(item.span.file)
        node = index.captures.get(item.name) if index is not None else None
        return [_at(snap, node.span)] if node is not None else []
    if item.what == "name" and item.owner is not None:
        return [_at(snap, s) for s in _name_definition(snap, item)]
    return []


def _name_definition(snap: Snapshot, item: Item) -> list[Span]:
    owner = item.owner
    assert owner is not None
    index = snap.index(item.span.file)
    lets = [
        i.span
        for i in (index.items if index else [])
        if i.what == "let" and i.owner is owner and i.name == item.name and i.span.line <= item.span.line
    ]
    if lets:
        return [lets[-1]]
    return [p.span for p in owner.params if p.name == item.name][:1]


def resolve_import(text: str, importer: Path) -> Path | None:
    """The file an ``import "…"`` line names (relative to the importer, then the libraries), if it exists."""
    libs = library_roots()
    if ":" in text and not os.path.isabs(text):
        lib, _, rel = text.partition(":")
        candidates = [libs[lib] / rel] if lib in libs else []
    else:
        candidates = [importer.parent / text, shipped_specs() / text]
    return next((c.resolve() for c in candidates if c.is_file()), None)


def references(snap: Snapshot, item: Item, include_declaration: bool) -> list[T.Location]:
    """Every use of the block named by the item, in this file and the files it imports."""
    if item.what not in ("call", "def", "merge"):
        return []
    block = snap.blocks().get(item.name)
    out: list[T.Location] = []
    if include_declaration and block is not None:
        out.append(_at(snap, block.name_span))
    for file in snap.modules:
        index = snap.index(file)
        if index is not None:
            out += [_at(snap, use.span) for use in index.calls(item.name)]
    return out


def symbols(snap: Snapshot, lines: Lines) -> list[T.DocumentSymbol]:
    """Nets and blocks, with their labelled layers and groups as children."""
    root = snap.root
    index = snap.index()
    if root is None or index is None:
        return []
    children: dict[int, list[T.DocumentSymbol]] = {}
    for item in index.items:
        if item.what == "label" and item.owner is not None and item.stmt is not None:
            core = item.stmt.core
            detail = core.name if isinstance(core, (S.Call, S.Merge)) else type(core).__name__.lower()
            sym = T.DocumentSymbol(
                item.name, T.SymbolKind.Field, lines.range(item.stmt.span), lines.range(item.span), detail=detail
            )
            children.setdefault(id(item.owner), []).append(sym)
    return [
        T.DocumentSymbol(
            b.name,
            T.SymbolKind.Module if b.is_net else T.SymbolKind.Class,
            lines.range(b.span),
            lines.range(b.name_span),
            detail="net" if b.is_net else "block",
            children=children.get(id(b), []),
        )
        for b in root.blocks
    ]


def _at(snap: Snapshot, span: Span) -> T.Location:
    return T.Location(path_to_uri(span_path(span)), snap.lines(span.file).range(span))
