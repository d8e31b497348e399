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
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, InstanceOf, SkipValidation

from netdsl.errors import Frame, Span
from netdsl.layers import Params


class _Node(BaseModel):
    # The lowering pass builds nodes with `make` (values it has just checked), so validators are only
    # needed when something validates a node (tests, tools): built then, not at every start-up.
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    id: str
    span: InstanceOf[Span]
    chain: tuple[InstanceOf[Frame], ...] = ()
    capture: str | None = None


class LayerNode(_Node):
    """One layer: a registered kind with validated parameters."""

    type: Literal["layer"] = "layer"
    name: str
    kind: str
    params: InstanceOf[Params]


class ScopeNode(_Node):
    """A sequence of nodes; a module when ``name`` is set, transparent otherwise."""

    type: Literal["scope"] = "scope"
    name: str | None = None
    block: str | None = None
    container: Literal["net", "block", "group", "repeat", "inline", "path", "arm"] = "group"
    body: tuple[AnyNode, ...] = ()

    @property
    def is_module(self) -> bool:
        return self.name is not None


class MergeNode(_Node):
    """Paths from one input combined by a merge kind: ``add { ... }``."""

    type: Literal["merge"] = "merge"
    name: str
    kind: str
    params: InstanceOf[Params]
    paths: tuple[ScopeNode, ...]


class SwitchNode(_Node):
    """An ``if`` decided by the shape pass because its condition reads ``in``."""

    type: Literal["switch"] = "switch"
    cond_text: str
    cond: SkipValidation[Any]
    env: SkipValidation[Any]
    then: ScopeNode
    orelse: ScopeNode


class UseNode(_Node):
    """``@name``: continue from a named value."""

    type: Literal["use"] = "use"
    value: str


AnyNode = Annotated[LayerNode | ScopeNode | MergeNode | SwitchNode | UseNode, Field(discriminator="type")]


class Net(BaseModel):
    """A lowered net: its parameters, declared input shape and body."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    name: str
    file: str
    params: tuple[tuple[str, SkipValidation[Any]], ...]
    input_shape: tuple[int, ...]
    body: ScopeNode
    requires: tuple[str, ...] = ()
    node_count: int = 0
    span: InstanceOf[Span]

    def param(self, name: str) -> Any:
        return dict(self.params)[name]


_N = TypeVar("_N", bound=BaseModel)


def make(cls: type[_N], **fields: Any) -> _N:
    """A node of ``cls`` from values the lowering pass has just computed and checked.

    Not re-validated: every value is already of its field's type (spans, frames and
    strings the pass builds, parameters validated by their kind's schema), and
    validating them again was a fifth of the lowering's time. The node is otherwise
    exactly what ``cls(**fields)`` gives (defaults filled, the same fields-set), and
    tests re-validate every node of every shipped spec against the models.
    """
    new = cls.__new__(cls)
    object.__setattr__(new, "__dict__", {**_defaults(cls), **fields})
    object.__setattr__(new, "__pydantic_fields_set__", set(fields))
    object.__setattr__(new, "__pydantic_extra__", None)
    object.__setattr__(new, "__pydantic_private__", None)
    return new


@cache
def _defaults(cls: type[BaseModel]) -> dict[str, Any]:
    return {name: f.default for name, f in cls.model_fields.items() if not f.is_required()}


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
    chains: dict[int, tuple[Frame, ...]] = {}  # nodes of one scope share their chain tuple
    set_ = object.__setattr__

    # Hot: ResNet-50 copies 9 instances of ~20 nodes per check, so this avoids pydantic's
    # model_copy and generic helpers (see _copy for why skipping validation is safe here).
    def copy(n: Any) -> Any:
        d = n.__dict__.copy()
        d["id"] = qual + n.id[cut:]
        chain = n.chain
        new_chain = chains.get(id(chain))
        if new_chain is None:
            new_chain = chains[id(chain)] = chain[:depth] + tuple(
                Frame(f.block, qual + f.instance[cut:], f.span) if f.instance.startswith(old) else f
                for f in chain[depth:]
            )
        d["chain"] = new_chain
        t = type(n)
        if t is ScopeNode:
            d["body"] = tuple([copy(c) for c in n.body])
        elif t is MergeNode:
            d["paths"] = tuple([copy(p) for p in n.paths])
        elif t is SwitchNode:
            d["then"], d["orelse"] = copy(n.then), copy(n.orelse)
        new = object.__new__(t)
        set_(new, "__dict__", d)
        set_(new, "__pydantic_fields_set__", n.__pydantic_fields_set__)
        set_(new, "__pydantic_extra__", None)
        set_(new, "__pydantic_private__", None)
        return new

    return _copy(scope, {"id": qual, "name": name, "body": tuple([copy(c) for c in scope.body])})


def _copy(node: _N, update: dict[str, Any]) -> _N:
    """``node.model_copy(update=update)`` without its deep-copy machinery (a third of the time).

    Frozen models are never mutated, so the copy may share the field-set record.
    """
    new = type(node).__new__(type(node))
    object.__setattr__(new, "__dict__", {**node.__dict__, **update})
    object.__setattr__(new, "__pydantic_fields_set__", node.__pydantic_fields_set__)
    object.__setattr__(new, "__pydantic_extra__", None)
    object.__setattr__(new, "__pydantic_private__", None)
    return new


def with_capture(node: _N, capture: str) -> _N:
    """The node with ``-> capture`` recorded on it (as ``model_copy(update=…)`` would, fields-set included)."""
    new = _copy(node, {"capture": capture})
    object.__setattr__(new, "__pydantic_fields_set__", {*node.__pydantic_fields_set__, "capture"})
    return new


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
