"""Pass 4: IR + static shapes → ``torch.nn.Module``.

Every *module scope* of the IR (the net, block instances, labelled groups and
labelled repeats) becomes one module whose children are named exactly as the IR
ids, so ``state_dict`` keys follow the spec (``layer1.0.downsample.0.weight``).

Compilation runs in two steps:

1. :func:`netdsl.backends.torch.plan.plan` reads the shape pass's schedules
   (:mod:`netdsl.shapes.schedule`), building each layer with its registered
   builder, into one :class:`~netdsl.backends.torch.plan.Plan` per module scope:
   its children and its calls over numbered values, exactly the schedule's.
2. :func:`instantiate` turns a plan into modules. A scope whose calls form a
   pure chain becomes an ``nn.Sequential`` (as torchvision's ``features``);
   anything else becomes a ``torch.fx.GraphModule`` generated from the call
   list, so ``forward`` is straight-line Python with no per-call interpretation
   of the IR, and the module scripts, exports, pickles and deep-copies like any
   torch module. Scopes with the same dataflow share one class
   (:class:`SharedGraphModule`), so TorchScript compiles each ``forward`` once.

:mod:`netdsl.backends.python.codegen` reads the same plans to emit standalone source.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import fx, nn
from torch.fx.graph import PythonCode

from netdsl.backends.torch.initialise import POLICIES, initialise
from netdsl.backends.torch.inplace import make_inplace
from netdsl.backends.torch.memory import check_memory
from netdsl.backends.torch.plan import Op, Plan, build_plan
from netdsl.limits import Limits
from netdsl.pipeline import Analysis, analyze

#: Values of ``optimize=``; see :mod:`netdsl.backends.torch.optimize`.
OPTIMIZE = (None, "none", "inference")

#: Batch size of the example input ``optimize="inference"`` traces and checks with.
OPTIMIZE_BATCH = 1


__all__ = ["Op", "Plan", "SharedGraphModule", "build", "check_memory", "instantiate", "load", "plan"]


def plan(analysis: Analysis, *, inplace: bool = True) -> Plan:
    """Build every layer of a checked spec and record each module scope's dataflow (from its schedule).

    ``inplace`` lets activations and residual adds overwrite inputs nobody else
    reads, as hand-written PyTorch does (see :mod:`netdsl.backends.torch.inplace`).
    """
    result = build_plan(analysis)
    if inplace:
        make_inplace(result)
    return result


class BlockSequential(nn.Sequential):
    """An ``nn.Sequential`` for a block instance (or net) whose calls form a chain, printed under its block's name.

    ``print(model)`` then reads like hand-written PyTorch (``Bottleneck(...)``, ``LeNet5(...)``)
    whether or not the block has a merge; everything else is ``nn.Sequential``'s.
    """

    def __init__(self, block: str, children: OrderedDict[str, nn.Module]) -> None:
        super().__init__(children)
        self._netdsl_block = block  # private: a child may well be called `block` (EfficientNet)

    def _get_name(self) -> str:
        return self._netdsl_block


class SharedGraphModule(fx.GraphModule):
    """A ``GraphModule`` whose instances with identical code share one class.

    ``fx.GraphModule`` gives every instance a class of its own, so TorchScript
    compiles a ResNet-152's 50 identical bottleneck ``forward`` methods 50 times.
    :func:`instantiate` reuses the first instance's class for the others instead.
    Editing one instance's graph and recompiling moves that instance to a class of
    its own first, so as with plain GraphModules the edit never leaks to the others.
    """

    def recompile(self) -> PythonCode:
        cls = type(self)
        shared = cls.__dict__.get("_netdsl_src")
        if shared is not None and self._graph.python_code(root_module="self").src != shared:
            self.__class__ = type(cls.__name__, cls.__bases__, {"_netdsl_src": None})
        return super().recompile()


def instantiate(p: Plan, classes: dict[object, type] | None = None) -> nn.Module:
    """Turn a plan into modules: ``nn.Sequential`` for chains, a :class:`SharedGraphModule` otherwise.

    ``classes`` maps each dataflow already built to its class (see :class:`SharedGraphModule`).
    """
    classes = {} if classes is None else classes
    children = {name: instantiate(c, classes) if isinstance(c, Plan) else c for name, c in p.children.items()}
    if p.is_chain:
        if p.node.block:
            return BlockSequential(p.node.block, OrderedDict(children))
        return nn.Sequential(OrderedDict(children))
    graph = fx.Graph()
    values: list[fx.Node] = [graph.placeholder("x")]
    for op in p.ops:
        args = [values[i] for i in op.args]
        values.append(graph.call_module(op.target, (args,) if op.merge else tuple(args)))
    graph.output(values[p.output])
    key = (p.class_name, tuple(p.ops), p.output)
    cls = classes.get(key)
    if cls is None:
        # GraphModule copies the children from the dict in call order: that order is the
        # IR's order, so named_modules() and state_dict() list keys as the spec does.
        gm = SharedGraphModule(children, graph, class_name=p.class_name)
        cls = classes[key] = type(gm)
        cls._netdsl_src = gm.code  # type: ignore[attr-defined]
        return gm
    gm = nn.Module.__new__(cls)  # bypasses GraphModule.__new__, which would make a new class
    fx.GraphModule.__init__(gm, children, graph, class_name=p.class_name)
    return gm


def build(
    analysis: Analysis,
    *,
    seed: int | None = None,
    init: str = "default",
    device: str = "cpu",
    optimize: str | None = None,
    inplace: bool = True,
) -> nn.Module:
    """Compile a checked spec (see :func:`load` for the options)."""
    if init not in POLICIES:
        raise ValueError(f"init must be one of {', '.join(POLICIES)}, got {init!r}")
    if optimize not in OPTIMIZE:
        raise ValueError(f"optimize must be one of None, {', '.join(map(repr, OPTIMIZE[1:]))}; got {optimize!r}")
    target = _device(device)
    if optimize == "inference" and target.type == "meta":
        raise ValueError("optimize='inference' runs the model, so it needs weights: it cannot use device='meta'")
    analysis.raise_for_errors()
    assert analysis.net is not None and analysis.shapes is not None
    if target.type != "meta":
        check_memory(analysis, target)
    with _seeded(seed):
        if target.type == "meta":
            with torch.device("meta"):  # shapes only: no parameter memory is allocated
                return instantiate(plan(analysis, inplace=inplace))
        # Built on the CPU then moved, so a seed gives the same weights on every device.
        module = instantiate(plan(analysis, inplace=inplace))
        initialise(module, init)
    module = module if target.type == "cpu" else module.to(target)
    if optimize == "inference":
        from netdsl.backends.torch.optimize import example_input, optimize_for_inference

        example = example_input(analysis.shapes.input_shape, OPTIMIZE_BATCH, target)
        return optimize_for_inference(module, example).module
    return module


def load(
    path: str | Path,
    *,
    input: tuple[int, ...] | None = None,
    seed: int | None = None,
    init: str = "default",
    device: str = "cpu",
    optimize: str | None = None,
    inplace: bool = True,
    limits: Limits | None = None,
    **params: Any,
) -> nn.Module:
    """Compile the spec at ``path`` into a ``torch.nn.Module``.

    ``input=(C, H, W)`` overrides the declared input shape; other keyword
    arguments override net parameters (``num_classes=10``). ``seed`` makes the
    initial weights reproducible without touching the caller's RNG state;
    ``init`` is ``"default"`` (PyTorch's), ``"kaiming"`` or ``"xavier"``;
    ``device="meta"`` builds without allocating; ``limits`` raises or lowers the
    front end's guards (:class:`netdsl.limits.Limits`); ``inplace=False`` keeps
    every activation and add out of place (by default they overwrite inputs
    nobody else reads, as torchvision's ``ReLU(inplace=True)`` and
    ``out += identity`` do; see :mod:`netdsl.backends.torch.inplace`). Raises
    :class:`netdsl.errors.NetdslError` carrying the diagnostics if the spec has
    errors or the parameters would not fit in memory.

    ``optimize="inference"`` returns an inference-only module instead (see
    :mod:`netdsl.backends.torch.optimize`): BatchNorms folded into the convolutions, dropout
    removed, weights frozen into TorchScript, checked on a random batch of one
    against the eval-mode model. On a CPU it is a
    :class:`netdsl.backends.torch.optimize.OnednnModule` (an ``nn.Module`` whose ``scripted``
    attribute is the frozen ``torch.jit.ScriptModule``), elsewhere the
    ``ScriptModule`` itself; a net TorchScript cannot trace stays a folded
    ``torch.fx.GraphModule``. Its ``state_dict`` no longer follows the spec's
    names, ``train()`` does not undo the folding, and it is meant to be called
    under ``torch.no_grad()`` or ``torch.inference_mode()``.
    """
    analysis = analyze(path, params, tuple(input) if input is not None else None, limits)
    return build(analysis, seed=seed, init=init, device=device, optimize=optimize, inplace=inplace)


def _device(device: str) -> torch.device:
    try:
        target = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"invalid device {device!r}: {err}") from None
    if target.type not in ("cpu", "meta"):
        try:  # fail now with one line, not deep inside the build with a driver traceback
            torch.empty(0, device=target)
        except (RuntimeError, AssertionError) as err:
            raise ValueError(f"device {device!r} is not available: {str(err).splitlines()[0]}") from None
    return target


@contextmanager
def _seeded(seed: int | None) -> Iterator[None]:
    """Seed torch's CPU generator for the duration, restoring the caller's RNG state afterwards."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
