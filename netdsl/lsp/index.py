"""A position index over one file's syntax tree: what stands at a line and column.

Built once per analysis (a walk of the tree, no evaluation); every hover, definition
and reference request is then a lookup. Each :class:`Item` is a named thing with its
span: a block or net definition, a layer or block call, a name in an expression, a
parameter, a ``let``, a label, an ``@name`` use, an ``import``. Items remember the
definition they stand in (``owner``) and, for calls, the statement that holds them,
whose span is the span of the module the shape pass reports.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from netdsl.errors import Span
from netdsl.syntax import tree as S

What = Literal["def", "call", "merge", "name", "param", "let", "label", "use", "import"]


@dataclass(frozen=True, slots=True)
class Item:
    """One named thing in the source."""

    what: What
    name: str
    span: Span  # the name's own extent
    owner: S.BlockDef | None  # the definition it stands in (None at the top level)
    node: object = None  # the syntax node: Call, Merge, Name, Param, Let, Label, Use, Import, BlockDef
    stmt: S.Node | None = None  # for calls and labels: the statement (its span is the module's)


@dataclass
class Index:
    """Items of one file, by line, and the file's definitions and captures."""

    file: str
    by_line: dict[int, list[Item]] = field(default_factory=dict)
    blocks: dict[str, S.BlockDef] = field(default_factory=dict)
    captures: dict[str, S.Node] = field(default_factory=dict)
    items: list[Item] = field(default_factory=list)
    _starts: dict[int, list[int]] = field(default_factory=dict, repr=False)

    def add(self, item: Item) -> None:
        self.items.append(item)
        self.by_line.setdefault(item.span.line, []).append(item)

    def finish(self) -> None:
        for line, items in self.by_line.items():
            items.sort(key=lambda i: (i.span.col, -i.span.end_col))
            self._starts[line] = [i.span.col for i in items]

    def at(self, line: int, col: int) -> Item | None:
        """The innermost item whose span holds the 1-based (line, col); the end column counts too."""
        items = self.by_line.get(line)
        if not items:
            return None
        best: Item | None = None
        for item in items[: bisect_right(self._starts[line], col)]:
            if col <= item.span.end_col and (
                best is None or item.span.end_col - item.span.col < best.span.end_col - best.span.col
            ):
                best = item
        return best

    def calls(self, name: str) -> Iterator[Item]:
        """Every use of ``name`` as a layer, block or merge."""
        return (i for i in self.items if i.what in ("call", "merge") and i.name == name)


def _name_span(span: Span, name: str) -> Span:
    """The extent of a name that starts its construct's span (a parameter, a label)."""
    return Span(span.file, span.line, span.col, span.line, span.col + len(name))


def build(module: S.Module) -> Index:
    """The index of a parsed file."""
    index = Index(module.file)
    for imp in module.imports:
        index.add(Item("import", imp.path, imp.span, None, imp))
    for block in module.blocks:
        if not block.is_net:
            index.blocks.setdefault(block.name, block)
        index.add(Item("def", block.name, block.name_span, None, block))
        for p in block.params:
            index.add(Item("param", p.name, _name_span(p.span, p.name), block, p))
            if p.default is not None:
                _expr(index, p.default, block)
        _body(index, block.body, block)
    index.finish()
    return index


def _body(index: Index, body: S.Body, owner: S.BlockDef) -> None:
    stack: list[S.Stmt] = list(reversed(body.stmts))
    while stack:
        stmt = stack.pop()
        if isinstance(stmt, S.Node):
            _node(index, stmt, owner)
        elif isinstance(stmt, S.Let):
            index.add(Item("let", stmt.name, _let_span(stmt), owner, stmt))
            _expr(index, stmt.value, owner)
        elif isinstance(stmt, S.If):
            for cond, arm in stmt.branches:
                _expr(index, cond, owner)
                stack.extend(reversed(arm.stmts))
            if stmt.orelse is not None:
                stack.extend(reversed(stmt.orelse.stmts))
        elif isinstance(stmt, S.Input):
            for a in stmt.args:
                _expr(index, a.value, owner)
        elif isinstance(stmt, S.Use):
            index.add(Item("use", stmt.name, stmt.span, owner, stmt))


def _let_span(stmt: S.Let) -> Span:
    # `let name = …`: the name follows the keyword and one space, as written nearly always.
    s = stmt.span
    return Span(s.file, s.line, s.col + 4, s.line, s.col + 4 + len(stmt.name))


def _node(index: Index, node: S.Node, owner: S.BlockDef) -> None:
    if node.label is not None:
        index.add(Item("label", node.label.name, _name_span(node.label.span, node.label.name), owner, node, node))
        if node.label.index is not None:
            _expr(index, node.label.index, owner)
    if node.capture:
        index.captures.setdefault(node.capture, node)
    core: S.Core = node.core
    while isinstance(core, S.Repeat):  # `repeat n as i x[i]: core`
        _expr(index, core.count, owner)
        if core.label is not None:
            index.add(Item("label", core.label.name, _name_span(core.label.span, core.label.name), owner, node, node))
            if core.label.index is not None:
                _expr(index, core.label.index, owner)
        node = S.Node(core.label, core.core, None, core.core.span)  # the span the lowering gives each item
        core = core.core
    if isinstance(core, S.Call):
        index.add(Item("call", core.name, core.name_span, owner, core, node))
        _args(index, core.args, owner)
    elif isinstance(core, S.Merge):
        index.add(Item("merge", core.name, core.name_span, owner, core, node))
        _args(index, core.args, owner)
        _body(index, core.paths, owner)
    elif isinstance(core, S.Group):
        _body(index, core.body, owner)


def _args(index: Index, args: tuple[S.Arg, ...], owner: S.BlockDef) -> None:
    for a in args:
        _expr(index, a.value, owner)


def _expr(index: Index, e: S.Expr, owner: S.BlockDef) -> None:
    stack: list[S.Expr] = [e]
    while stack:
        x = stack.pop()
        if isinstance(x, S.Name):
            index.add(Item("name", x.id, x.span, owner, x))
        elif isinstance(x, S.BinOp):
            stack += (x.left, x.right)
        elif isinstance(x, S.Unary):
            stack.append(x.operand)
        elif isinstance(x, S.Cond):
            stack += (x.then, x.test, x.orelse)
        elif isinstance(x, S.TupleLit):
            stack += x.items
        elif isinstance(x, S.Index):
            stack += (x.obj, x.index)
        elif isinstance(x, S.Attr):
            stack.append(x.obj)
        elif isinstance(x, S.Func):
            stack += x.args
