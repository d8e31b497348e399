"""Runs the front-end passes in order: load+parse → lower → shapes. No torch here.

One :class:`netdsl.limits.Guard` spans the run: its limits apply to every pass and
its deadline to their sum, so a pathological spec ends with a diagnostic, never a hang.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from netdsl.errors import Diagnostic, NetdslError
from netdsl.imports import load as load_files
from netdsl.layers import REGISTRY
from netdsl.limits import Guard, LimitExceeded, Limits, how_to_raise
from netdsl.lower import ir
from netdsl.lower.expr import Value
from netdsl.lower.lowerer import Lowerer
from netdsl.shapes.inference import ShapeResult, infer
from netdsl.syntax import tree as S

__all__ = ["Analysis", "Limits", "analyze", "check"]


@dataclass
class Analysis:
    """The outcome of checking one spec: IR, shapes, diagnostics and the sources they point into."""

    path: str
    net: ir.Net | None = None
    shapes: ShapeResult | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.net is not None and self.shapes is not None and not self.errors

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    def raise_for_errors(self) -> None:
        if not self.ok:
            errs = self.errors or [Diagnostic("E000", f"{self.path}: no net to build")]
            raise NetdslError(errs, self.sources)


def _namespace(modules: list[S.Module], diags: list[Diagnostic]) -> dict[str, S.BlockDef]:
    blocks: dict[str, S.BlockDef] = {}
    for mod in modules:
        for b in mod.blocks:
            if b.is_net and mod is not modules[0]:
                continue  # an imported file's own net is not part of the namespace
            if REGISTRY.get(b.name) is not None:
                diags.append(
                    Diagnostic(
                        "E205", f"block `{b.name}` has the name of a layer kind", b.name_span, hint="rename the block"
                    )
                )
                continue
            if b.name in blocks:
                first = blocks[b.name].name_span
                diags.append(
                    Diagnostic(
                        "E204", f"block `{b.name}` is defined twice", b.name_span, notes=(f"first defined at {first}",)
                    )
                )
                continue
            blocks[b.name] = b
    return blocks


def as_value(v: object) -> Value:
    """A parameter value from Python: lists (at any depth) become the spec's lists, which are tuples."""
    if isinstance(v, list | tuple):
        return tuple(as_value(x) for x in v)
    return v  # type: ignore[return-value]


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for one check (reference counting still frees everything).

    The passes allocate thousands of small, acyclic objects (IR nodes, tuples), which
    triggers the cyclic collector several times per check: each run traverses every
    object of the process and, for ResNet-50, took a fifth of the check's time to find
    about a hundred cycles, which the next collection after the check frees as well.
    (mypy raises its collector thresholds for the same reason.) A caller that has
    disabled the collector keeps it disabled.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def analyze(
    path: str | Path,
    params: Mapping[str, Value] | None = None,
    input_shape: tuple[int, ...] | None = None,
    limits: Limits | None = None,
    text: str | None = None,
) -> Analysis:
    """Parse, lower and shape-check a spec file; never raises for mistakes in the spec.

    ``limits`` (default: :func:`netdsl.limits.current`) bounds what the spec may ask for (:mod:`netdsl.limits`).
    ``text`` is the spec's source when it is not (or not yet) the file at ``path``: an editor's buffer,
    a notebook cell; ``path`` then only names it and anchors its relative imports.
    """
    with _cyclic_gc_paused():
        return _analyze(path, params, input_shape, limits, text)


def _analyze(
    path: str | Path,
    params: Mapping[str, Value] | None,
    input_shape: tuple[int, ...] | None,
    limits: Limits | None,
    text: str | None = None,
) -> Analysis:
    from netdsl.layers.plugins import check_requirements

    out = Analysis(str(path))
    guard = Guard(limits)
    loaded = load_files(path, guard, text)
    out.sources = loaded.sources
    if loaded.root is not None:
        # A missing plugin explains later failures (an unknown library or layer): report it first.
        out.diagnostics.extend(check_requirements(loaded.root.requires))
    out.diagnostics.extend(loaded.diagnostics)
    if loaded.root is None:
        return out
    requires = tuple(p for r in loaded.root.requires for p in r.plugins)
    blocks = _namespace(loaded.modules, out.diagnostics)
    nets = [b for b in loaded.root.blocks if b.is_net]
    if not nets:
        out.diagnostics.append(
            Diagnostic(
                "E206",
                f"{path} defines no `net`",
                hint="a spec needs one `net Name(params) { ... }`; files with only blocks are libraries to import",
            )
        )
        return out
    if len(nets) > 1:
        out.diagnostics.append(
            Diagnostic("E206", f"{path} defines {len(nets)} nets; a spec holds one", nets[1].name_span)
        )
        return out
    lowerer = Lowerer(blocks, guard.limits, out.sources, incomplete=bool(loaded.diagnostics), guard=guard)
    net = lowerer.lower_net(nets[0], {k: as_value(v) for k, v in (params or {}).items()}, input_shape, requires)
    out.diagnostics.extend(lowerer.diagnostics)
    if net is None or any(d.is_error for d in out.diagnostics):
        out.net = net
        return out
    out.net = net
    try:
        out.shapes = infer(net, input_shape, guard)
    except LimitExceeded as err:
        out.diagnostics.append(err.diagnostic)
        return out
    except RecursionError:  # a last resort: the depth limits keep every spec far from the stack's end
        hint = "flatten deeply nested groups; " + how_to_raise("max_depth")
        out.diagnostics.append(Diagnostic("E131", "the net nests too deeply", net.span, hint=hint))
        return out
    out.diagnostics.extend(out.shapes.diagnostics)
    return out


def check(path: str | Path, limits: Limits | None = None, **params: Value) -> list[Diagnostic]:
    """Validate a spec fully (parse, lower, shape inference); return every diagnostic.

    An empty list (or only warnings) means the spec will build. ``input`` may be
    passed as a tuple to override the declared input shape; ``limits`` raises or
    lowers the guards of :mod:`netdsl.limits`.
    """
    shape = params.pop("input", None)
    return analyze(path, params, tuple(shape) if isinstance(shape, tuple) else None, limits).diagnostics
