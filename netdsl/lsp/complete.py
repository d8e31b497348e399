"""Completion: layer kinds, blocks, a call's parameters, names in scope, captured values, keywords.

The context comes from the text before the cursor (the user is mid-line, so the
file rarely parses); what is defined where comes from the last snapshot that did
parse. Layer kinds, their parameters, types and defaults come from the registry
(plugins' kinds included once loaded), described as ``netdsl layers`` does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from lsprotocol import types as T

from netdsl.cli.layers import first_line, type_name, usage
from netdsl.layers import REGISTRY, LayerKind
from netdsl.lower.expr import show
from netdsl.lower.scopes import source_text
from netdsl.lsp.hover import docstring, signature
from netdsl.lsp.snapshot import Snapshot

STATEMENT_KEYWORDS = ("repeat", "inline", "let", "if", "elif", "else", "input", "block", "net", "import", "requires")
EXPRESSION_KEYWORDS = ("true", "false", "and", "or", "not", "if", "else", "in", "as")
FUNCTIONS = ("min", "max", "abs", "int", "len")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_CALL = re.compile(r"(?:^|[^A-Za-z0-9_])([A-Za-z_][A-Za-z0-9_]*)\s*\Z")
_LOOKBACK = 4000  # characters scanned back for an open parenthesis


def complete(text: str, offset: int, snap: Snapshot | None) -> list[T.CompletionItem]:
    """Completion items at character ``offset`` of ``text``."""
    before = text[max(0, offset - _LOOKBACK) : offset]
    word = _WORD.search(before)
    head = before[: len(before) - len(word.group(0))] if word else before
    if head.endswith("@"):
        return _captures(snap)
    line = head.rsplit("\n", 1)[-1]
    if "#" in line or line.count('"') % 2 or line.count("'") % 2:
        return []  # in a comment or a string
    call = _open_call(head)
    names = _names_in_scope(snap, text.count("\n", 0, offset) + 1)
    if call is not None:
        return [*_parameters(call, snap), *_expression(names)]
    stripped = line.strip()
    if stripped == "" or stripped.endswith((";", "{", ":")) or stripped in ("inline", "repeat"):
        return [*_kinds(), *_blocks(snap), *_keywords(STATEMENT_KEYWORDS)]
    return [*_expression(names), *_kinds(), *_blocks(snap)]


def _open_call(head: str) -> str | None:
    """The name before the innermost unclosed ``(`` (None outside parentheses or inside ``[ ]``)."""
    depth = 0
    for i in range(len(head) - 1, -1, -1):
        c = head[i]
        if c in ")]":
            depth += 1
        elif c in "([":
            if depth == 0:
                if c == "[":
                    return None
                m = _CALL.search(head[:i])
                return m.group(1) if m else None
            depth -= 1
        elif c in "{}" and depth == 0:
            return None
    return None


def _kinds() -> Iterable[T.CompletionItem]:
    for kind in REGISTRY:
        yield T.CompletionItem(
            kind.name,
            kind=T.CompletionItemKind.Function,
            detail=usage(kind),
            documentation=T.MarkupContent(T.MarkupKind.Markdown, f"{kind.doc}\n\n({kind.origin})"),
            sort_text="1" + kind.name,
        )


def _blocks(snap: Snapshot | None) -> Iterable[T.CompletionItem]:
    if snap is None:
        return
    for name, block in snap.blocks().items():
        yield T.CompletionItem(
            name,
            kind=T.CompletionItemKind.Class,
            detail="block " + signature(block, snap.analysis.sources),
            documentation=docstring(snap, block) or None,
            sort_text="0" + name,
        )


def _parameters(call: str, snap: Snapshot | None) -> list[T.CompletionItem]:
    kind = REGISTRY.get(call)
    if kind is not None:
        return list(_kind_parameters(kind))
    block = snap.blocks().get(call) if snap is not None else None
    if block is None:
        return []
    sources = snap.analysis.sources if snap is not None else {}
    return [
        T.CompletionItem(
            p.name + "=",
            kind=T.CompletionItemKind.Property,
            insert_text=p.name + "=",
            detail="required" if p.default is None else "default " + (source_text(p.default.span, sources) or "…"),
            sort_text="0" + p.name,
        )
        for p in block.params
    ]


def _kind_parameters(kind: LayerKind) -> Iterable[T.CompletionItem]:
    fields = kind.schema.model_fields
    aliases: dict[str, list[str]] = {}
    for alias, target in kind.aliases.items():
        aliases.setdefault(target, []).append(alias)
    for name, f in fields.items():
        default = "required" if f.is_required() else "default " + ("none" if f.default is None else show(f.default))
        also = f"; alias {', '.join(aliases[name])}" if name in aliases else ""
        pos = f", positional #{kind.positional.index(name) + 1}" if name in kind.positional else ""
        yield T.CompletionItem(
            name + "=",
            kind=T.CompletionItemKind.Property,
            insert_text=name + "=",
            detail=f"{type_name(f.annotation)}, {default}{pos}{also}",
            documentation=f.description or first_line(kind.doc),
            sort_text="0" + name,
        )


def _names_in_scope(snap: Snapshot | None, line: int) -> list[tuple[str, str]]:
    """(name, what) for the parameters and lets of the definition around ``line``."""
    root = snap.root if snap is not None else None
    if root is None or snap is None:
        return []
    owner = next((b for b in root.blocks if b.span.line <= line <= b.span.end_line), None)
    if owner is None:
        return []
    out = [(p.name, f"parameter of {owner.name}") for p in owner.params]
    index = snap.index()
    if index is not None:
        out += [(i.name, "let") for i in index.items if i.what == "let" and i.owner is owner and i.span.line < line]
    return list(dict.fromkeys(out))


def _expression(names: list[tuple[str, str]]) -> list[T.CompletionItem]:
    items = [T.CompletionItem(n, kind=T.CompletionItemKind.Variable, detail=w, sort_text="0" + n) for n, w in names]
    items += [T.CompletionItem(f, kind=T.CompletionItemKind.Function, detail=f"{f}(…)") for f in FUNCTIONS]
    return [*items, *_keywords(EXPRESSION_KEYWORDS)]


def _keywords(words: Iterable[str]) -> list[T.CompletionItem]:
    return [T.CompletionItem(w, kind=T.CompletionItemKind.Keyword, sort_text="2" + w) for w in words]


def _captures(snap: Snapshot | None) -> list[T.CompletionItem]:
    index = snap.index() if snap is not None else None
    names = sorted(index.captures) if index is not None else []
    items = [T.CompletionItem(n, kind=T.CompletionItemKind.Variable, detail=f"captured with -> {n}") for n in names]
    return [*items, T.CompletionItem("in", kind=T.CompletionItemKind.Variable, detail="the block's input")]
