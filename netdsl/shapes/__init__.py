"""Pass 3, shapes: IR → per-module schedule with static shapes and costs, plus diagnostics.

Entry point: :func:`infer`. No torch. Its result (:class:`ShapeResult`, in
:mod:`netdsl.shapes.result`) carries one :class:`~netdsl.shapes.schedule.Schedule` per
module scope, which every back end consumes; :mod:`netdsl.shapes.report` turns it
into the tables of ``netdsl shapes``.
"""

from netdsl.shapes.inference import infer
from netdsl.shapes.result import NodeInfo, ShapeResult

__all__ = ["NodeInfo", "ShapeResult", "infer"]
