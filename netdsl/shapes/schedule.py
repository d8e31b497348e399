"""The schedule: what the shape pass hands every back end, one per module scope.

A module's :class:`Schedule` is the ordered list of the calls its ``forward`` makes
(:class:`Step`): a layer, a merge, or a child module (which has a schedule of its own).
Each step reads value ids and writes one: value 0 is the module's input, step ``i``
(from 0) writes value ``i + 1``, and :attr:`Schedule.output` is the value returned.
Everything the IR leaves to be decided is decided here: ``if`` arms by the inferred
shapes, inline blocks and other transparent scopes flattened into their module,
``-> name`` captures and ``@name`` uses resolved to value ids. The torch compiler, the
Python code generator, the diagrams and ``--verify`` read only this, so when two of
them disagree about an edge, the schedule is the one place to fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from netdsl.layers import Cost, Shape, Window
from netdsl.lower import ir

__all__ = ["Schedule", "Step"]


@dataclass(slots=True, eq=False)
class Step:
    """One call of a module's ``forward``: a layer or merge (``kind`` set) or a child module (``sub`` set)."""

    node: ir.LayerNode | ir.MergeNode | ir.ScopeNode
    args: tuple[int, ...]  # the value ids it reads, in order (a merge's paths in their order)
    inputs: tuple[Shape, ...]
    output: Shape
    depth: int
    parent: str | None  # the enclosing module's id
    kind: str = ""  # the layer kind; "" for a child module
    params: object = None
    cost: Cost = field(default_factory=Cost)  # the layer's own; a child module's is summed in the table
    rf: tuple[int, ...] | None = None
    jump: tuple[int, ...] | None = None
    windows: tuple[Window, ...] = ()
    sub: Schedule | None = None

    @property
    def name(self) -> str:
        """The child's attribute name in its module (its last id component)."""
        name = self.node.name
        assert name is not None
        return name

    @property
    def merge(self) -> bool:
        """A merge receives its inputs as one list."""
        return isinstance(self.node, ir.MergeNode)


@dataclass(slots=True, eq=False)
class Schedule:
    """One module scope (the net, a block instance, a labelled group or repeat) and its calls."""

    node: ir.ScopeNode
    kind: str  # "net", "block", "group" or "repeat"
    title: str  # the block (or container) name shown for it
    depth: int
    parent: str | None
    input: Shape | None
    steps: list[Step] = field(default_factory=list)
    output: int = 0
    output_shape: Shape | None = None
    rf: tuple[int, ...] | None = None
    jump: tuple[int, ...] | None = None

    @property
    def id(self) -> str:
        return self.node.id

    @property
    def is_chain(self) -> bool:
        """Each call reads the previous call's value and the last one is returned (an ``nn.Sequential``)."""
        return self.output == len(self.steps) and all(not s.merge and s.args == (i,) for i, s in enumerate(self.steps))

    def shape_of(self, value: int) -> Shape | None:
        """The shape of a value id of this module."""
        return self.input if value == 0 else self.steps[value - 1].output

    def walk(self) -> Iterator[Schedule]:
        """This schedule and every nested one, parents first."""
        yield self
        for step in self.steps:
            if step.sub is not None:
                yield from step.sub.walk()
