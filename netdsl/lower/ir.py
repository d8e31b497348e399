"""The typed, immutable intermediate representation produced by :mod:`netdsl.lower.lowerer`.

A net is a tree of nodes discriminated by ``type``:

* ``layer``: one registered layer kind with validated parameters (a module);
* ``scope``: a sequence of nodes. Named scopes are modules (block instances,
  labelled groups, labelled repeats, the net itself); unnamed ones are
  transparent (merge paths, ``if`` arms, ``inline`` blocks, unlabelled groups):
  their layers are named in the enclosing module;
* ``merge``: several paths from the same input, combined by a merge kind (add,
  concat, mul, or a plugin's);
* ``switch``: an ``if`` whose condition reads the inferred input shape
  (``in.c != planes * 4``); the shape pass decides it;
* ``use``: ``@name``, continue from a value captured earlier with ``-> name``.

Every node carries its source span and the chain of block instantiations that
produced it, so any later pass can point at the user's line. Module nodes' ``id``
is their qualified module name (``layer1.0.conv1``), which is also their
``state_dict`` prefix; other nodes get ids that cannot clash with module names.

The nodes are frozen, slotted dataclasses: the lowering pass builds thousands per check
from values it has already validated (parameters by their kind's pydantic schema, spans
and names by the pass itself), so the IR runs no validation of its own. Instead
:func:`verify_ir` checks a whole net against the types below; the tests run it over every
shipped spec and generated ones (a pydantic IR re-validating, or built with
``model_construct``/``model_copy``, cost 2.7–5× more per node: see docs/architecture.md).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from netdsl.errors import Frame, Span
from netdsl.layers import REGISTRY, Params

__all__ = [
    "AnyNode",
    "IRError",
    "LayerNode",
    "MergeNode",
    "Net",
    "ScopeNode",
    "SwitchNode",
    "UseNode",
    "make",
    "rebase",
    "verify_ir",
    "walk",
    "with_capture",
]

Container = Literal["net", "block", "group", "repeat", "inline", "path", "arm"]
CONTAINERS: frozenset[str] = frozenset(("net", "block", "group", "repeat", "inline", "path", "arm"))


@dataclass(frozen=True, slots=True, kw_only=True)
class _Node:
    id: str
    span: Span
    chain: tuple[Frame, ...] = ()
    capture: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerNode(_Node):
    """One layer: a registered kind with validated parameters."""

    type: Literal["layer"] = "layer"
    name: str
    kind: str
    params: Params


@dataclass(frozen=True, slots=True, kw_only=True)
class ScopeNode(_Node):
    """A sequence of nodes; a module when ``name`` is set, transparent otherwise."""

    type: Literal["scope"] = "scope"
    name: str | None = None
    block: str | None = None
    container: Container = "group"
    body: tuple[AnyNode, ...] = ()

    @property
    def is_module(self) -> bool:
        return self.name is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class MergeNode(_Node):
    """Paths from one input combined by a merge kind: ``add { ... }``."""

    type: Literal["merge"] = "merge"
    name: str
    kind: str
    params: Params
    paths: tuple[ScopeNode, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SwitchNode(_Node):
    """An ``if`` decided by the shape pass because its condition reads ``in``."""

    type: Literal["switch"] = "switch"
    cond_text: str
    cond: Any  # the condition's expression (syntax tree), evaluated against the inferred shape
    env: Any  # the names it may read
    then: ScopeNode
    orelse: ScopeNode


@dataclass(frozen=True, slots=True, kw_only=True)
class UseNode(_Node):
    """``@name``: continue from a named value."""

    type: Literal["use"] = "use"
    value: str


AnyNode = LayerNode | ScopeNode | MergeNode | SwitchNode | UseNode


@dataclass(frozen=True, slots=True, kw_only=True)
class Net:
    """A lowered net: its parameters, declared input shape and body."""

    name: str
    file: str
    params: tuple[tuple[str, Any], ...]
    input_shape: tuple[int, ...]
    body: ScopeNode
    requires: tuple[str, ...] = ()
    node_count: int = 0
    span: Span

    def param(self, name: str) -> Any:
        return dict(self.params)[name]


_N = TypeVar("_N")


def make(cls: type[_N], **fields: Any) -> _N:
    """A node of ``cls`` from values the lowering pass has just computed and checked (see :func:`verify_ir`)."""
    return cls(**fields)


def rebase(scope: ScopeNode, qual: str, name: str, depth: int) -> ScopeNode:
    """A copy of a block instance's subtree as another instance: ``layer1.1`` → ``layer1.2``.

    Every id below ``scope`` starts with its id (module names, and the serial ids of
    transparent nodes, which are numbered per module: ``layer1.1#path2``), and every
    block chain below it holds, from position ``depth``, frames whose instance starts
    with it: both are re-prefixed with ``qual``. Nothing else differs between two
    instances of a block with equal arguments, so the lowering pass copies instead of
    lowering again, and the copy is exactly what lowering again would give.
    """
    old, cut = scope.id, len(scope.id)
    chains: dict[int, tuple[Frame, ...]] = {}  # nodes of one scope share their chain tuple: re-prefix it once
    replace = dataclasses.replace

    def copy(n: Any) -> Any:
        chain = n.chain
        new_chain = chains.get(id(chain))
        if new_chain is None:
            new_chain = chains[id(chain)] = chain[:depth] + tuple(
                Frame(f.block, qual + f.instance[cut:], f.span) if f.instance.startswith(old) else f
                for f in chain[depth:]
            )
        i, t = qual + n.id[cut:], type(n)
        # Direct constructor calls (dataclasses.replace introspects the fields on every call: hot here).
        if t is LayerNode:
            return LayerNode(
                id=i, span=n.span, chain=new_chain, capture=n.capture, name=n.name, kind=n.kind, params=n.params
            )
        if t is ScopeNode:
            body = tuple([copy(c) for c in n.body])
            return ScopeNode(
                id=i, span=n.span, chain=new_chain, capture=n.capture, name=n.name, block=n.block,
                container=n.container, body=body,
            )  # fmt: skip
        if t is MergeNode:
            paths = tuple([copy(p) for p in n.paths])
            return MergeNode(
                id=i, span=n.span, chain=new_chain, capture=n.capture, name=n.name, kind=n.kind, params=n.params,
                paths=paths,
            )  # fmt: skip
        if t is SwitchNode:
            return replace(n, id=i, chain=new_chain, then=copy(n.then), orelse=copy(n.orelse))
        return replace(n, id=i, chain=new_chain)

    return replace(scope, id=qual, name=name, body=tuple([copy(c) for c in scope.body]))


def with_capture(node: _N, capture: str) -> _N:
    """The node with ``-> capture`` recorded on it."""
    return dataclasses.replace(node, capture=capture)  # type: ignore[type-var]


def walk(node: AnyNode | ScopeNode) -> list[AnyNode]:
    """All nodes below (and including) ``node``, both arms of switches, pre-order."""
    out: list[AnyNode] = []
    stack: list[Any] = [node]
    while stack:
        n = stack.pop()
        out.append(n)
        if isinstance(n, ScopeNode):
            stack.extend(reversed(n.body))
        elif isinstance(n, MergeNode):
            stack.extend(reversed(n.paths))
        elif isinstance(n, SwitchNode):
            stack.extend((n.orelse, n.then))
    return out


class IRError(Exception):
    """:func:`verify_ir` found a node whose fields do not have their declared types."""


def _problems(n: Any) -> list[str]:
    """What is wrong with one node's own fields (children are visited by the caller)."""
    bad: list[str] = []

    def need(ok: bool, what: str) -> None:
        if not ok:
            bad.append(f"{type(n).__name__} {getattr(n, 'id', '?')!r}: {what}")

    need(isinstance(n, LayerNode | ScopeNode | MergeNode | SwitchNode | UseNode), "not an IR node")
    if bad:
        return bad
    need(isinstance(n.id, str), "id is not a string")
    need(isinstance(n.span, Span), "span is not a Span")
    need(isinstance(n.chain, tuple) and all(isinstance(f, Frame) for f in n.chain), "chain is not a tuple of Frames")
    need(n.capture is None or isinstance(n.capture, str), "capture is neither None nor a string")
    if isinstance(n, LayerNode | MergeNode):
        kind = REGISTRY.get(n.kind) if isinstance(n.kind, str) else None
        need(kind is not None, f"kind {n.kind!r} is not registered")
        need(isinstance(n.name, str), "name is not a string")
        need(kind is None or isinstance(n.params, kind.schema), "params are not of the kind's schema")
    if isinstance(n, MergeNode):
        need(isinstance(n.paths, tuple) and all(isinstance(p, ScopeNode) for p in n.paths), "paths are not scopes")
    elif isinstance(n, ScopeNode):
        need(n.name is None or isinstance(n.name, str), "name is neither None nor a string")
        need(n.block is None or isinstance(n.block, str), "block is neither None nor a string")
        need(n.container in CONTAINERS, f"container {n.container!r} is unknown")
        need(isinstance(n.body, tuple), "body is not a tuple")
    elif isinstance(n, SwitchNode):
        need(isinstance(n.cond_text, str), "cond_text is not a string")
        need(isinstance(n.then, ScopeNode) and isinstance(n.orelse, ScopeNode), "arms are not scopes")
    elif isinstance(n, UseNode):
        need(isinstance(n.value, str), "value is not a string")
    return bad


def verify_ir(net: Net) -> None:
    """Check every node of ``net`` against the IR's types; raise :class:`IRError` listing what is wrong."""
    bad: list[str] = []
    if not isinstance(net, Net):
        raise IRError(f"not a Net: {type(net).__name__}")
    if not (isinstance(net.name, str) and isinstance(net.file, str) and isinstance(net.span, Span)):
        bad.append("net: name, file or span has the wrong type")
    if not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in net.input_shape):
        bad.append(f"net: input shape {net.input_shape!r} is not positive integers")
    if not (isinstance(net.params, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in net.params)):
        bad.append("net: params are not (name, value) pairs")
    if not (isinstance(net.body, ScopeNode) and net.body.container == "net"):
        bad.append("net: body is not the net's scope")
    for n in walk(net.body):
        bad.extend(_problems(n))
    if bad:
        raise IRError("; ".join(bad[:20]))
