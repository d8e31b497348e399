"""The emitted source's building blocks: constructor expressions, generated classes, and their rendering.

:mod:`netdsl.backends.python.codegen` describes every module scope as a :class:`GenClass`
of constructor expressions (:data:`Expr`); this module holds that model and turns a
class into source lines.
"""

from __future__ import annotations

import builtins
import keyword
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from netdsl.backends.python.layers import REQUIRED, is_identifier, literal, same_value

#: Names a generated parameter must not take (the emitted file's own names, builtins, keywords).
RESERVED = {"self", "torch", "nn", "Tensor", "Any", "build", "_sequential", *dir(builtins), *keyword.kwlist}


@dataclass(frozen=True)
class Lit:
    """A constructor argument's value; positional, or ``name=`` omitted when constant and equal to ``default``."""

    value: Any
    name: str
    default: Any = REQUIRED
    positional: bool = False


@dataclass(frozen=True)
class Call:
    """``func(args…)``: a layer constructor, or ``nn.Sequential`` / ``_sequential`` of children."""

    func: str
    args: tuple[Expr, ...] = ()


@dataclass(frozen=True)
class Named:
    """A ``("name", module)`` pair of ``_sequential``."""

    name: str
    expr: Expr


@dataclass(frozen=True, eq=False)
class Inst:
    """Instance ``index`` of a generated class."""

    cls: GenClass
    index: int


Expr = Lit | Call | Named | Inst


@dataclass(eq=False)
class GenClass:
    base: str
    chain: bool
    doc: str
    forward: tuple[str, ...]
    instances: list[list[tuple[str, Expr]]] = field(default_factory=list)
    name: str = ""
    slots: list[str | None] = field(default_factory=list)  # per literal: parameter name, or None if constant
    consts: list[Any] = field(default_factory=list)
    holes: list[tuple[str, str]] = field(default_factory=list)  # (parameter, annotation)
    values: list[list[Any]] = field(default_factory=list)  # per instance: argument values

    @property
    def children(self) -> list[str]:
        return [name for name, _ in self.instances[0]]


def skeleton(e: Expr) -> object:
    if isinstance(e, Lit):
        return ("lit", e.name, e.positional)
    if isinstance(e, Call):
        return ("call", e.func, tuple(skeleton(a) for a in e.args))
    if isinstance(e, Named):
        return ("named", e.name, skeleton(e.expr))
    return ("inst", id(e.cls))


def flatten(e: Expr, path: tuple[str, ...], out: list[tuple[tuple[str, ...], Any]]) -> None:
    if isinstance(e, Lit):
        out.append(((*path, e.name), e.value))
    elif isinstance(e, Call):
        for i, a in enumerate(e.args):
            flatten(a, path if isinstance(a, (Lit, Named)) else (*path, str(i)), out)
    elif isinstance(e, Named):
        flatten(e.expr, (*path, e.name), out)
    else:
        out.extend(((*path, name), v) for (name, _), v in zip(e.cls.holes, e.cls.values[e.index], strict=True))


def hole_names(paths: list[tuple[str, ...]]) -> list[str]:
    """Name parameters by the argument they feed, qualified by the child when that alone is ambiguous.

    ``conv1.out_channels`` → ``conv1_out_channels``; unlabelled children go last:
    ``0.out_channels`` → ``out_channels_0``.
    """
    last = [p[-1] for p in paths]
    names: list[str] = []
    for p, short in zip(paths, last, strict=True):
        name = short
        if last.count(short) > 1:
            name = "_".join(p) if p[0][:1].isalpha() else "_".join((short, *p[:-1]))
        name = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)
        name = name if name[:1].isalpha() else f"p{name}"
        while name in RESERVED or name in names:
            name += "_"
        names.append(name)
    return names


class Renderer:
    """Renders one class instance's expressions, consuming its literal slots in order."""

    def __init__(self, cls: GenClass):
        self.cls = cls
        self.k = 0

    def take(self) -> tuple[str, bool, Any]:
        hole, value = self.cls.slots[self.k], self.cls.consts[self.k]
        self.k += 1
        return (hole, False, None) if hole is not None else (literal(value), True, value)

    def render(self, e: Expr, indent: int) -> str | None:
        if isinstance(e, Lit):
            text, const, value = self.take()
            if e.positional:
                return text
            return None if const and same_value(value, e.default) else f"{e.name}={text}"
        if isinstance(e, Named):
            return f'("{e.name}", {self.render(e.expr, indent)})'
        if isinstance(e, Inst):
            args = []
            for name, _ in e.cls.holes:
                args.append(f"{name}={self.take()[0]}")
            return f"{e.cls.name}({', '.join(args)})"
        parts = [r for a in e.args if (r := self.render(a, indent + 4)) is not None]
        if not any(isinstance(a, (Call, Named, Inst)) for a in e.args):
            return f"{e.func}({', '.join(parts)})"
        pad = " " * (indent + 4)
        return f"{e.func}(\n" + "".join(f"{pad}{part},\n" for part in parts) + " " * indent + ")"


def fresh() -> Iterator[str]:
    yield "out"
    n = 1
    while True:
        yield f"out{n}"
        n += 1


def render_class(cls: GenClass) -> list[str]:
    sig = "".join(f", {n}: {t}" for n, t in cls.holes)
    count = len(cls.instances)
    lines = [
        f"class {cls.name}({'nn.Sequential' if cls.chain else 'nn.Module'}):",
        f'    """The {cls.doc}{f" ({count} instances)" if count > 1 else ""}."""',
        "",
        f"    def __init__(self{sig}) -> None:",
        "        super().__init__()",
    ]
    r = Renderer(cls)
    body = cls.instances[0]
    if cls.chain and [n for n, _ in body] == [str(i) for i in range(len(body))]:
        # Children named 0, 1, … as nn.Sequential numbers them: pass them to its constructor.
        lines[-1] = "        super().__init__("
        lines += [f"            {r.render(e, 12)}," for _, e in body]
        return [*lines, "        )"]
    for name, e in body:
        text = r.render(e, 8)
        lines.append(
            f"        self.{name} = {text}" if is_identifier(name) else f'        self.add_module("{name}", {text})'
        )
    if not cls.chain:
        lines += ["", "    def forward(self, x: Tensor) -> Tensor:", *(f"        {line}" for line in cls.forward)]
    return lines


SEQUENTIAL_HELPER = '''def _sequential(*named: tuple[str, nn.Module]) -> nn.Sequential:
    """An nn.Sequential whose children have the given names."""
    seq = nn.Sequential()
    for name, module in named:
        seq.add_module(name, module)
    return seq'''
