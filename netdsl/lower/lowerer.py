"""Pass 2: syntax tree → IR. Resolves names, blocks, parameters, repeats and module names.

Naming rules (they decide every ``state_dict`` key):

* a label names a node: ``conv1: conv2d(64, 7)`` → module ``conv1``;
* an unlabelled module gets its position among the modules of its scope, as
  ``nn.Sequential`` would (``features.0``, ``features.1`` …);
* a block call is a module (its body is a new scope) unless written
  ``inline Block(…)``; a labelled ``{ … }`` group and a labelled ``repeat`` are
  modules too; unlabelled groups, ``if`` arms, merge paths and unlabelled
  repeats are transparent: their nodes are named in the enclosing module;
* the two arms of an ``if`` that reads ``in`` are named independently (only
  one is built), and numbering after it continues after the longer arm.

Errors are collected, never raised: a node that fails is dropped with one
diagnostic, and the rest of the file is still checked. Names that a failed
statement would have defined (a ``let``, a ``-> capture``) are marked poisoned,
so their later uses stay silent instead of cascading into more errors.
"""

from __future__ import annotations

from collections.abc import Mapping

from netdsl.errors import Abort, Frame, Span, did_you_mean
from netdsl.layers import REGISTRY, LayerKind, Params
from netdsl.limits import LimitExceeded, how_to_raise
from netdsl.lower import ir
from netdsl.lower.arguments import bind_block, bind_layer, block_signature
from netdsl.lower.expr import (
    Value,
    free_names,
    reads_shape,
    show,
    type_name,
)
from netdsl.lower.scopes import Ctx, Limits, LowererBase, Namer, source_text
from netdsl.syntax import tree as S

__all__ = ["Limits", "Lowerer", "source_text"]


class Lowerer(LowererBase):
    """Lowers one net; collects diagnostics in ``self.diagnostics``."""

    # ------------------------------------------------------------- entry
    def lower_net(
        self,
        net: S.BlockDef,
        overrides: Mapping[str, Value],
        input_shape: tuple[int, ...] | None,
        requires: tuple[str, ...] = (),
    ) -> ir.Net | None:
        """Lower the net definition with CLI/API parameter overrides."""
        known = [p.name for p in net.params]
        for name in overrides:
            if name not in known:
                hint = did_you_mean(name, known) or f"its parameters: {', '.join(known) or 'none'}"
                self.error("E141", f"net `{net.name}` has no parameter `{name}`", net.name_span, hint=hint)
        ctx = Ctx({}, Namer(""), (), (net.name,), 0)
        self.net_params = (net.name, ",".join(known))
        try:
            env = bind_block(net, (), overrides, net.name_span, self._report(ctx), self._evaluator(ctx))
        except Abort:
            return None
        ctx = ctx.with_env(env)
        inputs = [s for s in net.body.stmts if isinstance(s, S.Input)]
        for extra in inputs[1:]:
            first = f"first declared at {inputs[0].span}"
            self.error("E144", "the input shape is declared twice", extra.span, ctx, notes=(first,), hint=None)
        try:
            declared = self._input(inputs[0], ctx) if inputs else None
        except Abort:
            return None
        if input_shape is not None and not _valid_dims(input_shape):
            self.error("E143", f"the input override must be 1 to 3 positive integers, got {input_shape}", net.name_span)
            return None
        shape = input_shape or declared
        if shape is None:
            self.error("E142", f"net `{net.name}` declares no input shape", net.name_span)
            return None
        problem = self.guard.layer_problem("input", 0, shape)
        if problem is not None:  # `input(10**9, 10**9, 3)`: as large as no layer may be
            at = inputs[0].span if inputs and input_shape is None else net.name_span
            self.error(problem[0], problem[1], at, hint=problem[2])
            return None
        try:
            body = self._body(net.body, ctx, top=True)
        except LimitExceeded as err:  # the node count or the deadline: stop at once, with one error
            self.diagnostics.append(err.diagnostic)
            return None
        except RecursionError:  # a last resort: the depth limits keep real and fuzzed specs far from it
            hint = "flatten deeply nested groups; " + how_to_raise("max_depth")
            self.error("E131", "the net nests too deeply", net.name_span, hint=hint)
            return None
        scope = ir.make(ir.ScopeNode, id="", span=net.span, name="", block=net.name, container="net", body=tuple(body))
        return ir.make(
            ir.Net,
            name=net.name,
            file=net.span.file,
            params=tuple(env.items()),
            input_shape=shape,
            body=scope,
            requires=requires,
            node_count=self.nodes,
            span=net.span,
        )

    def _input(self, stmt: S.Input, ctx: Ctx) -> tuple[int, ...]:
        dims = []
        for a in stmt.args:
            v = self._eval(a.value, ctx)
            if a.name is not None or isinstance(v, bool) or not isinstance(v, int) or v < 1:
                hint = "use `//` for integer division" if isinstance(v, float) else None
                self.error("E143", f"input dimensions must be positive integers, got {show(v)}", a.span, ctx, hint=hint)
                raise Abort()
            dims.append(v)
        if not 1 <= len(dims) <= 3:
            self.error("E143", f"input takes (C, H, W), (C, L) or (F,), got {len(dims)} dimensions", stmt.span, ctx)
            raise Abort()
        return tuple(dims)

    # ------------------------------------------------------------- statements
    def _body(self, body: S.Body, ctx: Ctx, top: bool = False) -> list[ir.AnyNode]:
        out: list[ir.AnyNode] = []
        cur = ctx
        for stmt in body.stmts:
            self.guard.tick(stmt.span, "lowering")
            try:
                if type(stmt) is S.Node:  # the common statement first
                    out.extend(self._node(stmt, cur))
                elif isinstance(stmt, S.Let):
                    try:
                        cur = cur.with_env({**cur.env, stmt.name: self._eval(stmt.value, cur)})
                    except Abort:
                        cur = cur._replace(poisoned=cur.poisoned | {stmt.name})
                elif isinstance(stmt, S.Input):
                    if not top:
                        self.error("E144", "`input(...)` belongs at the top level of a `net`", stmt.span, cur)
                elif isinstance(stmt, S.Use):
                    out.append(self._use(stmt, cur))
                elif isinstance(stmt, S.If):
                    out.extend(self._if(stmt, stmt.branches, stmt.orelse, cur))
            except Abort:
                continue
        return out

    def _use(self, stmt: S.Use, ctx: Ctx) -> ir.UseNode:
        if stmt.name not in ctx.namer.values:
            hint = did_you_mean(stmt.name, ctx.namer.values) or "capture a value first with `-> name`"
            self.error("E103", f"undefined value `@{stmt.name}`", stmt.span, ctx, hint=hint)
            raise Abort()
        return ir.make(ir.UseNode, id=self._serial_id(ctx, "use"), span=stmt.span, chain=ctx.chain, value=stmt.name)

    def _if(
        self, stmt: S.If, branches: tuple[tuple[S.Expr, S.Body], ...], orelse: S.Body | None, ctx: Ctx
    ) -> list[ir.AnyNode]:
        # Conditions on parameters are decided now, in a loop (a long elif chain must not recurse).
        while branches and not reads_shape(branches[0][0]):
            (cond, body), branches = branches[0], branches[1:]
            if self._eval(cond, ctx):
                return self._body(body, self._deeper(stmt.span, ctx))
        if not branches:
            return self._body(orelse, self._deeper(stmt.span, ctx)) if orelse else []
        (cond, body), rest = branches[0], branches[1:]
        ctx = self._deeper(cond.span, ctx)  # each switch nests its arms (and the elifs after it) one level
        # Decided by the shape pass; its other names must exist now (a typo is reported here, once).
        for name in free_names(cond):
            if name.id != "in" and name.id not in ctx.env:
                if name.id not in ctx.poisoned:
                    hint = self.outside_block(name.id, ctx) or did_you_mean(name.id, ctx.env)
                    self.error("E110", f"undefined name `{name.id}`", name.span, ctx, hint=hint)
                raise Abort()
        # Names in the two arms may coincide (only one is built).
        then_ns, else_ns = ctx.namer.fork(), ctx.namer.fork()
        then = self._body(body, ctx.with_namer(then_ns))
        other = self._if(stmt, rest, orelse, ctx.with_namer(else_ns))
        ctx.namer.index = max(then_ns.index, else_ns.index)
        ctx.namer.used.update(then_ns.used)
        ctx.namer.used.update(else_ns.used)
        ctx.namer.values |= then_ns.values & else_ns.values

        def arm(nodes: list[ir.AnyNode], span: Span) -> ir.ScopeNode:
            return _scope(self._serial_id(ctx, "arm"), span, ctx, nodes, container="arm")

        else_span = orelse.span if orelse and not rest else stmt.span
        switch = ir.make(
            ir.SwitchNode,
            id=self._serial_id(ctx, "if"),
            span=cond.span,
            chain=ctx.chain,
            cond_text=source_text(cond.span, self.sources),
            cond=cond,
            # Only what the condition reads: thousands of `let`s must not be copied into every switch.
            env={n.id: ctx.env[n.id] for n in free_names(cond) if n.id in ctx.env},
            then=arm(then, body.span),
            orelse=arm(other, else_span),
        )
        return [switch]

    def _node(self, node: S.Node, ctx: Ctx) -> list[ir.AnyNode]:
        ctx = self._deeper(node.span, ctx)
        try:
            label = None if node.label is None else self._label(node.label, ctx)
            core = node.core
            if isinstance(core, S.Call):
                out = [self._call(core, label, node.span, ctx)]
            elif isinstance(core, S.Merge):
                out = [self._merge(core, label, node.span, ctx)]
            elif isinstance(core, S.Group):
                out = [self._group(core, label, node.span, ctx)]
            else:
                out = self._repeat(core, label, node.span, ctx)
        finally:
            if node.capture:  # even when the node failed: a later `@name` must not report again
                ctx.namer.values.add(node.capture)
        if node.capture and out:
            out[-1] = ir.with_capture(out[-1], node.capture)
        return out

    def _group(self, core: S.Group, label: str | None, span: Span, ctx: Ctx) -> ir.ScopeNode:
        self._count(span, ctx)
        if label is None:
            body = self._body(core.body, ctx)
            return _scope(self._serial_id(ctx, "group"), span, ctx, body)
        name = self._claim(label, span, ctx)
        inner = ctx.with_namer(Namer(ctx.namer.qual(name)))
        body = self._body(core.body, inner)
        return _scope(ctx.namer.qual(name), span, ctx, body, name=name, container="group")

    def _repeat(self, core: S.Repeat, label: str | None, span: Span, ctx: Ctx) -> list[ir.AnyNode]:
        n = self._eval(core.count, ctx)
        if isinstance(n, bool) or not isinstance(n, int):
            hint = "use `//` for integer division" if isinstance(n, float) else None
            self.error(
                "E133",
                f"repeat count must be an integer, got {type_name(n)} `{show(n)}`",
                core.count.span,
                ctx,
                hint=hint,
            )
            raise Abort()
        if n < 1 or n > self.limits.max_repeat:
            why = "at least 1" if n < 1 else f"at most {self.limits.max_repeat:,}"
            hint = "to leave it out, use `if n > 0 { repeat n … }`" if n < 1 else how_to_raise("max_repeat")
            self.error("E133", f"repeat count must be {why}, got {n}", core.count.span, ctx, hint=hint)
            raise Abort()
        inner_ctx = ctx
        name = ""
        if label is not None:
            name = self._claim(label, span, ctx)
            inner_ctx = ctx.with_namer(Namer(ctx.namer.qual(name)))
        items: list[ir.AnyNode] = []
        rep = S.Node(core.label, core.core, None, core.core.span)
        for i in range(n):
            self._count(span, ctx)
            env = {**inner_ctx.env, core.var: i} if core.var else inner_ctx.env
            items.extend(self._node(rep, inner_ctx.with_env(env)))
        if label is None:
            return items
        return [_scope(ctx.namer.qual(name), span, ctx, items, name=name, container="repeat")]

    # ------------------------------------------------------------- calls
    def _call(self, call: S.Call, label: str | None, span: Span, ctx: Ctx) -> ir.AnyNode:
        block = self.blocks.get(call.name)
        if block is not None:
            return self._block(call, block, label, span, ctx)
        kind = REGISTRY.get(call.name)
        if kind is None:
            self._unknown(call.name, call.name_span, ctx)
        if call.inline:
            self.error("E121", f"`inline` applies to blocks; `{call.name}` is a layer", call.name_span, ctx)
            raise Abort()
        if kind.is_merge:
            msg = f"`{call.name}` merges several paths: write `{call.name} {{ path; path }}`"
            self.error("E122", msg, call.name_span, ctx)
            raise Abort()
        params = self._layer_params(kind, call.args, call.span, ctx)
        self._count(span, ctx)
        name = self._claim(label, span, ctx)
        return ir.make(
            ir.LayerNode, id=ctx.namer.qual(name), span=span, chain=ctx.chain, name=name, kind=kind.name, params=params
        )

    def _layer_params(self, kind: LayerKind, args: tuple[S.Arg, ...], at: Span, ctx: Ctx) -> Params:
        key = self._call_key(kind, args, ctx)
        hit = self._memo.get(key) if key is not None else None
        if isinstance(hit, Params):
            return hit
        params = bind_layer(kind, args, at, self._report(ctx), self._evaluator(ctx))
        if key is not None:
            self._memo.put(key, params)
        return params

    def _block(self, call: S.Call, block: S.BlockDef, label: str | None, span: Span, ctx: Ctx) -> ir.ScopeNode:
        if block.name in ctx.blocks:
            path = " → ".join((*ctx.blocks[1:], block.name)) if len(ctx.blocks) > 1 else block.name
            self.error("E130", f"block `{block.name}` uses itself ({path})", call.name_span, ctx)
            raise Abort()
        key = self._call_key(block, call.args, ctx)
        env = self._memo.get(key) if key is not None else None
        if not isinstance(env, dict):
            env = bind_block(block, call.args, {}, call.name_span, self._report(ctx), self._evaluator(ctx))
            if key is not None:
                self._memo.put(key, env)  # shared by the instances: nothing mutates an env (`let` copies)
        self._count(span, ctx)
        if call.inline:
            inner = Ctx(env, ctx.namer, (*ctx.chain, Frame(block.name, "", span)), (*ctx.blocks, block.name), ctx.depth)
            body = self._body(block.body, inner)
            return _scope(self._serial_id(ctx, "inline"), span, ctx, body, block=block.name, container="inline")
        name = self._claim(label, span, ctx)
        qual = ctx.namer.qual(name)
        # Instances with equal arguments at one call site (a repeat) differ only in their names:
        # the first is lowered, the others are copies (see ir.rebase). Only clean ones are reused.
        ikey = self._instance_key(block, env, span, ctx)
        hit = self._instances.get(ikey) if ikey is not None else None
        if hit is not None:
            original, count = hit
            self._count(span, ctx, count)
            return ir.rebase(original, qual, name, len(ctx.chain))
        errors, nodes = len(self.diagnostics), self.nodes
        inner = Ctx(env, Namer(qual), (*ctx.chain, Frame(block.name, qual, span)), (*ctx.blocks, block.name), ctx.depth)
        body = self._body(block.body, inner)
        node = _scope(qual, span, ctx, body, name=name, block=block.name, container="block")
        if ikey is not None and len(self.diagnostics) == errors:
            self._instances.put(ikey, (node, self.nodes - nodes))
        return node

    def _merge(self, merge: S.Merge, label: str | None, span: Span, ctx: Ctx) -> ir.MergeNode:
        kind = REGISTRY.get(merge.name)
        if kind is None and merge.name in self.blocks:
            msg = f"block `{merge.name}` cannot take paths in braces; only merges such as `add`, `concat`, `mul` do"
            hint = f"call it as `{block_signature(self.blocks[merge.name])}`"
            self.error("E122", msg, merge.name_span, ctx, hint=hint)
            raise Abort()
        if kind is None:
            self._unknown(merge.name, merge.name_span, ctx)
        if not kind.is_merge:
            msg = f"`{merge.name}` takes one input; only merges (add, concat, mul …) take paths"
            hint = f"to apply `{merge.name}` and then a group, put the `{{` on the next line"
            self.error("E122", msg, merge.name_span, ctx, hint=hint)
            raise Abort()
        params = self._layer_params(kind, merge.args, merge.span, ctx)
        paths: list[ir.ScopeNode] = []
        for stmt in merge.paths.stmts:
            if isinstance(stmt, (S.Let, S.Input)):
                what = "`let`" if isinstance(stmt, S.Let) else "`input`"
                msg = f"{what} cannot stand inside a merge's braces: each statement there is a path"
                self.error("E123", msg, stmt.span, ctx)
                nodes: list[ir.AnyNode] = []  # still a path, so the path count below does not complain too
            else:
                nodes = self._body(S.Body((stmt,), stmt.span), ctx)
            paths.append(_scope(self._serial_id(ctx, "path"), stmt.span, ctx, nodes, container="path"))
        lo, hi = kind.inputs
        if len(paths) < lo or (hi is not None and len(paths) > hi):
            want = f"at least {lo}" if hi is None else f"{lo}–{hi}"
            self.error("E124", f"`{merge.name}` needs {want} paths, got {len(paths)}", merge.name_span, ctx)
            raise Abort()
        self._count(span, ctx)
        name = self._claim(label, span, ctx)
        return ir.make(
            ir.MergeNode,
            id=ctx.namer.qual(name),
            span=span,
            chain=ctx.chain,
            name=name,
            kind=kind.name,
            params=params,
            paths=tuple(paths),
        )


def _scope(node_id: str, span: Span, ctx: Ctx, body: list[ir.AnyNode], **kw: str) -> ir.ScopeNode:
    """A scope node in ``ctx``'s block chain (``kw``: its name, block and container)."""
    return ir.make(ir.ScopeNode, id=node_id, span=span, chain=ctx.chain, body=tuple(body), **kw)


def _valid_dims(dims: tuple[object, ...]) -> bool:
    return 1 <= len(dims) <= 3 and all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in dims)
