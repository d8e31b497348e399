"""The back ends agree on the dataflow: diagram edges = built fx graph edges = emitted Python's edges.

Each graph is reduced to edges between layers (plus ``#input`` and ``#output``), counted with
multiplicity; merges are contracted (their inputs feed their consumers), because the emitted
Python writes an ``add`` as ``x + y`` rather than a module call. Run over every shipped spec,
over seeded generated specs (captures, inline blocks, switches, nested groups, repeats,
merges) and over the issue's reproducer.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import fx, nn

from netdsl.backends.graphviz import RenderOptions
from netdsl.backends.graphviz.model import INPUT_ID, OUTPUT_ID
from netdsl.backends.graphviz.model import build as diagram
from netdsl.backends.python.codegen import emit
from netdsl.backends.torch.compile import build
from netdsl.layers import REGISTRY
from netdsl.pipeline import Analysis, analyze

sys.path.insert(0, str(Path(__file__).parent))
from generated import spec

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "specs").glob("*.net"))
# The large specs are covered by their families (resnet18/50, vgg11/16): same blocks, more of them.
SLOW = {"resnet101", "resnet152", "vgg13", "vgg19"}

REPRODUCER = """
block B() {
    r1: relu -> t
    c1: conv2d(3, 1)
}
net N() {
    input(3, 8, 8)
    inline B()
    m: add {
        @t
        {}
    }
}
"""

Edges = Counter[tuple[str, str]]


def _is_merge(kind: str) -> bool:
    k = REGISTRY.get(kind)
    return k is not None and (k.inputs[1] is None or k.inputs[1] > 1)


def _contract(preds: dict[str, list[str]], order: Iterable[str], leaves: set[str]) -> Edges:
    """Edges between leaves through contracted non-leaf nodes, with multiplicity."""
    sources: dict[str, Counter[str]] = {}
    edges: Edges = Counter()
    for n in order:
        inflow: Counter[str] = Counter()
        for p in preds.get(n, []):
            inflow.update(sources.get(p, Counter({p: 1}) if p in leaves else Counter()))
        if n in leaves:
            for src, k in inflow.items():
                edges[(src, n)] += k
            sources[n] = Counter({n: 1})
        else:
            sources[n] = inflow
    return edges


def diagram_edges(a: Analysis) -> Edges:
    assert a.shapes is not None
    d = diagram(a.shapes, RenderOptions(expand=True))
    preds: dict[str, list[str]] = {}
    order: list[str] = []
    for e in d.edges:
        preds.setdefault(e.head, []).append(e.tail)
    for e in d.edges:
        for n in (e.tail, e.head):
            if n not in order:
                order.append(n)
    merges = {i.id for i in a.shapes.layers() if _is_merge(i.kind)}
    leaves = {n for n in order if n not in merges}
    return _contract(preds, _topological(order, preds), leaves)


def _topological(nodes: list[str], preds: dict[str, list[str]]) -> list[str]:
    done: list[str] = []
    seen: set[str] = set()

    def visit(n: str) -> None:
        if n in seen:
            return
        seen.add(n)
        for p in preds.get(n, []):
            visit(p)
        done.append(n)

    for n in nodes:
        visit(n)
    return done


class _LayerTracer(fx.Tracer):
    def __init__(self, layers: set[str]) -> None:
        super().__init__()
        self.layers = layers

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return qualname in self.layers


def _arg_nodes(node: fx.Node) -> list[fx.Node]:
    """The nodes ``node`` reads, one entry per occurrence (``x + x`` reads ``x`` twice)."""
    found: list[fx.Node] = []

    def record(n: fx.Node) -> fx.Node:
        found.append(n)
        return n

    fx.node.map_arg((node.args, node.kwargs), record)
    return found


def fx_edges(module: nn.Module, a: Analysis) -> Edges:
    """The dataflow between the spec's layers in ``module``, traced through every container."""
    assert a.shapes is not None
    layers = {i.id for i in a.shapes.layers() if not _is_merge(i.kind)}
    graph = _LayerTracer(layers).trace(module)
    preds: dict[str, list[str]] = {}
    order: list[str] = []
    names: dict[fx.Node, str] = {}
    for node in graph.nodes:
        if node.op == "placeholder":
            names[node] = INPUT_ID
        elif node.op == "output":
            names[node] = OUTPUT_ID
        elif node.op == "call_module" and node.target in layers:
            names[node] = str(node.target)
        else:
            names[node] = f"%{node.name}"
        preds[names[node]] = [names[i] for i in _arg_nodes(node)]
        order.append(names[node])
    leaves = {INPUT_ID, OUTPUT_ID, *layers}
    return _contract(preds, order, leaves)


def python_edges(a: Analysis) -> Edges:
    """The dataflow of the emitted standalone source (executed as a user would import it)."""
    namespace: dict[str, Any] = {"__name__": "generated_net"}
    exec(compile(emit(a, inplace=False), "<generated>", "exec"), namespace)  # our own emitted file, as `import`
    return fx_edges(namespace["build"](), a)


def _agree(a: Analysis) -> None:
    assert a.ok, [str(d) for d in a.diagnostics]
    drawn = diagram_edges(a)
    built = fx_edges(build(a, inplace=False), a)
    assert drawn == built
    assert python_edges(a) == built


@pytest.mark.parametrize("path", [p for p in SPECS if p.stem not in SLOW], ids=lambda p: p.stem)
def test_back_ends_agree_on_every_shipped_spec(path: Path) -> None:
    _agree(analyze(path))


@pytest.mark.parametrize("seed", range(40))
def test_back_ends_agree_on_generated_specs(seed: int, tmp_path: Path) -> None:
    _agree(analyze(tmp_path / f"g{seed}.net", text=spec(seed)))


def test_back_ends_agree_on_the_capture_through_an_inline_block(tmp_path: Path) -> None:
    a = analyze(tmp_path / "r.net", text=REPRODUCER)
    _agree(a)
    assert diagram_edges(a) == Counter(
        {(INPUT_ID, "r1"): 1, ("r1", "c1"): 1, ("r1", OUTPUT_ID): 1, ("c1", OUTPUT_ID): 1}
    )


def test_the_edge_count_sees_a_wrong_edge() -> None:
    # The bug the test guards against: `c1 -> m` twice and no `r1 -> m` would count differently.
    good = _contract(
        {"m": ["r1", "c1"], "c1": ["r1"], "#output": ["m"]}, ["r1", "c1", "m", "#output"], {"r1", "c1", "#output"}
    )
    bad = _contract(
        {"m": ["c1", "c1"], "c1": ["r1"], "#output": ["m"]}, ["r1", "c1", "m", "#output"], {"r1", "c1", "#output"}
    )
    assert good != bad


torch.manual_seed(0)
