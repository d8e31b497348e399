"""``netdsl build --format python``: the compiled net as a standalone, readable Python file.

The file imports only torch and holds plain ``nn.Module`` classes with the same
module names as :func:`netdsl.load` builds, hence the same ``state_dict`` keys.

Class strategy: every block instance, labelled group with merges, and the net
itself is a *scope*; scopes of one block (or label) with the same structure
(the same children, constructors and dataflow) share one class, and the values
that differ between them (channels, strides …) become constructor arguments.
They are found by comparing the instances' constructor literals: a literal
equal in every instance stays in the class body, the others become parameters
(one per distinct column of values, named after the argument they feed, e.g.
``in_channels``, ``stride``). Instances whose *structure* differs (a Bottleneck
with a ``downsample`` shortcut and one without) get distinct classes rather
than ``if`` branches in one class: each class's ``forward`` then stays
straight-line code that reads like the spec, and TorchScript needs no
``Optional`` submodules. The most frequent variant keeps the block's name; the
others are suffixed by the children they add or drop (``BottleneckDownsample``).

Labelled chains (repeats, groups without merges) are written inline as
``nn.Sequential``; merges as plain ``x + y``, ``x * y``, ``torch.cat([...], 1)``
from a table keyed by merge kind; a plugin's merge falls back on its module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netdsl.backends.python.exprs import (
    RESERVED,
    SEQUENTIAL_HELPER,
    Call,
    Expr,
    GenClass,
    Inst,
    Lit,
    Named,
    flatten,
    fresh,
    hole_names,
    render_class,
    skeleton,
)
from netdsl.backends.python.layers import (
    REQUIRED,
    CodegenError,
    annotation,
    class_source,
    ctor,
    is_identifier,
    same_value,
)
from netdsl.backends.torch.compile import Plan, plan
from netdsl.pipeline import Analysis
from netdsl.shapes.inference import fmt_shape

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

__all__ = ["MERGES", "CodegenError", "emit"]

#: Merge kind → expression over the input variables; kinds missing here call their module.
MERGES: dict[str, Callable[[nn.Module, list[str]], str]] = {
    "add": lambda m, xs: " + ".join(xs),
    "mul": lambda m, xs: " * ".join(xs),
    "concat": lambda m, xs: f"torch.cat([{', '.join(xs)}], {m.dim})",
}


class _Emitter:
    def __init__(self) -> None:
        self.classes: dict[object, GenClass] = {}
        self.sources: dict[type, None] = {}
        self.uses_sequential = False

    # -- structure
    def describe(self, p: Plan) -> Inst:
        inline = {op.target for op in p.ops if op.merge and op.kind in MERGES}
        body = [(name, self.expr(child)) for name, child in p.children.items() if name not in inline]
        forward = () if p.is_chain else tuple(self.forward(p))
        key = (p.class_name, p.is_chain, forward, tuple((n, skeleton(e)) for n, e in body))
        cls = self.classes.get(key)
        if cls is None:
            node = p.node
            what = (
                f"net `{node.block}`"
                if node.container == "net"
                else f"block `{node.block}`"
                if node.block
                else f"labelled {node.container} `{node.name}`"
            )
            cls = self.classes[key] = GenClass(p.class_name, p.is_chain, what, forward)
        cls.instances.append(body)
        return Inst(cls, len(cls.instances) - 1)

    def expr(self, child: Plan | nn.Module) -> Expr:
        if isinstance(child, Plan):
            if child.is_chain and not child.node.block and child.node.container != "net":
                items = [(n, self.expr(c)) for n, c in child.children.items()]
                if [n for n, _ in items] == [str(i) for i in range(len(items))]:
                    return Call("nn.Sequential", tuple(e for _, e in items))
                self.uses_sequential = True
                return Call("_sequential", tuple(Named(n, e) for n, e in items))
            return self.describe(child)
        c = ctor(child)
        if c.source is not None:
            self.sources[c.source] = None
        args, positional = [], True
        for name, value, default in c.args:
            positional = positional and default is REQUIRED
            args.append(Lit(value, name, default, positional))
        return Call(c.func, tuple(args))

    def forward(self, p: Plan) -> Iterator[str]:
        """Straight-line forward; a variable is reused once its value is dead (``out = self.bn1(out)``)."""
        last: dict[int, int] = {p.output: len(p.ops) + 1}
        for i, op in enumerate(p.ops, 1):
            for a in op.args:
                last[a] = max(last.get(a, 0), i)
        names, live = {0: "x"}, {"x"}
        for i, op in enumerate(p.ops, 1):
            argv = [names[a] for a in op.args]
            call = f"self.{op.target}" if is_identifier(op.target) else f'getattr(self, "{op.target}")'
            if op.merge and op.kind in MERGES:
                expr = MERGES[op.kind](p.children[op.target], argv)  # type: ignore[arg-type]
            else:
                expr = f"{call}([{', '.join(argv)}])" if op.merge else f"{call}({argv[0]})"
            dying = [a for a in dict.fromkeys(op.args) if last.get(a) == i]
            live -= {names[a] for a in dying}
            # Prefer keeping `x` (the input) for the branch: `out = x * out` reads as "scale x by out".
            dying.sort(key=lambda a: names[a] == "x")
            name = names[dying[0]] if dying else next(n for n in fresh() if n not in live)
            names[i] = name
            if i in last:
                live.add(name)
            if op.kind == "add" and type(p.children[op.target]).__name__ == "AddInplace" and name == argv[0]:
                yield from (f"{name} += {other}" for other in argv[1:])  # as torchvision: `out += identity`
                continue
            yield f"{name} = {expr}"
        yield f"return {names[p.output]}"

    # -- parameters
    def resolve(self) -> None:
        """Per class (children first): which literals vary between instances, and what to call them."""
        for cls in self.classes.values():
            flat: list[list[tuple[tuple[str, ...], Any]]] = []
            for body in cls.instances:
                out: list[tuple[tuple[str, ...], Any]] = []
                for name, e in body:
                    flatten(e, (name,), out)
                flat.append(out)
            cls.consts = [v for _, v in flat[0]]
            columns: dict[str, int] = {}
            paths: list[tuple[str, ...]] = []
            cols: list[list[Any]] = []
            slots: list[int | None] = []
            for k, (path, first) in enumerate(flat[0]):
                col = [f[k][1] for f in flat]
                if all(same_value(v, first) for v in col):
                    slots.append(None)
                    continue
                key = repr(col)  # identical columns (e.g. conv1's out_channels and bn1's features) share one
                if key not in columns:
                    columns[key] = len(paths)
                    paths.append(path)
                    cols.append(col)
                slots.append(columns[key])
            names = hole_names(paths)
            cls.slots = [None if s is None else names[s] for s in slots]
            cls.holes = [(n, annotation(c)) for n, c in zip(names, cols, strict=True)]
            cls.values = [[c[j] for c in cols] for j in range(len(cls.instances))]

    def name_classes(self) -> None:
        taken = set(RESERVED) | {c.__name__ for c in self.sources}
        groups: dict[str, list[GenClass]] = {}
        for cls in self.classes.values():
            groups.setdefault(cls.base, []).append(cls)
        for base, variants in groups.items():
            main = max(variants, key=lambda c: len(c.instances))
            others = iter(range(2, len(variants) + 1))
            for cls in variants:
                name = base
                if cls is not main:
                    # Name a variant by the labelled children it adds or drops (BottleneckDownsample),
                    # else number it (InvertedResidual2).
                    extra = [n for n in cls.children if n not in main.children]
                    missing = [n for n in main.children if n not in cls.children]
                    words = extra if extra and not missing else ["no", *missing] if missing and not extra else []
                    if words and all(w[:1].isalpha() for w in words):
                        name += "".join(w[:1].upper() + w[1:] for w in words)
                    else:
                        name += str(next(others))
                while name in taken:
                    name += "_"
                taken.add(name)
                cls.name = name


def emit(analysis: Analysis, *, inplace: bool = True) -> str:
    """The standalone Python source of the checked spec's net (built on the meta device: no weights).

    ``inplace`` as in :func:`netdsl.backends.torch.compile.plan`: the emitted classes then use
    ``nn.ReLU(inplace=True)`` and an accumulating add where the compiled module does.
    """
    import torch

    analysis.raise_for_errors()
    assert analysis.net is not None and analysis.shapes is not None
    with torch.device("meta"):
        root_plan = plan(analysis, inplace=inplace)
    em = _Emitter()
    root = em.describe(root_plan)
    em.resolve()
    em.name_classes()
    net = analysis.net
    blocks: list[str] = [
        f'"""{net.name}: generated by `netdsl build --format python` from {Path(analysis.path).name} '
        f"(input {fmt_shape(analysis.shapes.input_shape)}).",
        "",
        "Standalone: needs only torch. build() returns the net; its state_dict keys are those of",
        'netdsl.load() on the same spec, so weights load either way."""',
        "",
        *(["from typing import Any", ""] if any(t == "Any" for c in em.classes.values() for _, t in c.holes) else []),
        "import torch",
        "from torch import Tensor, nn",
    ]
    names = [cls.__name__ for cls in em.sources]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise CodegenError(f"two module classes named {clash[0]} (from different plugins) cannot share one file")
    for cls in em.sources:
        blocks += ["", "", class_source(cls).rstrip()]
    if em.uses_sequential:
        blocks += ["", "", SEQUENTIAL_HELPER]
    for c in em.classes.values():
        blocks += ["", "", *render_class(c)]
    blocks += [
        "",
        "",
        f"def build() -> {root.cls.name}:",
        f'    """A new {net.name} with freshly initialised weights."""',
        f"    return {root.cls.name}()",
        "",
    ]
    return "\n".join(blocks)
