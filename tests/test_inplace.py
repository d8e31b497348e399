"""The in-place pass: which calls overwrite their input, and that nothing observable changes.

References: the same spec built with ``inplace=False`` (outputs and every
parameter's gradient must be identical), torchvision's ResNet-50 (which ReLUs
and adds run in place there), and hand-written specs whose aliasing is known.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
import torchvision
from torch import Tensor, nn

import netdsl
from netdsl.backends.torch.compile import build
from netdsl.layers.modules import AddInplace
from netdsl.pipeline import analyze
from netdsl.registry import REGISTRY
from tests.test_compile import SPEC_FILES, smallest_valid


def inplace_calls(model: nn.Module) -> list[str]:
    """Qualified names of the modules that overwrite their input."""
    return [
        name for name, m in model.named_modules() if getattr(m, "inplace", False) is True or isinstance(m, AddInplace)
    ]


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "t.net"
    path.write_text(f"net T {{\n    input(4, 6, 6)\n{body}\n}}\n")
    return path


@pytest.mark.parametrize("path", SPEC_FILES, ids=[p.stem for p in SPEC_FILES])
def test_gradients_equal_the_out_of_place_build(path: Path) -> None:
    """Train-mode forward and backward give bit-identical outputs and gradients with and without the pass."""
    analysis = smallest_valid(path)
    models = [build(analysis, seed=0, inplace=flag).train() for flag in (True, False)]
    assert inplace_calls(models[1]) == []
    # Batch 8: tiny maps (1×1 deep in a ResNet) over a batch of 2 leave BatchNorm dividing by ~0.
    x = torch.randn((8, *analysis.shapes.input_shape), generator=torch.Generator().manual_seed(1))  # type: ignore[union-attr]
    outs: list[Tensor] = []
    for model in models:
        torch.manual_seed(0)  # same dropout masks
        out = model(x)
        out.square().sum().backward()
        outs.append(out.detach())
    torch.testing.assert_close(outs[0], outs[1], atol=0, rtol=0)
    grads = [{n: p.grad for n, p in m.named_parameters()} for m in models]
    assert grads[0].keys() == grads[1].keys()
    for name, grad in grads[0].items():
        assert grad is not None and bool(grad.isfinite().all()), name
        torch.testing.assert_close(grad, grads[1][name], atol=0, rtol=0)


def test_resnet50_runs_in_place_where_torchvision_does() -> None:
    """torchvision: every ReLU is ``inplace=True`` and every bottleneck does ``out += identity``."""
    tv = torchvision.models.resnet50()
    blocks = [m for m in tv.modules() if isinstance(m, torchvision.models.resnet.Bottleneck)]
    relu_calls = 1 + 3 * len(blocks)  # the stem's, then relu after bn1, bn2 and the add in each block
    model = netdsl.load("specs/resnet50.net", device="meta")
    names = inplace_calls(model)
    assert sum(isinstance(model.get_submodule(n), AddInplace) for n in names) == len(blocks) == 16
    assert sum(isinstance(model.get_submodule(n), nn.ReLU) for n in names) == relu_calls == 49


ALIASING = [
    # `a` feeds the relu and the add: the relu must not overwrite it; the add's first
    # input (the second conv) is read once and comes from a conv, so the add may.
    (
        "    c1: conv2d(4, 3, padding=1) -> a\n    r1: relu\n    c2: conv2d(4, 3, padding=1)\n"
        "    sum: add { {}; @a }\n    r2: relu",
        ["sum", "r2"],
    ),
    # r1 reads the net's input; r2 follows a sigmoid, whose backward reads its own output;
    # the add's first path is the scope input; gelu has no in-place form.
    (
        "    r1: relu\n    s: sigmoid\n    r2: relu\n    c: conv2d(4, 1)\n    g: gelu\n"
        "    sum: add { {}; conv2d(4, 1) }",
        [],
    ),
]


@pytest.mark.parametrize(("body", "expected"), ALIASING, ids=["read-twice", "unsafe-producers"])
def test_only_values_nobody_else_needs_are_overwritten(tmp_path: Path, body: str, expected: list[str]) -> None:
    assert inplace_calls(netdsl.load(write(tmp_path, body), device="meta")) == expected


def test_an_explicit_inplace_is_kept_without_the_pass(tmp_path: Path) -> None:
    spec = write(tmp_path, "    c: conv2d(4, 1)\n    r: relu(inplace=true)")
    assert inplace_calls(netdsl.load(spec, device="meta", inplace=False)) == ["r"]


@pytest.mark.parametrize("kind", [k for k in REGISTRY if k.inplace is not None], ids=lambda k: k.name)
def test_inplace_forms_compute_the_same_values_and_gradients(kind: object) -> None:
    """Every registered in-place form, on a fresh (non-leaf) input as the pass arranges."""
    from netdsl.registry import LayerKind

    assert isinstance(kind, LayerKind)
    shape = (3, 5, 5)
    inputs = [shape] * kind.inputs[0]
    params = kind.schema()
    module = kind.build(params, inputs, kind.shape(params, inputs))
    results = []
    for m in (module, kind.inplace(copy.deepcopy(module))):  # type: ignore[misc]
        leaves = [torch.randn((2, *shape), generator=torch.Generator().manual_seed(i)) for i in range(len(inputs))]
        for leaf in leaves:
            leaf.requires_grad_(True)
        fresh = [leaf * 1.0 for leaf in leaves]
        out = m(fresh) if kind.is_merge else m(fresh[0])
        out.square().sum().backward()
        results.append((out.detach(), [leaf.grad for leaf in leaves]))
    # Float32 tolerance, not bit equality: elu_'s backward computes exp(x)·alpha from its
    # result (result + alpha) rather than from x, which differs in the last bit.
    torch.testing.assert_close(results[0], results[1])


def test_build_no_inplace_flag_and_python_output(tmp_path: Path) -> None:
    from netdsl.cli import main

    out = tmp_path / "r18.py"
    assert main(["build", "specs/resnet18.net", "--format", "python", "-o", str(out)]) == 0
    source = out.read_text()
    assert "out += x" in source and "nn.ReLU(inplace=True)" in source
    assert main(["build", "specs/resnet18.net", "--format", "python", "--no-inplace", "-o", str(out)]) == 0
    source = out.read_text()
    assert "+=" not in source and "inplace=True" not in source
    assert analyze("specs/resnet18.net").ok
