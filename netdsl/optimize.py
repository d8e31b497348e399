"""The inference-optimised build: ``netdsl build --optimize inference``, ``load(..., optimize="inference")``.

Steps, each safe for inference and each checked against the eval-mode model:

1. trace the module with torch.fx (netdsl's modules are fx GraphModules and
   Sequentials, so tracing is exact) and fold every BatchNorm into the
   convolution before it (``torch.fx.experimental.optimization.fuse``);
2. drop dropout (an identity in eval mode) from the graph;
3. choose the memory format: ``channels_last`` when it is faster on this machine
   for this model, measured on the example input (it usually is for oneDNN
   convolutions on x86, but not always for small or 1-D nets);
4. freeze with TorchScript (``torch.jit.trace`` + ``torch.jit.freeze`` +
   ``torch.jit.optimize_for_inference``), which folds constants and picks oneDNN
   kernels; this is where most of the speed comes from on CPU.

``torch.compile`` can be asked for on top (``compile=True``); on this 2-core CPU it
compiles for about a minute per model and its gain over the frozen graph is
small, so it is off by default.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

TOLERANCE = 1e-4


@dataclass(frozen=True)
class Optimized:
    """An inference module and what was done to it."""

    module: nn.Module
    folded_batchnorms: int
    dropped_dropouts: int
    channels_last: bool
    frozen: bool
    max_abs_error: float


def _fold(model: nn.Module) -> tuple[torch.fx.GraphModule, int, int]:
    from torch.fx.experimental.optimization import fuse

    traced = torch.fx.symbolic_trace(model)
    before = sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in traced.modules())
    fused = fuse(traced, inplace=False)
    assert isinstance(fused, torch.fx.GraphModule)
    after = sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in fused.modules())
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
    return fused, before - after, dropped


def _median_time(fn: Any, x: torch.Tensor, repeats: int = 5) -> float:
    with torch.inference_mode():
        fn(x)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn(x)
            times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def _freeze(model: nn.Module, x: torch.Tensor) -> nn.Module:
    import warnings

    # TorchScript is deprecated in favour of torch.compile, but on CPU its freeze +
    # optimize_for_inference is still the fastest eager-free path and compiles in seconds.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.trace(model, x, check_trace=False)  # type: ignore[no-untyped-call]
        frozen = torch.jit.freeze(scripted.eval())
        return torch.jit.optimize_for_inference(frozen)  # type: ignore[no-any-return]


def optimize_for_inference(
    model: nn.Module,
    example: torch.Tensor,
    channels_last: bool | None = None,
    freeze: bool = True,
    compile: bool = False,
) -> Optimized:
    """Return a faster module computing the same outputs as ``model.eval()`` (to 1e-4).

    ``example`` is an input batch used for tracing, for choosing the memory format
    (``channels_last=None`` measures both) and for checking the result.
    """
    model = copy.deepcopy(model).eval()
    with torch.no_grad():
        reference = model(example)
    fused, folded, dropped = _fold(model)
    use_cl = False
    if example.dim() == 4:
        if channels_last is None:
            cl_model = copy.deepcopy(fused).to(memory_format=torch.channels_last)
            cl_x = example.contiguous(memory_format=torch.channels_last)
            use_cl = _median_time(cl_model, cl_x) < _median_time(fused, example)
        else:
            use_cl = channels_last
    x = example.contiguous(memory_format=torch.channels_last) if use_cl else example
    if use_cl:
        fused = fused.to(memory_format=torch.channels_last)
    module: nn.Module = _freeze(fused, x) if freeze else fused
    if use_cl:
        module = _ChannelsLast(module)
    if compile:
        module = torch.compile(module)  # type: ignore[assignment]
    with torch.no_grad():
        err = float((module(example) - reference).abs().max())
    if err > TOLERANCE * max(1.0, float(reference.abs().max())):
        raise RuntimeError(f"optimised model differs from the eval model by {err:.3g} (tolerance {TOLERANCE})")
    return Optimized(module, folded, dropped, use_cl, freeze, err)


class _ChannelsLast(nn.Module):
    """Converts inputs to channels_last before the optimised body (callers pass ordinary tensors)."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.contiguous(memory_format=torch.channels_last))  # type: ignore[no-any-return]
