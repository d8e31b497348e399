"""Schedules → plans: every layer built with its registered builder, every module's calls as numbered values.

A :class:`Plan` is one module scope's :class:`~netdsl.shapes.schedule.Schedule` with its
layers built: the children in registration order (so ``state_dict`` keys come in the
spec's order) and the calls (:class:`Op`) over the same value ids. Nothing here walks the
IR: the shape pass has decided the switches, flattened transparent scopes and resolved
captures. :mod:`netdsl.backends.torch.compile` instantiates plans into modules,
:mod:`netdsl.backends.torch.inplace` edits their calls, and
:mod:`netdsl.backends.python.codegen` writes them out as source.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from torch import nn

from netdsl.errors import Diagnostic, NetdslError
from netdsl.layers import REGISTRY
from netdsl.lower import ir
from netdsl.pipeline import Analysis
from netdsl.shapes.schedule import Schedule, Step

__all__ = ["Op", "Plan", "build_plan"]


@dataclass(frozen=True, slots=True)
class Op:
    """One call of a scope's forward: child ``target`` applied to earlier values.

    Value 0 is the scope's input; op ``i`` produces value ``i + 1``. A merge
    receives its inputs as one list (``forward(xs: list[Tensor])``).
    """

    target: str
    args: tuple[int, ...]
    merge: bool = False
    kind: str = ""  # the layer kind, "" for child module scopes


@dataclass
class Plan:
    """How one module scope computes: its children in registration order and its calls."""

    node: ir.ScopeNode
    children: dict[str, Plan | nn.Module] = field(default_factory=dict)
    ops: list[Op] = field(default_factory=list)
    output: int = 0

    @property
    def is_chain(self) -> bool:
        """Each call consumes the previous result and the last one is returned: an ``nn.Sequential``."""
        return self.output == len(self.ops) and all(not op.merge and op.args == (i,) for i, op in enumerate(self.ops))

    @property
    def class_name(self) -> str:
        """The block's name, else a CamelCase form of the scope's label."""
        if self.node.block:
            return self.node.block
        label = self.node.name or "Net"
        return "".join(part[:1].upper() + part[1:] for part in label.split("_") if part) or "Group"

    def walk(self) -> Iterator[Plan]:
        """This plan and every nested plan, parents first."""
        yield self
        for child in self.children.values():
            if isinstance(child, Plan):
                yield from child.walk()


def build_plan(analysis: Analysis) -> Plan:
    """Build every layer of a checked spec and take each module's calls from its schedule."""
    analysis.raise_for_errors()
    assert analysis.shapes is not None
    schedule = analysis.shapes.schedule
    if schedule is None:
        raise NetdslError([Diagnostic("E505", "internal error: the shape pass left no schedule")])
    return _plan(schedule)


def _plan(schedule: Schedule) -> Plan:
    p = Plan(schedule.node, output=schedule.output)
    for step in schedule.steps:
        p.children[step.name] = _plan(step.sub) if step.sub is not None else _build(step)
        p.ops.append(Op(step.name, step.args, step.merge, step.kind))
    return p


def _build(step: Step) -> nn.Module:
    node = step.node
    kind = REGISTRY.get(step.kind)
    if kind is None:
        raise _error("E505", f"internal error: no layer kind `{step.kind}`", node)
    try:
        module = kind.build(step.params, step.inputs, step.output)
    except Exception as err:
        raise _error(
            "E502", f"the builder of `{kind.name}` ({kind.origin}) failed: {type(err).__name__}: {err}", node
        ) from err
    if not isinstance(module, nn.Module):
        raise _error(
            "E502",
            f"the builder of `{kind.name}` ({kind.origin}) returned {type(module).__name__}, not a torch.nn.Module",
            node,
        )
    return module


def _error(code: str, message: str, node: ir._Node, hint: str | None = None) -> NetdslError:
    return NetdslError([Diagnostic(code, message, node.span, chain=node.chain, layer=node.id or None, hint=hint)])
