"""What each name in a spec stands for: its values, recorded while lowering the net once more.

A name's value depends on where the lowering reaches it: a block parameter has one
value per use of the block, a repeat variable one per iteration. Rather than
re-deriving the rules of :mod:`netdsl.lower`, :class:`_Tracer` lowers the net with the
real lowering pass and records, at every evaluation, the value each name read (its
distinct values, at most :data:`KEEP` per place). Run on the first hover over a
name of a version of the document if the worker has not run it yet (it does when idle,
stopping as soon as an edit waits), never on the diagnostics path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from netdsl.imports import load as load_files
from netdsl.limits import Guard
from netdsl.lower.expr import Value, free_names
from netdsl.lower.lowerer import Lowerer
from netdsl.lower.scopes import Ctx
from netdsl.syntax import tree as S

KEEP = 8
SpanKey = tuple[str, int, int, int, int]


class Stopped(Exception):
    """The trace was abandoned (a newer edit is waiting for the worker)."""


class _Tracer(Lowerer):
    """The lowering pass, recording the value of every name it evaluates."""

    def __init__(self, *args: object, stop: Callable[[], bool] | None = None, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.seen: dict[SpanKey, list[object]] = {}
        self.stop = stop

    def _eval(self, e: S.Expr, ctx: Ctx, env: Mapping[str, Value] | None = None) -> Value:
        if self.stop is not None and self.stop():
            raise Stopped()
        scope = ctx.env if env is None else env
        for name in free_names(e):
            if name.id in scope:
                s = name.span
                values = self.seen.setdefault((s.file, s.line, s.col, s.end_line, s.end_col), [])
                value = scope[name.id]
                if len(values) < KEEP and value not in values:
                    values.append(value)
        return super()._eval(e, ctx, env)


def trace(path: Path, text: str, stop: Callable[[], bool] | None = None) -> dict[SpanKey, list[object]]:
    """Span of each name in the net's files → the distinct values it took (empty if nothing lowers).

    ``stop`` is asked at every evaluation; when it says yes, :class:`Stopped` is raised.
    """
    guard = Guard()
    loaded = load_files(path, guard, text)
    if loaded.root is None:
        return {}
    nets = [b for b in loaded.root.blocks if b.is_net]
    if len(nets) != 1:
        return {}
    blocks: dict[str, S.BlockDef] = {}
    for mod in loaded.modules:
        for b in mod.blocks:
            if not b.is_net:
                blocks.setdefault(b.name, b)
    tracer = _Tracer(blocks, guard.limits, loaded.sources, incomplete=True, guard=guard, stop=stop)
    try:
        tracer.lower_net(nets[0], {}, None, ())
    except Stopped:
        raise
    except Exception:  # a hover must never fail: what was recorded before it is still right
        pass
    return tracer.seen
