"""The layer registry: one entry per layer kind, the single mechanism for built-ins and plugins.

A layer kind bundles everything every pass needs to know about it, the way JAX
registers one shape rule and one lowering per primitive:

* ``schema``: a frozen pydantic model of its parameters (validated at lowering);
* ``shape``: a pure rule ``(params, input shapes) -> output shape`` raising
  :class:`ShapeError` with a message naming the offending values;
* ``cost``: ``(params, input shapes, output shape) -> Cost`` (params, buffers, MACs);
* ``build``: ``(params, input shapes, output shape) -> torch.nn.Module`` (imports
  torch lazily, so only the compile side pays for it);
* ``family`` and ``label``: how the diagram draws it;
* ``windows``: for sliding-window layers, the per-axis window geometry, from which
  the shape pass derives receptive field, jump, ``--explain`` arithmetic and
  "rows dropped by the floor" warnings with one shared helper;
* ``inplace`` and ``output_free``: what the compiler needs to run the layer in
  place, as hand-written PyTorch does (``nn.ReLU(inplace=True)``, ``out += identity``):
  ``inplace`` turns a built module into one that overwrites its first input, and
  ``output_free`` says the layer's backward never reads its own output, so a
  following in-place layer may overwrite it. Both default to "no" (always safe).

Shapes never include the batch dimension: ``(C, H, W)`` or ``(C, L)`` or ``(F,)``.
Registering a name twice is an error naming both sources.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:  # pragma: no cover - typing only; torch is never imported on the dry-run path
    from torch import nn

Shape = tuple[int, ...]
Family = Literal["conv", "norm", "activation", "pool", "linear", "merge", "dropout", "reshape", "other"]
FAMILIES: tuple[str, ...] = ("conv", "norm", "activation", "pool", "linear", "merge", "dropout", "reshape", "other")


class Params(BaseModel):
    """Base class of every layer parameter schema: immutable, unknown fields rejected.

    Validators are built on first use (``defer_build``): a check builds the few its spec
    uses, not all forty at import. A plugin's schema is built when it registers, so a
    schema pydantic cannot build fails the plugin's load, as it did at class creation.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=False, defer_build=True)


class ShapeError(Exception):
    """Raised by a shape rule: the message names the layer's offending values."""

    def __init__(self, message: str, hint: str | None = None, code: str = "E301"):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


@dataclass(frozen=True, slots=True)
class Cost:
    """Static cost of one layer: trainable parameters, non-trainable buffers, multiply-accumulates."""

    params: int = 0
    buffers: int = 0
    macs: int = 0


@dataclass(frozen=True, slots=True)
class Window:
    """Sliding-window geometry along one spatial axis (already resolved: no 'same')."""

    kernel: int
    stride: int = 1
    pad_lo: int = 0
    pad_hi: int = 0
    dilation: int = 1
    ceil_mode: bool = False


ShapeRule = Callable[[Any, Sequence[Shape]], Shape]
CostRule = Callable[[Any, Sequence[Shape], Shape], Cost]
Builder = Callable[[Any, Sequence[Shape], Shape], "nn.Module"]
WindowRule = Callable[[Any, Shape], Sequence[Window]]
InplaceRule = Callable[["nn.Module"], "nn.Module"]


def no_cost(params: Any, inputs: Sequence[Shape], output: Shape) -> Cost:
    """Cost rule of parameter-free, compute-free layers (activations, reshapes)."""
    return Cost()


@dataclass(frozen=True)
class LayerKind:
    """Everything netdsl knows about one layer kind. See the module docstring."""

    name: str
    schema: type[Params]
    shape: ShapeRule
    build: Builder
    doc: str
    cost: CostRule = no_cost
    family: Family = "other"
    label: Callable[[Any], str] | None = None
    positional: tuple[str, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)
    inputs: tuple[int, int | None] = (1, 1)
    windows: WindowRule | None = None
    inplace: InplaceRule | None = None
    output_free: bool = False
    origin: str = "built-in"

    @property
    def is_merge(self) -> bool:
        """Merges take several paths (``add { ... }``) instead of one input."""
        return self.inputs[1] is None or self.inputs[1] > 1

    def describe(self, params: Any) -> str:
        """Compact label for tables and diagrams, e.g. ``conv 3×3, 64, /2``."""
        return self.label(params) if self.label else self.name


class RegistryError(Exception):
    """A registration broke the registry's rules (e.g. a duplicate name)."""


class Registry:
    """Name → :class:`LayerKind`. Built-ins load lazily on first lookup."""

    def __init__(self) -> None:
        self._kinds: dict[str, LayerKind] = {}
        self._origin = "built-in"

    @contextlib.contextmanager
    def origin(self, name: str) -> Iterator[None]:
        """Attribute kinds registered inside this context to ``name`` (a plugin)."""
        before, self._origin = self._origin, name
        try:
            yield
        finally:
            self._origin = before

    def register(self, kind: LayerKind) -> LayerKind:
        """Add a layer kind; a second kind under the same name is refused."""
        if kind.origin == "built-in" and self._origin != "built-in":
            kind = replace(kind, origin=self._origin)
        if not kind.name.isidentifier():
            raise RegistryError(f"layer name {kind.name!r} is not an identifier")
        old = self._kinds.get(kind.name)
        if old is not None:
            raise RegistryError(f"layer `{kind.name}` is registered twice: by {old.origin} and by {kind.origin}")
        unknown = [p for p in kind.positional if p not in kind.schema.model_fields]
        if unknown:
            raise RegistryError(f"layer `{kind.name}`: positional names {unknown} are not schema fields")
        if kind.origin != "built-in":
            _build_schema(kind)
        self._kinds[kind.name] = kind
        return kind

    def unregister(self, name: str) -> None:
        """Remove a kind (tests and plugin reloads)."""
        self._kinds.pop(name, None)

    def get(self, name: str) -> LayerKind | None:
        return self._kinds.get(name)  # hot path: the shape pass looks up every layer

    def names(self) -> list[str]:
        return sorted(self._kinds)

    def __iter__(self) -> Iterator[LayerKind]:
        return iter(sorted(self._kinds.values(), key=lambda k: k.name))

    def __contains__(self, name: object) -> bool:
        return name in self._kinds


def _build_schema(kind: LayerKind) -> None:
    """Build a plugin's validator now: its schema's mistakes surface at registration, not at first use."""
    try:
        kind.schema.model_rebuild(_parent_namespace_depth=0)  # nothing to do if it is built already
    except Exception as err:  # pydantic's schema-generation errors (unknown types, bad validators)
        raise RegistryError(f"layer `{kind.name}`: its schema cannot be built: {type(err).__name__}: {err}") from err


REGISTRY = Registry()


def register(kind: LayerKind) -> LayerKind:
    """Public API: register a layer kind (built-ins and plugins use this same call)."""
    return REGISTRY.register(kind)
