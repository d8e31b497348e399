"""Pass 2: syntax tree → IR. Resolves names, blocks, parameters, repeats and module names.

Naming rules (they decide every ``state_dict`` key):

* a label names a node: ``conv1: conv2d(64, 7)`` → module ``conv1``;
* an unlabelled module gets its position among the modules of its scope, as
  ``nn.Sequential`` would (``features.0``, ``features.1`` …);
* a block call is a module (its body is a new scope) unless written
  ``inline Block(…)``; a labelled ``{ … }`` group and a labelled ``repeat`` are
  modules too; unlabelled groups, ``if`` arms, merge paths and unlabelled
  repeats are transparent: their nodes are named in the enclosing module.

Errors are collected, never raised: a node that fails is dropped with one
diagnostic, and the rest of the file is still checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import ValidationError

from netdsl import ir
from netdsl import syntax as S
from netdsl.errors import Abort, Diagnostic, Frame, Span, did_you_mean
from netdsl.expr import EvalError, NeedsShape, Value, evaluate, reads_shape, show, type_name
from netdsl.registry import REGISTRY, LayerKind, Params


@dataclass(frozen=True)
class Limits:
    """Guards against specs that would exhaust the machine; generous for any real net."""

    max_repeat: int = 10_000
    max_nodes: int = 200_000
    max_depth: int = 64


@dataclass
class _Namer:
    """Names of one module scope: explicit labels and positional indices."""

    prefix: str
    index: int = 0
    used: dict[str, Span] = field(default_factory=dict)
    values: set[str] = field(default_factory=lambda: {"in"})

    def qual(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def fork(self) -> _Namer:
        return _Namer(self.prefix, self.index, dict(self.used), set(self.values))


@dataclass(frozen=True)
class _Ctx:
    env: Mapping[str, Value]
    namer: _Namer
    chain: tuple[Frame, ...]
    blocks: tuple[str, ...]  # active block definitions, for recursion detection
    depth: int


class Lowerer:
    """Lowers one net; collects diagnostics in ``self.diagnostics``."""

    def __init__(self, blocks: Mapping[str, S.BlockDef], limits: Limits | None = None,
                 sources: Mapping[str, str] | None = None):
        self.blocks = blocks
        self.sources = sources or {}
        self.limits = limits or Limits()
        self.diagnostics: list[Diagnostic] = []
        self._seen: set[tuple[str, Span | None, str]] = set()
        self._serial = 0
        self.nodes = 0

    # ------------------------------------------------------------- reporting
    def error(self, code: str, message: str, span: Span | None, ctx: _Ctx | None = None, **kw: Any) -> None:
        key = (code, span, message)
        if key in self._seen:  # the same mistake inside a block used 16 times is one error
            return
        self._seen.add(key)
        self.diagnostics.append(Diagnostic(code, message, span, chain=ctx.chain if ctx else (), **kw))

    def _eval(self, e: S.Expr, ctx: _Ctx) -> Value:
        try:
            return evaluate(e, ctx.env)
        except NeedsShape:
            self.error("E111", "`in` (the block's input shape) may only be used in an `if` condition", e.span, ctx,
                       hint="pass the value as a block parameter instead")
            raise Abort() from None
        except EvalError as err:
            self.error(err.code, err.message, err.span, ctx, hint=err.hint)
            raise Abort() from None

    def _serial_id(self, ctx: _Ctx, what: str) -> str:
        self._serial += 1
        return f"{ctx.namer.prefix}#{what}{self._serial}"

    def _count(self, span: Span, ctx: _Ctx) -> None:
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            self.error("E132", f"the net expands to more than {self.limits.max_nodes} nodes", span, ctx,
                       hint="raise the limit with --max-nodes if this is intended")
            raise Abort()

    # ------------------------------------------------------------- entry
    def lower_net(self, net: S.BlockDef, overrides: Mapping[str, Value], input_shape: tuple[int, ...] | None,
                  requires: tuple[str, ...] = ()) -> ir.Net | None:
        """Lower the net definition with CLI/API parameter overrides."""
        known = {p.name for p in net.params}
        for name in overrides:
            if name not in known:
                self.error("E141", f"net `{net.name}` has no parameter `{name}`", net.name_span,
                           hint=did_you_mean(name, known) or f"its parameters: {', '.join(sorted(known)) or 'none'}")
        root = _Namer("")
        ctx = _Ctx({}, root, (), (net.name,), 0)
        try:
            env = self._bind_params(net, (), overrides, ctx, net.name_span)
        except Abort:
            return None
        ctx = replace(ctx, env=env)
        declared: tuple[int, ...] | None = None
        for stmt in net.body.stmts:
            if isinstance(stmt, S.Input):
                try:
                    declared = self._input(stmt, ctx)
                except Abort:
                    return None
        shape = input_shape or declared
        if shape is None:
            self.error("E142", f"net `{net.name}` declares no input shape", net.name_span,
                       hint="add `input(3, 224, 224)` to the net, or pass --input 3x224x224")
            return None
        body = self._body(net.body, ctx, top=True)
        scope = ir.ScopeNode(id="", span=net.span, name="", block=net.name, container="net", body=tuple(body))
        return ir.Net(name=net.name, file=net.span.file, params=tuple(env.items()), input_shape=shape,
                      body=scope, requires=requires, node_count=self.nodes, span=net.span)

    def _input(self, stmt: S.Input, ctx: _Ctx) -> tuple[int, ...]:
        dims = []
        for a in stmt.args:
            v = self._eval(a.value, ctx)
            if a.name is not None or isinstance(v, bool) or not isinstance(v, int) or v < 1:
                self.error("E143", f"input dimensions must be positive integers, got {show(v)}", a.span, ctx)
                raise Abort()
            dims.append(v)
        if not 1 <= len(dims) <= 3:
            self.error("E143", f"input takes (C, H, W), (C, L) or (F,), got {len(dims)} dimensions", stmt.span, ctx)
            raise Abort()
        return tuple(dims)

    # ------------------------------------------------------------- statements
    def _body(self, body: S.Body, ctx: _Ctx, top: bool = False) -> list[ir.AnyNode]:
        out: list[ir.AnyNode] = []
        env = dict(ctx.env)
        for stmt in body.stmts:
            cur = replace(ctx, env=env)
            try:
                if isinstance(stmt, S.Let):
                    env = {**env, stmt.name: self._eval(stmt.value, cur)}
                elif isinstance(stmt, S.Input):
                    if not top:
                        self.error("E144", "`input(...)` belongs at the top level of a `net`", stmt.span, cur)
                elif isinstance(stmt, S.Use):
                    out.append(self._use(stmt, cur))
                elif isinstance(stmt, S.If):
                    out.extend(self._if(stmt, stmt.branches, stmt.orelse, cur))
                else:
                    out.extend(self._node(stmt, cur))
            except Abort:
                continue
        return out

    def _use(self, stmt: S.Use, ctx: _Ctx) -> ir.UseNode:
        if stmt.name not in ctx.namer.values:
            hint = did_you_mean(stmt.name, ctx.namer.values) or "capture a value first with `-> name`"
            self.error("E103", f"undefined value `@{stmt.name}`", stmt.span, ctx, hint=hint)
            raise Abort()
        return ir.UseNode(id=self._serial_id(ctx, "use"), span=stmt.span, chain=ctx.chain, value=stmt.name)

    def _if(self, stmt: S.If, branches: tuple[tuple[S.Expr, S.Body], ...], orelse: S.Body | None,
            ctx: _Ctx) -> list[ir.AnyNode]:
        if not branches:
            return self._body(orelse, ctx) if orelse else []
        (cond, body), rest = branches[0], branches[1:]
        if reads_shape(cond):
            # Decided by the shape pass; names in either arm may coincide (only one is built).
            then_ns, else_ns = ctx.namer.fork(), ctx.namer.fork()
            then = self._body(body, replace(ctx, namer=then_ns))
            other = self._if(stmt, rest, orelse, replace(ctx, namer=else_ns))
            ctx.namer.index = max(then_ns.index, else_ns.index)
            ctx.namer.used.update(then_ns.used)
            ctx.namer.used.update(else_ns.used)
            ctx.namer.values |= then_ns.values & else_ns.values
            arm = lambda nodes, sp: ir.ScopeNode(id=self._serial_id(ctx, "arm"), span=sp, chain=ctx.chain,  # noqa: E731
                                                 container="arm", body=tuple(nodes))
            text = source_text(cond.span, self.sources)
            return [ir.SwitchNode(id=self._serial_id(ctx, "if"), span=cond.span, chain=ctx.chain, cond_text=text,
                                  cond=cond, env=dict(ctx.env), then=arm(then, body.span),
                                  orelse=arm(other, orelse.span if orelse and not rest else stmt.span))]
        if self._eval(cond, ctx):
            return self._body(body, ctx)
        return self._if(stmt, rest, orelse, ctx)

    def _label(self, label: S.Label | None, ctx: _Ctx) -> str | None:
        if label is None:
            return None
        if label.index is None:
            return label.name
        v = self._eval(label.index, ctx)
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            self.error("E145", f"a label index must be an integer, got {type_name(v)}", label.index.span, ctx)
            raise Abort()
        return f"{label.name}{v}"

    def _claim(self, name: str | None, span: Span, ctx: _Ctx) -> str:
        """Reserve a module name in the current scope (the next index when unlabelled)."""
        ns = ctx.namer
        if name is None:
            name = str(ns.index)
        elif name in ns.used:
            prev = ns.used[name]
            self.error("E102", f"duplicate name `{name}` in `{ns.prefix or 'the net'}`", span, ctx,
                       notes=(f"first used at {prev}",))
            raise Abort()
        ns.index += 1
        ns.used[name] = span
        return name

    def _node(self, node: S.Node, ctx: _Ctx) -> list[ir.AnyNode]:
        if ctx.depth > self.limits.max_depth:
            self.error("E131", f"blocks nest deeper than {self.limits.max_depth} levels", node.span, ctx)
            raise Abort()
        label = self._label(node.label, ctx)
        core = node.core
        if isinstance(core, S.Call):
            out = [self._call(core, label, node.span, ctx)]
        elif isinstance(core, S.Merge):
            out = [self._merge(core, label, node.span, ctx)]
        elif isinstance(core, S.Group):
            out = [self._group(core, label, node.span, ctx)]
        else:
            out = self._repeat(core, label, node.span, ctx)
        if node.capture and out:
            ctx.namer.values.add(node.capture)
            out[-1] = out[-1].model_copy(update={"capture": node.capture})
        return out

    def _group(self, core: S.Group, label: str | None, span: Span, ctx: _Ctx) -> ir.ScopeNode:
        if label is None:
            body = self._body(core.body, ctx)
            return ir.ScopeNode(id=self._serial_id(ctx, "group"), span=span, chain=ctx.chain, body=tuple(body))
        name = self._claim(label, span, ctx)
        inner = replace(ctx, namer=_Namer(ctx.namer.qual(name)), depth=ctx.depth + 1)
        body = self._body(core.body, inner)
        return ir.ScopeNode(id=ctx.namer.qual(name), span=span, chain=ctx.chain, name=name, container="group",
                            body=tuple(body))

    def _repeat(self, core: S.Repeat, label: str | None, span: Span, ctx: _Ctx) -> list[ir.AnyNode]:
        n = self._eval(core.count, ctx)
        if isinstance(n, bool) or not isinstance(n, int):
            self.error("E133", f"repeat count must be an integer, got {type_name(n)} `{show(n)}`", core.count.span, ctx)
            raise Abort()
        if n < 1 or n > self.limits.max_repeat:
            why = "at least 1" if n < 1 else f"at most {self.limits.max_repeat}"
            self.error("E133", f"repeat count must be {why}, got {n}", core.count.span, ctx)
            raise Abort()
        inner_ctx = ctx
        if label is not None:
            name = self._claim(label, span, ctx)
            inner_ctx = replace(ctx, namer=_Namer(ctx.namer.qual(name)), depth=ctx.depth + 1)
        items: list[ir.AnyNode] = []
        for i in range(n):
            env = {**inner_ctx.env, core.var: i} if core.var else inner_ctx.env
            rep = S.Node(core.label, core.core, None, core.core.span)
            items.extend(self._node(rep, replace(inner_ctx, env=env)))
        if label is None:
            return items
        return [ir.ScopeNode(id=ctx.namer.qual(name), span=span, chain=ctx.chain, name=name, container="repeat",
                             body=tuple(items))]

    # ------------------------------------------------------------- calls
    def _call(self, call: S.Call, label: str | None, span: Span, ctx: _Ctx) -> ir.AnyNode:
        block = self.blocks.get(call.name)
        if block is not None:
            return self._block(call, block, label, span, ctx)
        kind = REGISTRY.get(call.name)
        if kind is None:
            self._unknown(call.name, call.name_span, ctx)
        assert kind is not None
        if call.inline:
            self.error("E121", f"`inline` applies to blocks; `{call.name}` is a layer", call.name_span, ctx)
            raise Abort()
        if kind.is_merge:
            self.error("E122", f"`{call.name}` merges several paths: write `{call.name} {{ path; path }}`",
                       call.name_span, ctx, hint="each statement inside the braces is one path from the same input")
            raise Abort()
        params = self._layer_params(kind, call.args, call, ctx)
        self._count(span, ctx)
        name = self._claim(label, span, ctx)
        return ir.LayerNode(id=ctx.namer.qual(name), span=span, chain=ctx.chain, name=name, kind=kind.name,
                            params=params)

    def _unknown(self, name: str, span: Span, ctx: _Ctx) -> None:
        candidates = [*REGISTRY.names(), *self.blocks]
        hint = did_you_mean(name, candidates)
        if hint is None:
            from netdsl.plugins import provider_hint

            hint = provider_hint(name)
        self.error("E101", f"unknown layer or block `{name}`", span, ctx, hint=hint)
        raise Abort()

    def _block(self, call: S.Call, block: S.BlockDef, label: str | None, span: Span, ctx: _Ctx) -> ir.ScopeNode:
        if block.name in ctx.blocks:
            path = " → ".join((*ctx.blocks[1:], block.name)) if len(ctx.blocks) > 1 else block.name
            self.error("E130", f"block `{block.name}` uses itself ({path})", call.name_span, ctx,
                       hint="blocks cannot be recursive; use `repeat` for depth")
            raise Abort()
        env = self._bind_params(block, call.args, {}, ctx, call.name_span)
        if call.inline:
            frame = Frame(block.name, "", span)
            inner = replace(ctx, env=env, chain=(*ctx.chain, frame), blocks=(*ctx.blocks, block.name),
                            depth=ctx.depth + 1)
            body = self._body(block.body, inner)
            return ir.ScopeNode(id=self._serial_id(ctx, "inline"), span=span, chain=ctx.chain, block=block.name,
                                container="inline", body=tuple(body))
        name = self._claim(label, span, ctx)
        qual = ctx.namer.qual(name)
        inner = _Ctx(env, _Namer(qual), (*ctx.chain, Frame(block.name, qual, span)), (*ctx.blocks, block.name),
                     ctx.depth + 1)
        body = self._body(block.body, inner)
        return ir.ScopeNode(id=qual, span=span, chain=ctx.chain, name=name, block=block.name, container="block",
                            body=tuple(body))

    def _merge(self, merge: S.Merge, label: str | None, span: Span, ctx: _Ctx) -> ir.MergeNode:
        kind = REGISTRY.get(merge.name)
        if kind is None:
            if merge.name in self.blocks:
                self.error("E122", f"block `{merge.name}` cannot take paths in braces; only merges such as "
                           "`add`, `concat`, `mul` do", merge.name_span, ctx)
                raise Abort()
            self._unknown(merge.name, merge.name_span, ctx)
        assert kind is not None
        if not kind.is_merge:
            self.error("E122", f"`{merge.name}` takes one input; only merges (add, concat, mul …) take paths",
                       merge.name_span, ctx, hint=f"did you mean `{merge.name}` followed by a newline?")
            raise Abort()
        params = self._layer_params(kind, merge.args, merge, ctx)
        paths: list[ir.ScopeNode] = []
        for stmt in merge.paths.stmts:
            if isinstance(stmt, (S.Let, S.Input)):
                self.error("E123", "only paths may stand inside a merge's braces", stmt.span, ctx)
                continue
            try:
                nodes = self._body(S.Body((stmt,), stmt.span), ctx)
            except Abort:
                continue
            paths.append(ir.ScopeNode(id=self._serial_id(ctx, "path"), span=stmt.span, chain=ctx.chain,
                                      container="path", body=tuple(nodes)))
        lo, hi = kind.inputs
        if len(paths) < lo or (hi is not None and len(paths) > hi):
            want = f"at least {lo}" if hi is None else f"{lo}–{hi}"
            self.error("E124", f"`{merge.name}` needs {want} paths, got {len(paths)}", merge.name_span, ctx,
                       hint="write each path on its own line (or separate with `;`); `{}` is the input unchanged")
            raise Abort()
        self._count(span, ctx)
        name = self._claim(label, span, ctx)
        return ir.MergeNode(id=ctx.namer.qual(name), span=span, chain=ctx.chain, name=name, kind=kind.name,
                            params=params, paths=tuple(paths))

    # ------------------------------------------------------------- arguments
    def _bind_params(self, block: S.BlockDef, args: tuple[S.Arg, ...], overrides: Mapping[str, Value], ctx: _Ctx,
                     span: Span) -> dict[str, Value]:
        names = [p.name for p in block.params]
        given: dict[str, tuple[Value, Span]] = {}
        positional = [a for a in args if a.name is None]
        if len(positional) > len(names):
            extra = positional[len(names)]
            self.error("E105", f"block `{block.name}` takes {len(names)} positional argument"
                       f"{'s' if len(names) != 1 else ''} ({', '.join(names)}), got {len(positional)}",
                       extra.span, ctx)
            raise Abort()
        seen_kw = False
        for i, a in enumerate(args):
            if a.name is None:
                if seen_kw:
                    self.error("E106", "a positional argument follows a keyword argument", a.span, ctx)
                    raise Abort()
                key = names[i]
            else:
                seen_kw = True
                key = a.name
                if key not in names:
                    self.error("E104", f"block `{block.name}` has no parameter `{key}`", a.span, ctx,
                               hint=did_you_mean(key, names) or f"its parameters: {', '.join(names) or 'none'}")
                    raise Abort()
            if key in given:
                self.error("E106", f"argument `{key}` given twice", a.span, ctx)
                raise Abort()
            given[key] = (self._eval(a.value, ctx), a.span)
        env: dict[str, Value] = {}
        for p in block.params:
            if p.name in overrides:
                env[p.name] = overrides[p.name]
            elif p.name in given:
                env[p.name] = given[p.name][0]
            elif p.default is not None:
                env[p.name] = self._eval(p.default, replace(ctx, env=env))
            else:
                self.error("E108", f"block `{block.name}` is missing argument `{p.name}`", span, ctx)
                raise Abort()
        return env

    def _layer_params(self, kind: LayerKind, args: tuple[S.Arg, ...], at: S.Call | S.Merge, ctx: _Ctx) -> Params:
        fields = kind.schema.model_fields
        values: dict[str, Value] = {}
        spans: dict[str, Span] = {}
        npos = 0
        seen_kw = False
        for a in args:
            if a.name is None:
                if seen_kw:
                    self.error("E106", "a positional argument follows a keyword argument", a.span, ctx)
                    raise Abort()
                if npos >= len(kind.positional):
                    names = ", ".join(kind.positional)
                    self.error("E105", f"`{kind.name}` takes {len(kind.positional)} positional argument"
                               f"{'s' if len(kind.positional) != 1 else ''}{f' ({names})' if names else ''}, "
                               f"got more", a.span, ctx, layer=kind.name, hint="pass the others by keyword")
                    raise Abort()
                key = kind.positional[npos]
                npos += 1
            else:
                seen_kw = True
                key = kind.aliases.get(a.name, a.name)
                if key not in fields:
                    options = [*fields, *kind.aliases]
                    self.error("E104", f"`{kind.name}` has no argument `{a.name}`", a.span, ctx, layer=kind.name,
                               hint=did_you_mean(a.name, options) or f"its arguments: {', '.join(fields)}")
                    raise Abort()
            if key in values:
                self.error("E106", f"argument `{key}` given twice", a.span, ctx, layer=kind.name)
                raise Abort()
            v = self._eval(a.value, ctx)
            values[key] = v
            spans[key] = a.span
        try:
            return kind.schema(**values)
        except ValidationError as err:
            for e in err.errors(include_url=False):
                loc = str(e["loc"][0]) if e["loc"] else ""
                where = spans.get(loc, at.span)
                if e["type"] == "missing":
                    self.error("E108", f"`{kind.name}` is missing argument `{loc}`", at.span, ctx, layer=kind.name,
                               hint=_signature(kind))
                else:
                    got = f", got {show(values[loc])}" if loc in values else ""
                    msg = str(e["msg"]).removeprefix("Value error, ")
                    self.error("E107", f"`{kind.name}` argument `{loc}`: {msg}{got}", where, ctx, layer=kind.name)
            raise Abort() from None


def _signature(kind: LayerKind) -> str:
    parts = []
    for name, f in kind.schema.model_fields.items():
        parts.append(name if f.is_required() else f"{name}={show(f.default) if f.default is not None else 'none'}")
    return f"{kind.name}({', '.join(parts)})"


def source_text(span: Span, sources: Mapping[str, str]) -> str:
    """The text a span covers (for showing an `if` condition in tables and diagrams)."""
    lines = sources.get(span.file, "").splitlines()
    if not 1 <= span.line <= len(lines):
        return ""
    if span.end_line == span.line:
        return lines[span.line - 1][span.col - 1 : span.end_col - 1]
    return lines[span.line - 1][span.col - 1 :] + " …"
