"""Hover texts: what the shape pass knows about a layer or block use, a name's value, a block's signature.

Everything is read from a :class:`~netdsl.lsp.snapshot.Snapshot`'s indexes, so a hover
is a few dictionary lookups; a statement inside a block that is used many times
summarises its instances (how many, their distinct output shapes) and details the first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from netdsl.cli.layers import first_line, usage
from netdsl.errors import Span
from netdsl.imports import display_name
from netdsl.layers import REGISTRY
from netdsl.lower.expr import show
from netdsl.lower.scopes import source_text
from netdsl.lsp.convert import span_path
from netdsl.lsp.index import Item
from netdsl.lsp.navigate import resolve_import
from netdsl.lsp.snapshot import Snapshot
from netdsl.shapes import NodeInfo
from netdsl.shapes.report import human
from netdsl.shapes.result import fmt_shape
from netdsl.syntax import tree as S

#: Instances listed by name before "…".
SHOWN = 3


def hover_text(snap: Snapshot, item: Item) -> str | None:
    """Markdown for the item under the cursor, or None when there is nothing to say."""
    if item.what in ("call", "merge", "label"):
        return _module(snap, item)
    if item.what == "def":
        assert isinstance(item.node, S.BlockDef)
        return _block(snap, item.node)
    if item.what in ("name", "param", "let"):
        return _name(snap, item)
    if item.what == "use":
        return _use(snap, item)
    if item.what == "import":
        target = resolve_import(item.name, span_path(item.span))
        return f"import `{item.name}`: " + (display_name(target) if target else "not found")
    return None


def _use(snap: Snapshot, item: Item) -> str:
    index = snap.index(item.span.file)
    node = index.captures.get(item.name) if index is not None else None
    if node is None:
        return f"`@{item.name}`: " + ("the block's input" if item.name == "in" else "never captured")
    return f"`@{item.name}`: the value captured at line {node.span.line}" + _facts(snap.nodes_at(node.span))


def _module(snap: Snapshot, item: Item) -> str:
    stmt = item.stmt
    infos = snap.nodes_at(stmt.span) if stmt is not None else []
    if item.what == "label" and stmt is not None:
        core = stmt.core
        name = core.name if isinstance(core, (S.Call, S.Merge)) else None
    else:
        name = item.name
    block = snap.blocks().get(name) if name else None
    if block is not None:
        head = f"```netdsl\nblock {signature(block, snap.analysis.sources)}\n```\n" + docstring(snap, block)
    elif name is not None and (kind := REGISTRY.get(name)) is not None:
        head = f"**{kind.name}** ({kind.origin}): {first_line(kind.doc)}\n\n`{usage(kind)}`"
    else:
        head = f"`{name or item.name}`"
    if not infos and stmt is not None and isinstance(stmt.core, S.Call) and stmt.core.inline:
        return head + _inlined(snap.inlined_at(stmt.span))
    return head + _facts(infos)


def _inlined(infos: Sequence[NodeInfo]) -> str:
    if not infos:
        return _facts(infos)
    top = min(i.depth for i in infos)
    outer = [i for i in infos if i.depth == top]
    params = sum(i.cost.params for i in outer)
    macs = sum(i.cost.macs for i in outer)
    last = outer[-1]
    lines = ["\n", f"inlined: {len(outer):,} modules here (`{outer[0].id}` … `{last.id}`)"]
    lines.append(f"- output **N×{fmt_shape(last.output)}**")
    lines.append(f"- params {params:,} · MACs {macs:,} ({human(macs)})")
    if last.rf:
        lines.append(f"- receptive field {'×'.join(map(str, last.rf))}")
    return "\n".join(lines)


def _facts(infos: Sequence[NodeInfo]) -> str:
    if not infos:
        return "\n\n(no shapes: the spec has errors, or this statement is not built)"
    first = infos[0]
    lines = ["\n"]
    if len(infos) > 1:
        names = ", ".join(f"`{i.id}`" for i in infos[:SHOWN]) + (", …" if len(infos) > SHOWN else "")
        lines.append(f"{len(infos):,} instances: {names}")
        outputs = Counter(fmt_shape(i.output) for i in infos)
        if len(outputs) > 1:
            lines.append("outputs: " + ", ".join(f"N×{s} (×{n})" for s, n in outputs.most_common(SHOWN)))
        lines.append(f"first, `{first.id}`:")
    elif first.id:
        lines.append(f"module `{first.id}`" + (f" ({first.label})" if first.label else ""))
    inputs = ", ".join("N×" + fmt_shape(s) for s in first.inputs) or "?"
    lines.append(f"- input {inputs} → output **N×{fmt_shape(first.output)}**")
    cost = first.cost
    lines.append(f"- params {cost.params:,} · MACs {cost.macs:,} ({human(cost.macs)})")
    if first.rf:
        jump = "×".join(map(str, first.jump)) if first.jump else "-"
        lines.append(f"- receptive field {'×'.join(map(str, first.rf))}, jump {jump}")
    if first.explain:
        lines.append("```text\n" + "\n".join(first.explain) + "\n```")
    return "\n".join(lines)


def signature(block: S.BlockDef, sources: Mapping[str, str]) -> str:
    """``Res(c, k=3)``: the parameters with their default expressions as written."""
    parts = []
    for p in block.params:
        if p.default is None:
            parts.append(p.name)
        else:
            parts.append(f"{p.name}={source_text(p.default.span, sources) or '…'}")
    return f"{block.name}({', '.join(parts)})"


def docstring(snap: Snapshot, block: S.BlockDef) -> str:
    """The comment lines right above a block's definition, without their ``#``."""
    lines = snap.lines(block.span.file).lines
    out: list[str] = []
    n = block.span.line - 2
    while 0 <= n < len(lines) and lines[n].lstrip().startswith("#"):
        out.append(lines[n].lstrip()[1:].strip())
        n -= 1
    return "\n".join(reversed(out))


def _block(snap: Snapshot, block: S.BlockDef) -> str:
    what = "net" if block.is_net else "block"
    head = f"```netdsl\n{what} {signature(block, snap.analysis.sources)}\n```\n" + docstring(snap, block)
    if block.is_net and snap.analysis.shapes is not None:
        shapes = snap.analysis.shapes
        t = shapes.total
        out = fmt_shape(shapes.output)
        return (
            head
            + f"\n\ninput N×{fmt_shape(shapes.input_shape)} → output N×{out}; {t.params:,} params, {human(t.macs)} MACs"
        )
    uses = sum(1 for info in (snap.analysis.shapes.nodes if snap.analysis.shapes else []) if info.block == block.name)
    return head + (f"\n\n{uses:,} instances in this net" if uses else "")


def _name(snap: Snapshot, item: Item) -> str | None:
    net = snap.analysis.net
    owner = item.owner
    if item.what == "param" and owner is not None and owner.is_net and net is not None:
        return f"net parameter `{item.name}` = `{show(dict(net.params).get(item.name))}`"
    kind = _name_kind(item) if item.what == "name" else ("`let`" if item.what == "let" else _name_kind(item))
    values = snap.values_at(item.span) if item.what == "name" else _values_of_definition(snap, item)
    if not values:
        return f"`{item.name}` ({kind})" + ("" if item.name == "in" else ": no value (not evaluated)")
    shown = ", ".join(f"`{show(v)}`" for v in values)
    more = " (distinct values over the uses of this place)" if len(values) > 1 else ""
    return f"`{item.name}` = {shown}{more}\n\n{kind}"


def _values_of_definition(snap: Snapshot, item: Item) -> list[object]:
    """A ``let``'s or a block parameter's values: those its first use after the definition read."""
    index = snap.index(item.span.file)
    for use in index.items if index is not None else []:
        if use.what == "name" and use.owner is item.owner and use.name == item.name and use.span.line >= item.span.line:
            if isinstance(item.node, S.Let) and _inside(use.span, item.node.span):
                continue  # the let's own value expression reads the name's earlier meaning
            return snap.values_at(use.span)
    return []


def _inside(inner: Span, outer: Span) -> bool:
    return (outer.line, outer.col) <= (inner.line, inner.col) and (inner.end_line, inner.end_col) <= (
        outer.end_line,
        outer.end_col,
    )


def _name_kind(item: Item) -> str:
    owner = item.owner
    if item.name == "in":
        return "the input shape of the enclosing block"
    if owner is None:
        return "a name"
    where = ("net " if owner.is_net else "block ") + owner.name
    for p in owner.params:
        if p.name == item.name:
            default = f", default `{_expr_text(p.default)}`" if p.default is not None else ""
            return f"parameter of {where}{default}"
    return f"a `let` or repeat variable in {where}"


def _expr_text(e: S.Expr) -> str:
    if isinstance(e, S.Lit):
        return show(e.value)
    if isinstance(e, S.Name):
        return e.id
    return "…"
