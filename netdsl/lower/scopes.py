"""The lowering pass's bookkeeping: limits, module scopes and their names, the context, diagnostics.

:class:`LowererBase` holds the state and services the tree walk of
:mod:`netdsl.lower.lowerer` relies on: recording each diagnostic once, evaluating
expressions into diagnostics, counting nodes against the limits, and claiming
module names in a scope.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, NamedTuple, NoReturn

from netdsl.errors import Abort, Diagnostic, Frame, Span, did_you_mean
from netdsl.layers import REGISTRY, Params
from netdsl.limits import Guard, LimitExceeded, Limits, how_to_raise
from netdsl.lower.expr import EvalError, NeedsShape, UndefinedName, Value, evaluate, free_names, type_name
from netdsl.memo import Memo
from netdsl.memo import key as memo_key
from netdsl.syntax import tree as S

__all__ = ["HINTS", "Ctx", "Guard", "Limits", "LowererBase", "Namer", "source_text", "suggest_layer"]


@dataclass
class Namer:
    """Names of one module scope: explicit labels, positional indices and captured values."""

    prefix: str
    index: int = 0
    used: dict[str, Span] = field(default_factory=dict)
    values: set[str] = field(default_factory=lambda: {"in"})
    # Serial numbers of the scope's transparent nodes (`layer1.0#path2`), shared with its forks
    # (the arms of an `if`) so they never clash. Numbered per module, not per net: two
    # instances of a block get the same numbers, so one can be copied from the other.
    serials: list[int] = field(default_factory=lambda: [0])

    def qual(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def fork(self) -> Namer:
        return Namer(self.prefix, self.index, dict(self.used), set(self.values), self.serials)


class Ctx(NamedTuple):
    """Where the lowering pass stands: values in scope, the module scope, the block chain.

    A named tuple rather than a frozen dataclass: the pass makes one per statement
    (``LowererBase._deeper``), and ``dataclasses.replace`` was a tenth of the lowering's time.
    """

    env: Mapping[str, Value]
    namer: Namer
    chain: tuple[Frame, ...]
    blocks: tuple[str, ...]  # active block definitions, for recursion detection
    depth: int
    poisoned: frozenset[str] = frozenset()  # names whose definition failed (already reported)

    def with_env(self, env: Mapping[str, Value]) -> Ctx:
        return Ctx(env, self.namer, self.chain, self.blocks, self.depth, self.poisoned)

    def with_namer(self, namer: Namer) -> Ctx:
        return Ctx(self.env, namer, self.chain, self.blocks, self.depth, self.poisoned)


_LABEL_PART = re.compile(r"[A-Za-z0-9_]+")

# Hints that do not depend on the case; a call may still pass its own (or hint=None).
HINTS = {
    "E102": "labels must be unique within a block, group or net",
    "E111": "pass the value as a block parameter instead",
    "E122": "each statement inside the braces is one path from the same input",
    "E123": "put it before the merge",
    "E124": "write each path on its own line (or separate them with `;`); `{}` is the input unchanged",
    "E130": "blocks cannot be recursive; use `repeat` for depth",
    "E142": "add `input(3, 224, 224)` to the net, or pass --input 3x224x224",
    "E144": "a block's input is whatever flows into it",
}


# Names from PyTorch and the literature that difflib cannot match (``ReLU`` → ``relu``, ``fc`` → ``linear``).
_SYNONYMS = {"fc": "linear", "dense": "linear", "bn": "batchnorm", "pool": "maxpool", "leakyrelu": "leaky_relu"}


def suggest_layer(name: str, candidates: list[str]) -> str | None:
    """A did-you-mean for an unknown layer: close spellings, PyTorch class names, common synonyms."""

    def norm(n: str) -> str:
        n = n.lower().replace("_", "")
        return n[:-2] if n.endswith(("1d", "2d")) and n[:-2] not in ("conv",) else n

    for match in (
        [c for c in candidates if c.lower() == name.lower()],
        [c for c in candidates if norm(c) == norm(name)],
        [_SYNONYMS[norm(name)]] if norm(name) in _SYNONYMS else [],
    ):
        if match:
            return f"did you mean `{match[0]}`?"
    return did_you_mean(name, candidates) or did_you_mean(name.lower(), candidates)


@lru_cache(maxsize=32)
def _lines(text: str) -> list[str]:
    return text.splitlines()


def source_text(span: Span, sources: Mapping[str, str]) -> str:
    """The text a span covers (for showing an `if` condition in tables and diagrams)."""
    lines = _lines(sources.get(span.file, ""))
    if not 1 <= span.line <= len(lines):
        return ""
    if span.end_line == span.line:
        return lines[span.line - 1][span.col - 1 : span.end_col - 1]
    return lines[span.line - 1][span.col - 1 :] + " …"


class LowererBase:
    """The lowering pass's state and services: diagnostics, evaluation, counting, naming."""

    def __init__(
        self,
        blocks: Mapping[str, S.BlockDef],
        limits: Limits | None = None,
        sources: Mapping[str, str] | None = None,
        incomplete: bool = False,
        guard: Guard | None = None,
    ):
        """``incomplete``: an import failed (already reported), so unknown names may be its blocks: stay silent.

        ``guard`` carries the limits and the deadline of the whole run (made from ``limits`` if not given).
        """
        self.blocks = blocks
        self.incomplete = incomplete
        self.net_params: tuple[str, str] | None = None  # (net name, its parameters' names joined), for hints
        self._unknown_at: dict[str, int] = {}  # unknown name → index of its diagnostic
        self.sources = sources or {}
        self.guard = guard or Guard(limits)
        self.limits = self.guard.limits
        self.diagnostics: list[Diagnostic] = []
        self._seen: set[tuple[str, Span | None, str]] = set()
        self.nodes = 0
        # Call-site memo of bound arguments (see _call_key).
        self._arg_names: Memo[int, tuple[str, ...]] = Memo()
        self._keep: list[object] = []
        self._memo: Memo[tuple[int, int, tuple[object, ...]], Params | dict[str, Value]] = Memo()
        # Lowered block instances: (scope node, nodes counted); see _instance_key.
        self._instances: Memo[tuple[object, ...], tuple[Any, int]] = Memo()

    # ------------------------------------------------------------- memo
    def _call_key(
        self, target: object, args: tuple[S.Arg, ...], ctx: Ctx
    ) -> tuple[int, int, tuple[object, ...]] | None:
        """Memo key of binding ``args`` for ``target`` (a layer kind or a block) here, or None.

        A block body runs once per instance, mostly with the same values (ResNet-50: 16
        bottlenecks, 8 distinct), so each call site is bound once per distinct values
        of the names its arguments read. Only successful bindings are stored, so a
        mistake is still reported. None when a name is undefined (reported by the
        binding) or a value is unhashable.
        """
        names = self._arg_names.get(id(args))
        if names is None:
            names = tuple(dict.fromkeys(n.id for a in args for n in free_names(a.value)))
            self._arg_names.put(id(args), names)
            self._keep.append(args)  # keeps id(args) unique while the memo lives
        env = ctx.env
        try:
            key = (id(target), id(args), tuple([memo_key(env[n]) for n in names]) if names else ())
            hash(key)
        except (KeyError, TypeError):
            return None
        return key

    def _instance_key(
        self, block: S.BlockDef, env: Mapping[str, Value], span: Span, ctx: Ctx
    ) -> tuple[object, ...] | None:
        """Memo key of a block instance's lowered body: the block, its arguments, the call site, the nesting.

        The call site and nesting are keyed by identity (each instance of a repeat shares
        them; hashing frames and spans by value was a tenth of a copy's time), and kept
        alive with the memo so their ids stay unique. None when an argument is unhashable.
        """
        try:
            key = (
                id(block),
                tuple([(k, memo_key(v)) for k, v in env.items()]),
                id(span),
                id(ctx.chain),
                id(ctx.blocks),
                ctx.depth,
            )
            hash(key)
        except TypeError:
            return None
        self._keep.append((block, span, ctx.chain, ctx.blocks))
        return key

    # ------------------------------------------------------------- reporting
    def error(self, code: str, message: str, span: Span | None, ctx: Ctx | None = None, **kw: Any) -> None:
        """Record a diagnostic; the same mistake reached again (a block used 16 times) is recorded once."""
        key = (code, span, message)
        if key in self._seen:
            return
        self._seen.add(key)
        kw.setdefault("hint", HINTS.get(code))
        self.diagnostics.append(Diagnostic(code, message, span, chain=ctx.chain if ctx else (), **kw))

    def _unknown(self, name: str, span: Span, ctx: Ctx) -> NoReturn:
        from netdsl.layers.plugins import provider_hint

        # A near miss of a known name is a typo; otherwise a missing plugin may provide it.
        suggestion = suggest_layer(name, [*REGISTRY.names(), *self.blocks])
        provider = None if suggestion else provider_hint(name)
        if provider is None and self.incomplete:
            raise Abort()  # probably a block of the import that failed (reported already)
        first = self._unknown_at.get(name)
        if first is not None:  # one misspelt name is one error, however often it is used
            d = self.diagnostics[first]
            if span != d.span and len(d.notes) < 5 and not any(str(span) in n for n in d.notes):  # a few places
                self.diagnostics[first] = replace(d, notes=(*d.notes, f"also used at {span}"))
            raise Abort()
        self._unknown_at[name] = len(self.diagnostics)
        self.error("E101", f"unknown layer or block `{name}`", span, ctx, hint=suggestion or provider)
        raise Abort()

    def _eval(self, e: S.Expr, ctx: Ctx, env: Mapping[str, Value] | None = None) -> Value:
        try:
            return evaluate(e, ctx.env if env is None else env)
        except NeedsShape as err:
            msg = f"`{err.text}` (the block's input shape) may only be used in an `if` condition"
            self.error("E111", msg, err.span, ctx)
            raise Abort() from None
        except UndefinedName as err:
            if err.name not in ctx.poisoned:  # else its definition failed and was reported already
                self.error(err.code, err.message, err.span, ctx, hint=self.outside_block(err.name, ctx) or err.hint)
            raise Abort() from None
        except EvalError as err:
            self.error(err.code, err.message, err.span, ctx, hint=err.hint)
            raise Abort() from None
        except RecursionError:
            self.error("E112", "expression nested too deeply", e.span, ctx)
            raise Abort() from None

    def outside_block(self, name: str, ctx: Ctx) -> str | None:
        """Inside a block, the hint for a name that is one of the net's parameters: blocks do not see them."""
        net = self.net_params
        if not ctx.chain or net is None or name not in net[1].split(","):
            return None
        block = ctx.chain[-1].block
        defined = self.blocks.get(block)
        own = ", ".join([*(p.name for p in defined.params), name]) if defined is not None else f"..., {name}"
        return (
            f"`{name}` is a parameter of net {net[0]}, and a block sees only its own parameters: "
            f"declare it, `block {block}({own})`, and pass it where the block is used: `{block}(..., {name}={name})`"
        )

    def _report(self, ctx: Ctx) -> Any:
        return lambda code, message, span, **kw: self.error(code, message, span, ctx, **kw)

    def _evaluator(self, ctx: Ctx) -> Any:
        return lambda e, env: self._eval(e, ctx, env)

    def _serial_id(self, ctx: Ctx, what: str) -> str:
        serials = ctx.namer.serials
        serials[0] += 1
        return f"{ctx.namer.prefix}#{what}{serials[0]}"

    def _count(self, span: Span, ctx: Ctx, n: int = 1) -> None:
        """Count ``n`` modules or repeat iterations; past the limit the whole lowering stops (one error, no hang)."""
        self.nodes += n
        if self.nodes > self.limits.max_nodes:
            msg = f"the net expands to more than {self.limits.max_nodes:,} modules and repeat iterations"
            hint = "check the repeat counts (real nets have far fewer); " + how_to_raise("max_nodes")
            raise LimitExceeded(Diagnostic("E132", msg, span, chain=ctx.chain, hint=hint))
        self.guard.tick(span, "lowering")

    def _deeper(self, span: Span, ctx: Ctx) -> Ctx:
        """The context one nesting level down; past ``max_depth`` an error at ``span`` (so no stack overflow)."""
        if ctx.depth >= self.limits.max_depth:
            msg = f"statements nest more than {self.limits.max_depth} levels deep here"
            hint = "blocks, groups, repeats, merges and `if` arms each add a level; " + how_to_raise("max_depth")
            self.error("E131", msg, span, ctx, hint=hint)
            raise Abort()
        return Ctx(ctx.env, ctx.namer, ctx.chain, ctx.blocks, ctx.depth + 1, ctx.poisoned)

    def _label(self, label: S.Label | None, ctx: Ctx) -> str | None:
        if label is None:
            return None
        if label.index is None:
            return label.name
        v = self._eval(label.index, ctx)
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            self.error("E145", f"a label index must be an integer, got {type_name(v)}", label.index.span, ctx)
            raise Abort()
        if not _LABEL_PART.fullmatch(str(v)):
            # The name becomes a module attribute, a state_dict key part and a Python class name in
            # generated code: no `.`, no `-` (of a negative index), no spaces, not empty.
            what = f"got {v}" if isinstance(v, int) else f"got {v!r}"
            msg = f"a label index must be a non-negative integer or letters, digits and `_`, {what}"
            self.error("E145", msg, label.index.span, ctx)
            raise Abort()
        return f"{label.name}{v}"

    def _claim(self, name: str | None, span: Span, ctx: Ctx) -> str:
        """Reserve a module name in the current scope (the next index when unlabelled)."""
        ns = ctx.namer
        if name is None:
            name = str(ns.index)
        elif name in ns.used:
            # The message names no instance, so one mistake in a block used many times is one error.
            first = f"`{name}` is first used at {ns.used[name]}"
            self.error("E102", f"duplicate module name `{name}`", span, ctx, notes=(first,))
            raise Abort()
        ns.index += 1
        ns.used[name] = span
        return name
