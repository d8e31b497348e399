"""Run-time check of the static shape inference: run the module once and compare every shape.

Forward hooks on every named module record the output shape each one really
produces; any difference from the shape pass's ``output`` is a bug in a layer's
shape rule or in its builder (the two disagree about what the layer does), so
it is reported as such, naming the module, both shapes and the spec line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from netdsl.errors import Diagnostic, Frame, Span
from netdsl.layers import Shape
from netdsl.pipeline import Analysis
from netdsl.shapes.inference import fmt_shape

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One module whose run-time output shape differs from the static one (``actual`` None: it never ran)."""

    module: str
    expected: Shape | None
    actual: Shape | None
    span: Span | None = None
    chain: tuple[Frame, ...] = ()
    scope: bool = False  # a block, group or the net, rather than one layer

    def describe(self) -> str:
        name = f"`{self.module}`" if self.module else "the net"
        if self.actual is None:
            return f"{name} did not produce a tensor at run time (static shape N×{fmt_shape(self.expected)})"
        return (
            f"{name} produced N×{fmt_shape(self.actual)} at run time; static inference says "
            f"N×{fmt_shape(self.expected)}"
        )

    def to_diagnostic(self, consequences: int = 0) -> Diagnostic:
        """An error pointing at the layer's line; the hint says whose bug it is."""
        notes = (f"{consequences} later module(s) differ too, as a consequence",) if consequences else ()
        return Diagnostic(
            "E503",
            self.describe(),
            self.span,
            layer=self.module or None,
            chain=self.chain,
            hint="the layer's shape rule and its builder disagree: this is a bug in netdsl or in the "
            "plugin that registered the layer, not in the spec",
            notes=notes,
        )


def first_cause(mismatches: list[Mismatch]) -> Diagnostic | None:
    """One diagnostic for a verification run: the earliest layer that went wrong.

    Once one layer's output differs, everything downstream (and the scopes around
    it) differs too; reporting those would bury the cause.
    """
    if not mismatches:
        return None
    layers = [m for m in mismatches if not m.scope]
    cause = layers[0] if layers else mismatches[0]
    return cause.to_diagnostic(len(mismatches) - 1)


def verify(module: nn.Module, analysis: Analysis, batch: int = 2) -> list[Mismatch]:
    """Run ``module`` once on a random batch and return every shape that differs from the static analysis.

    Mismatches come in execution order; :func:`first_cause` picks the one to report.

    The batch is created on the module's device (``meta`` works and allocates
    nothing). The module runs in eval mode without gradients, so BatchNorm
    running statistics are not touched; the training flags are restored after.
    """
    import torch

    analysis.raise_for_errors()
    assert analysis.shapes is not None
    by_id = analysis.shapes.by_id
    tensors = [*module.parameters(), *module.buffers()]
    device = tensors[0].device if tensors else torch.device("cpu")
    dtype = next((t.dtype for t in tensors if t.is_floating_point()), torch.float32)
    seen: dict[str, Shape | None] = {}
    hooks = []

    def recorder(name: str) -> Any:
        def hook(mod: nn.Module, args: Any, out: Any) -> None:
            seen.setdefault(name, tuple(out.shape[1:]) if isinstance(out, torch.Tensor) else None)

        return hook

    for name, sub in module.named_modules():
        if name in by_id:
            hooks.append(sub.register_forward_hook(recorder(name)))
    modes = {sub: sub.training for sub in module.modules()}
    try:
        module.eval()
        x = torch.randn(batch, *analysis.shapes.input_shape, device=device, dtype=dtype)
        with torch.no_grad():
            module(x)
    finally:
        for h in hooks:
            h.remove()
        for sub, mode in modes.items():
            sub.training = mode
    out: list[Mismatch] = []
    for info in analysis.shapes.nodes:
        actual = seen.get(info.id)
        if info.id not in seen or actual != info.output:
            out.append(Mismatch(info.id, info.output, actual, info.span, info.chain, info.is_scope))
    # In the order the modules finished running (modules that never ran last): the first is the cause.
    order = {name: i for i, name in enumerate(seen)}
    return sorted(out, key=lambda m: order.get(m.module, len(order)))
