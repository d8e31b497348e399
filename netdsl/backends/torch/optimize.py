"""The inference-optimised build: ``load(..., optimize="inference")``, ``netdsl build --optimize inference``.

Steps, each exact for inference (eval mode) and the whole checked against the eval-mode model:

1. trace the module with torch.fx (netdsl's modules are fx GraphModules and
   Sequentials, so tracing is exact; a plugin module that fx cannot trace is kept
   whole as a leaf) and fold every BatchNorm that directly follows a convolution
   or linear layer into it (``torch.fx.experimental.optimization.fuse``);
2. drop dropout (an identity in eval mode) from the graph;
3. for image inputs (N×C×H×W) put weights and activations in ``channels_last``
   memory format, oneDNN's native layout;
4. trace and freeze with TorchScript (``torch.jit.trace`` + ``torch.jit.freeze``),
   which turns the weights into constants, then run it one of three ways:

   * ``backend="onednn"`` (the default on CPUs with oneDNN): the frozen graph runs
     under PyTorch's oneDNN Graph fuser, which fuses convolution + bias + add +
     ReLU chains into single oneDNN kernels. The fuser is a process-wide switch
     (``torch.jit.enable_onednn_fusion``); the returned :class:`OnednnModule`
     turns it on only around its own calls and restores it, so the rest of the
     caller's process is unaffected (short of other threads' TorchScript calls
     made at the same moment).
   * ``backend="torchscript"`` (the default elsewhere, e.g. on a GPU):
     ``torch.jit.optimize_for_inference`` rewrites the frozen graph to oneDNN
     (CPU) or cuDNN (GPU) kernels with pre-packed weights. Its pre-packed
     constants cannot be saved, so this is for the running process only.
   * ``backend="frozen"`` (``portable=True``): the frozen ``ScriptModule`` as it
     is, which ``torch.jit.save`` can write; this is what ``netdsl build
     --optimize inference`` saves. Whoever loads it gets the folded graph and can
     add either of the above (``torch.jit.enable_onednn_fusion(True)`` before
     calling it, or ``torch.jit.optimize_for_inference(torch.jit.load(f))``).

``compile=True`` instead hands the folded channels_last graph to ``torch.compile``
(inductor with ``freezing``). On a 2-core CPU it was 10-20% slower than the
oneDNN fuser on ResNet-50, needs a C++ compiler and compiles for 20-30 s the
first time, so it is off by default. The measured speed-ups, and why ResNet-50's
is close to the float32 ceiling, are in ``docs/benchmarks.md``.

Every candidate is checked on the example input against the eval-mode model
(:data:`TOLERANCE`); if one cannot be built (a module TorchScript cannot trace)
or disagrees, the next is tried, ending with the folded fx graph itself
(``backend="fx"``). The result is for inference only: BatchNorm statistics are
baked into the convolutions and ``train()`` cannot undo that.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import fx, nn

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Sequence

#: Largest allowed difference from the eval-mode model, relative to the output's
#: largest magnitude (absolute for outputs below 1).
TOLERANCE = 1e-4

#: Calls made before checking a TorchScript result: the profiling executor (and so
#: the oneDNN fuser) only compiles its optimised plan after seeing the input twice.
WARMUP_CALLS = 3

BACKENDS = ("onednn", "torchscript", "frozen", "inductor", "fx")


@dataclass(frozen=True)
class Optimized:
    """An inference module and what was done to it."""

    module: nn.Module
    folded_batchnorms: int
    dropped_dropouts: int
    channels_last: bool
    backend: str  # one of BACKENDS
    max_abs_error: float
    notes: tuple[str, ...] = ()  # why an earlier backend was not used

    @property
    def frozen(self) -> bool:
        """Whether the weights were frozen into a TorchScript graph."""
        return self.backend in ("onednn", "torchscript", "frozen")

    def describe(self) -> str:
        """One line for the CLI: ``53 BatchNorms folded, 0 dropouts dropped, channels_last, ...``."""
        what = {
            "onednn": "frozen TorchScript + oneDNN Graph fuser",
            "torchscript": "frozen TorchScript (optimize_for_inference)",
            "frozen": "frozen TorchScript",
            "inductor": "torch.compile (inductor, freezing)",
            "fx": "folded fx graph, not frozen",
        }[self.backend]
        parts = [
            f"{self.folded_batchnorms} BatchNorm(s) folded",
            f"{self.dropped_dropouts} dropout(s) removed",
            "channels_last" if self.channels_last else "contiguous layout",
            what,
        ]
        return ", ".join(parts) + "".join(f" ({n})" for n in self.notes)


class OnednnModule(nn.Module):
    """A frozen TorchScript graph that runs with the oneDNN Graph fuser switched on.

    ``scripted`` is the frozen ``torch.jit.ScriptModule``. The fuser decides its
    fusions from the shapes it sees, per input shape, on the first calls; it is a
    process-wide switch, so it is turned on only for the duration of each call.
    """

    def __init__(self, scripted: torch.jit.ScriptModule) -> None:
        super().__init__()
        self.scripted = scripted

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with _onednn_fusion():
            return self.scripted(x)  # type: ignore[no-any-return]


class _ChannelsLast(nn.Module):
    """Converts the input to channels_last before the body, so callers pass ordinary tensors.

    Traced into the TorchScript graph, the conversion becomes part of the saved module.
    """

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.contiguous(memory_format=torch.channels_last))  # type: ignore[no-any-return]


@contextmanager
def _onednn_fusion() -> Iterator[None]:
    previous = torch._C._jit_llga_enabled()
    torch.jit.enable_onednn_fusion(True)
    try:
        yield
    finally:
        torch.jit.enable_onednn_fusion(previous)


def onednn_available(device: torch.device) -> bool:
    """The oneDNN Graph fuser runs on CPUs of a torch built with oneDNN (MKL-DNN)."""
    built = bool(torch.backends.mkldnn.is_available())  # type: ignore[no-untyped-call]
    return device.type == "cpu" and built and hasattr(torch._C, "_jit_llga_enabled")


class _LeafTracer(fx.Tracer):
    """Traces through netdsl's and torch's modules, keeping any other (plugin) module whole."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        own = type(m).__module__.startswith(("netdsl.", "torch."))
        return super().is_leaf_module(m, module_qualified_name) or not own


def _trace(model: nn.Module) -> fx.GraphModule:
    try:
        return fx.symbolic_trace(model)
    except Exception:  # a plugin module with data-dependent Python: trace around it
        return fx.GraphModule(model, _LeafTracer().trace(model))


def fold(model: nn.Module, inplace: bool = False) -> tuple[nn.Module, int, int]:
    """``model`` in eval mode with BatchNorms folded and dropouts removed, and how many of each.

    Works on a copy unless ``inplace`` (then ``model``'s own layers are reused and
    its convolutions' weights changed). Returns the model unfolded if fx cannot trace it.
    """
    from torch.fx.experimental.optimization import fuse

    model = (model if inplace else copy.deepcopy(model)).eval()
    try:
        traced = _trace(model)
    except Exception:
        return model, 0, 0
    before = _count(traced, nn.modules.batchnorm._BatchNorm)
    fused = fuse(traced, inplace=True, no_trace=True)
    assert isinstance(fused, fx.GraphModule)
    folded = before - _count(fused, nn.modules.batchnorm._BatchNorm)
    dropped = 0
    modules = dict(fused.named_modules())
    for node in list(fused.graph.nodes):
        if node.op == "call_module" and isinstance(modules.get(str(node.target)), nn.modules.dropout._DropoutNd):
            node.replace_all_uses_with(node.args[0])
            fused.graph.erase_node(node)
            dropped += 1
    fused.graph.lint()
    fused.recompile()
    fused.delete_all_unused_submodules()
    return fused, folded, dropped


def _count(model: nn.Module, cls: type) -> int:
    return sum(isinstance(m, cls) for m in model.modules())


def _freeze(model: nn.Module, x: torch.Tensor) -> torch.jit.ScriptModule:
    # TorchScript is deprecated in favour of torch.compile, but on CPU its frozen
    # graphs are still the fastest eager-free path, build in seconds and save to a file.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.trace(model, x, check_trace=False)  # type: ignore[no-untyped-call]
        return torch.jit.freeze(scripted.eval())  # type: ignore[no-any-return]


def _build_onednn(body: nn.Module, x: torch.Tensor) -> nn.Module:
    return OnednnModule(_freeze(body, x))


def _build_torchscript(body: nn.Module, x: torch.Tensor) -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.jit.optimize_for_inference(_freeze(body, x))  # type: ignore[no-any-return]


def _build_frozen(body: nn.Module, x: torch.Tensor) -> nn.Module:
    return _freeze(body, x)


def _build_inductor(body: nn.Module, x: torch.Tensor) -> nn.Module:
    return torch.compile(body, options={"freezing": True})  # type: ignore[return-value]


def _build_fx(body: nn.Module, x: torch.Tensor) -> nn.Module:
    return body


_BUILDERS: dict[str, Callable[[nn.Module, torch.Tensor], nn.Module]] = {
    "onednn": _build_onednn,
    "torchscript": _build_torchscript,
    "frozen": _build_frozen,
    "inductor": _build_inductor,
    "fx": _build_fx,
}


def _candidates(device: torch.device, portable: bool, compile: bool) -> Sequence[str]:
    if portable:
        return ("frozen", "fx")
    first = ("inductor",) if compile else ()
    fused = ("onednn",) if onednn_available(device) else ()
    return (*first, *fused, "torchscript", "fx")


def optimize_for_inference(
    model: nn.Module,
    example: torch.Tensor,
    *,
    channels_last: bool | None = None,
    portable: bool = False,
    compile: bool = False,
) -> Optimized:
    """Return a faster module computing the same outputs as ``model.eval()`` (to :data:`TOLERANCE`).

    ``example`` is an input batch, used for tracing and for checking the result.
    ``channels_last=None`` uses channels_last for 4-D (image) inputs except with
    ``optimize_for_inference``, which picks oneDNN's blocked layouts itself.
    ``portable=True`` returns a frozen ``torch.jit.ScriptModule`` that
    ``torch.jit.save`` can write; ``compile=True`` tries ``torch.compile`` first.
    ``model`` itself is not modified.
    """
    model = copy.deepcopy(model).eval()  # the caller's module keeps its mode and weights
    with torch.no_grad():
        reference = model(example)
    body, folded, dropped = fold(model, inplace=True)
    notes: list[str] = []
    for backend in _candidates(example.device, portable, compile):
        use_cl = example.dim() == 4 and (channels_last if channels_last is not None else backend != "torchscript")
        try:
            module = _BUILDERS[backend](_channels_last(body) if use_cl else body, example)
            err = _max_error(module, example, reference)
        except Exception as exc:  # a module TorchScript/inductor cannot handle: fall back
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            notes.append(f"{backend} failed: {first}")
            continue
        if err <= TOLERANCE * max(1.0, float(reference.abs().max())):
            return Optimized(module, folded, dropped, use_cl, backend, err, tuple(notes))
        notes.append(f"{backend} differed by {err:.3g}")
    raise RuntimeError(f"optimised model differs from the eval model: {'; '.join(notes)}")


def _channels_last(body: nn.Module) -> nn.Module:
    # Converts the weights in place: a later candidate may see them in channels_last, same values.
    return _ChannelsLast(body.to(memory_format=torch.channels_last))


def _max_error(module: nn.Module, x: torch.Tensor, reference: torch.Tensor) -> float:
    with torch.no_grad():
        for _ in range(WARMUP_CALLS - 1):
            module(x)
        return float((module(x) - reference).abs().max())


def example_input(shape: Sequence[int], batch: int = 1, device: torch.device | str = "cpu") -> torch.Tensor:
    """A reproducible random batch of ``shape`` (C×H×W, C×L or F) that leaves torch's global RNG alone."""
    generator = torch.Generator().manual_seed(0)
    return torch.randn(batch, *shape, generator=generator).to(device)
