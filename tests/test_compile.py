"""The compiler: IR → torch.nn.Module, standalone Python, run-time verification.

References are independent of netdsl: torchvision's ResNets (state_dict keys and
outputs), forward hooks (run-time shapes), FlopCounterMode (MACs), plain torch
(parameter counts, training), and hand arithmetic.
"""

from __future__ import annotations

import ast
import copy
import importlib.util
import math
import pickle
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
import torchvision
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

import netdsl
from netdsl.backends.python.codegen import emit
from netdsl.backends.torch.compile import SharedGraphModule, build, check_memory
from netdsl.backends.torch.verify import first_cause, verify
from netdsl.errors import NetdslError
from netdsl.layers.common import NoParams, one_input
from netdsl.limits import Limits
from netdsl.pipeline import Analysis, analyze
from netdsl.registry import REGISTRY, LayerKind, Shape

SPECS = Path(__file__).resolve().parents[1] / "specs"
SPEC_FILES = sorted(SPECS.glob("*.net"))

# Every construct the compiler handles: labelled/unlabelled groups, repeats, block
# instances, captures and uses, add/mul/concat, a netdsl helper module, dropout.
FEATURES = """
block SE(c, r=4) {
    mul {
        {}
        { adaptive_avgpool(1); fc1: conv2d(c // r, 1); relu; fc2: conv2d(c, 1); sigmoid }
    }
}
block Inception(c) {
    concat {
        b1: conv2d(c, 1)
        b2: { conv2d(c, 1); relu; conv2d(c, 3, padding=1) }
        b3: { maxpool(3, stride=1, padding=1); conv2d(c, 1) }
    }
}
block Res(c) {
    conv2d(c, 3, padding=1) -> a
    relu
    add { {}; @a }
    se: SE(c)
}
net Features(num_classes=10) {
    input(3, 16, 16)
    features: { conv0: conv2d(16, 3, padding=1); batchnorm; relu }
    stage: repeat 2 Res(16)
    mix: Inception(8)
    skip: { conv2d(24, 1) -> t; relu; add { {}; @t } }
    head: { global_avgpool; dropout(0.2); fc: linear(num_classes) }
}
"""


def smallest_valid(path: Path) -> Analysis:
    """The spec at the smallest square input (from a fixed ladder) that it accepts, for speed."""
    declared = analyze(path)
    assert declared.ok and declared.net is not None, declared.errors
    shape = declared.net.input_shape
    if len(shape) == 1:
        return declared
    for size in (8, 16, 24, 32, 48, 64, 96, 112, 128, 160, 192, 224):
        if size >= shape[1]:
            break
        trial = analyze(path, {}, (shape[0], *[size] * (len(shape) - 1)))
        if trial.ok:
            return trial
    return declared


def output(model: nn.Module, x: Tensor) -> Tensor:
    model.eval()
    with torch.no_grad():
        out: Tensor = model(x)
    return out


def import_file(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- torchvision parity


@pytest.mark.parametrize(("depth", "size"), [(18, 64), (34, 64), (50, 64), (101, 32), (152, 32), (18, 224)])
def test_resnet_matches_torchvision(depth: int, size: int) -> None:
    reference = getattr(torchvision.models, f"resnet{depth}")()
    model = netdsl.load(SPECS / f"resnet{depth}.net", input=(3, size, size))
    assert list(model.state_dict()) == list(reference.state_dict())  # same keys, same order
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, size, size)
    torch.testing.assert_close(output(model, x), output(reference, x), atol=1e-5, rtol=0)


# ---------------------------------------------------------------- every shipped spec


@pytest.fixture(scope="module", params=[*SPEC_FILES, "features"], ids=lambda p: getattr(p, "stem", str(p)))
def compiled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Analysis, nn.Module]:
    path = request.param
    if path == "features":
        path = tmp_path_factory.mktemp("spec") / "features.net"
        path.write_text(FEATURES)
    analysis = smallest_valid(path)
    return analysis, build(analysis, seed=0)


def batch(analysis: Analysis, n: int = 2) -> Tensor:
    assert analysis.shapes is not None
    return torch.randn(n, *analysis.shapes.input_shape, generator=torch.Generator().manual_seed(1))


def test_counts_match_static_totals(compiled: tuple[Analysis, nn.Module]) -> None:
    analysis, model = compiled
    assert analysis.shapes is not None
    assert sum(p.numel() for p in model.parameters()) == analysis.shapes.total.params
    assert sum(b.numel() for b in model.buffers()) == analysis.shapes.total.buffers


def test_run_time_shapes_match_static_shapes(compiled: tuple[Analysis, nn.Module]) -> None:
    analysis, model = compiled
    assert analysis.shapes is not None
    seen: dict[str, tuple[int, ...]] = {}

    def recorder(name: str) -> Any:
        def hook(module: nn.Module, args: Any, out: Tensor) -> None:
            seen.setdefault(name, tuple(out.shape[1:]))

        return hook

    hooks = [m.register_forward_hook(recorder(name)) for name, m in model.named_modules()]
    output(model, batch(analysis))
    for h in hooks:
        h.remove()
    static = {n.id: n.output for n in analysis.shapes.nodes}
    assert set(static) <= set(seen), set(static) - set(seen)  # every static module exists and ran
    assert {name: seen[name] for name in static} == static
    assert verify(model, analysis) == []


def test_static_macs_match_flop_counter(compiled: tuple[Analysis, nn.Module]) -> None:
    analysis, model = compiled
    assert analysis.shapes is not None
    counter = FlopCounterMode(display=False)
    with counter:
        output(model, batch(analysis, 1))
    assert counter.get_total_flops() // 2 == analysis.shapes.total.macs


def test_python_round_trip(compiled: tuple[Analysis, nn.Module], tmp_path: Path) -> None:
    analysis, model = compiled
    source = emit(analysis)
    imports = {
        a.name.split(".")[0] for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Import) for a in node.names
    }
    imports |= {
        node.module.split(".")[0]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imports <= {"torch", "typing"}
    path = tmp_path / "generated_net.py"
    path.write_text(source)
    with torch.device("meta"):  # the weights come from the netdsl model: skip initialising them twice
        generated = import_file(path).build()
    generated.load_state_dict(model.state_dict(), strict=True, assign=True)
    x = batch(analysis)
    torch.testing.assert_close(output(generated, x), output(model, x), atol=0, rtol=0)


def test_torchscript(compiled: tuple[Analysis, nn.Module]) -> None:
    analysis, model = compiled
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript's deprecation notice
        scripted = torch.jit.script(model)
    x = batch(analysis)
    torch.testing.assert_close(output(scripted, x), output(model, x), atol=1e-6, rtol=0)


def test_deepcopy_and_pickle(compiled: tuple[Analysis, nn.Module]) -> None:
    analysis, model = compiled
    x = batch(analysis)
    expected = output(model, x)
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert clone.state_dict().keys() == model.state_dict().keys()
        torch.testing.assert_close(output(clone, x), expected, atol=0, rtol=0)


def test_sgd_step_decreases_the_loss(compiled: tuple[Analysis, nn.Module]) -> None:
    """Backward reaches every parameter and one SGD step along it lowers a train-mode loss.

    Tiny inputs leave BatchNorm normalising few values per channel (1×1 maps deep
    in a ResNet), which makes the loss very curved: the batch is 16 and the step
    size is backtracked from 1e-2 as a line search does; a wrong gradient would
    fail at every size.
    """
    analysis, model = compiled
    model = copy.deepcopy(model).train()
    x = batch(analysis, 16)
    with torch.no_grad():
        out = model(x)
    target = torch.randn(out.shape, generator=torch.Generator().manual_seed(2))

    def loss() -> Tensor:
        torch.manual_seed(0)  # the same dropout masks at every evaluation
        return nn.functional.mse_loss(model(x), target)

    first = loss()
    first.backward()
    params = [p for p in model.parameters() if p.requires_grad]
    assert all(p.grad is not None for p in params)
    start = [p.detach().clone() for p in params]
    for lr in (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7):
        with torch.no_grad():
            for p, p0 in zip(params, start, strict=True):
                p.copy_(p0)
        torch.optim.SGD(params, lr=lr).step()
        with torch.no_grad():
            if loss().item() < first.item():
                return
    pytest.fail(f"no SGD step size lowered the loss from {first.item():.6f}")


# ---------------------------------------------------------------- module structure


def test_chains_are_sequential_and_merges_are_graph_modules() -> None:
    model = netdsl.load(SPECS / "resnet50.net", device="meta")
    assert isinstance(model, nn.Sequential) and isinstance(model.layer1, nn.Sequential)
    block = model.layer1[0]
    assert isinstance(block, torch.fx.GraphModule) and isinstance(block.downsample, nn.Sequential)
    # Straight-line forward: one call per child, in the spec's order, the merge taking a list.
    calls = [n.target for n in block.graph.nodes if n.op == "call_module"]
    assert calls == ["conv1", "bn1", "2", "conv2", "bn2", "5", "conv3", "bn3", "downsample", "9", "10"]


def test_identical_blocks_share_a_class_but_graph_edits_stay_private() -> None:
    model = netdsl.load(SPECS / "resnet50.net", input=(3, 32, 32))
    first, second = model.layer1[1], model.layer1[2]
    assert type(first) is type(second) and isinstance(first, SharedGraphModule)
    assert type(model.layer1[0]) is not type(first)  # with a downsample: other code
    out = next(n for n in first.graph.nodes if n.op == "output")
    relu = out.args[0]
    out.args = (relu.args[0],)  # drop the final ReLU of `first` only
    first.graph.erase_node(relu)
    first.recompile()
    x = torch.randn(1, 256, 8, 8)
    assert (output(first, x) < 0).any()
    assert not (output(second, x) < 0).any()


# ---------------------------------------------------------------- options


def test_seed_gives_identical_weights_and_keeps_caller_rng() -> None:
    state = torch.get_rng_state()
    a = netdsl.load(SPECS / "lenet5.net", seed=7).state_dict()
    b = netdsl.load(SPECS / "lenet5.net", seed=7).state_dict()
    c = netdsl.load(SPECS / "lenet5.net", seed=8).state_dict()
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["0.weight"], c["0.weight"])


def test_kaiming_init_follows_torchvision_resnet_convention() -> None:
    model = netdsl.load(SPECS / "resnet18.net", init="kaiming", seed=0)
    conv = model.layer1[0].conv1.weight  # 64×64×3×3: fan_out = 64·9
    assert conv.std().item() == pytest.approx(math.sqrt(2 / (64 * 9)), rel=0.05)
    assert torch.equal(model.bn1.weight, torch.ones(64)) and torch.equal(model.bn1.bias, torch.zeros(64))
    assert model.fc.weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert torch.equal(model.fc.bias, torch.zeros(1000))
    # torchvision initialises the same layer the same way (up to sampling noise).
    reference = torchvision.models.resnet18().layer1[0].conv1.weight
    assert conv.std().item() == pytest.approx(reference.std().item(), rel=0.05)


def test_xavier_init() -> None:
    model = netdsl.load(SPECS / "lenet5.net", init="xavier", seed=0)
    linear = model[7]  # 400 → 120
    bound = math.sqrt(6 / (400 + 120))
    assert linear.weight.abs().max().item() <= bound
    assert linear.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.05)
    assert all(torch.equal(m.bias, torch.zeros_like(m.bias)) for m in model.modules() if hasattr(m, "bias"))


def test_meta_device_allocates_nothing_and_verifies() -> None:
    analysis = analyze(SPECS / "resnet152.net")
    model = build(analysis, device="meta")
    assert all(p.is_meta for p in model.parameters())
    assert sum(p.numel() for p in model.parameters()) == sum(
        p.numel() for p in torchvision.models.resnet152(weights=None).parameters()
    )
    assert verify(model, analysis) == []


def test_to_device_and_dtype() -> None:
    model = netdsl.load(SPECS / "lenet5.net", device="cpu").to(torch.float64)
    assert output(model, torch.randn(2, 1, 28, 28, dtype=torch.float64)).dtype == torch.float64


@pytest.mark.parametrize(("option", "value"), [("init", "orthogonal"), ("optimize", "bogus"), ("device", "nope")])
def test_bad_options_raise_value_error(option: str, value: str) -> None:
    with pytest.raises(ValueError, match=value):
        netdsl.load(SPECS / "lenet5.net", **{option: value})


def test_overrides_reach_the_module() -> None:
    model = netdsl.load(SPECS / "lenet5.net", num_classes=3, input=(1, 32, 32))
    assert output(model, torch.randn(2, 1, 32, 32)).shape == (2, 3)
    assert model[7].in_features == 16 * 6 * 6  # 32 → conv5 pad2 → 32 → pool 16 → conv5 12 → pool 6


def test_torch_compile_lenet() -> None:
    model = netdsl.load(SPECS / "lenet5.net", seed=0).eval()
    x = torch.randn(2, 1, 28, 28)
    compiled = torch.compile(model)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x), atol=1e-5, rtol=0)


def test_torch_export_resnet18() -> None:
    model = netdsl.load(SPECS / "resnet18.net", input=(3, 32, 32)).eval()
    x = torch.randn(2, 3, 32, 32)
    exported = torch.export.export(model, (x,))
    torch.testing.assert_close(exported.module()(x), output(model, x), atol=1e-5, rtol=0)


# ---------------------------------------------------------------- errors


def test_spec_errors_raise_with_located_diagnostics(tmp_path: Path) -> None:
    spec = tmp_path / "bad.net"
    spec.write_text("net Bad() {\n    input(3, 8, 8)\n    conv2d(8, 3)\n    linaer(10)\n}\n")
    with pytest.raises(NetdslError) as err:
        netdsl.load(spec)
    (diag,) = err.value.diagnostics
    assert diag.code == "E101" and diag.span is not None and diag.span.line == 4


def test_memory_guard_refuses_before_allocating(tmp_path: Path) -> None:
    spec = tmp_path / "huge.net"
    spec.write_text("net Huge() {\n    input(3, 224, 224)\n    flatten\n    linear(10000000)\n}\n")
    weights = 3 * 224 * 224 * 10_000_000 + 10_000_000  # ≈ 1.5e12 parameters = 6.0 TB of float32
    roomy = Limits(max_layer_params=10**13)  # past the front end's per-layer guard (E303), to reach this one
    with pytest.raises(NetdslError) as err:
        netdsl.load(spec, limits=roomy)
    (diag,) = err.value.diagnostics
    assert diag.code == "E501" and f"{weights * 4 / 1e12:.1f} TB" in diag.message and "available" in diag.message
    assert diag.hint is not None and "meta" in diag.hint
    model = netdsl.load(spec, device="meta", limits=roomy)  # the way out the hint names
    assert sum(p.numel() for p in model.parameters()) == weights


def test_memory_guard_message_names_estimate_and_available() -> None:
    analysis = analyze(SPECS / "resnet50.net")
    reference = torchvision.models.resnet50()
    need = 4 * (sum(p.numel() for p in reference.parameters()) + sum(b.numel() for b in reference.buffers()))
    with pytest.raises(NetdslError, match=rf"needs {need / 1e6:.1f} MB of parameters; 10.0 MB available"):
        check_memory(analysis, available=10_000_000)
    check_memory(analysis, available=need)  # exactly enough is enough


def test_label_shadowing_a_module_attribute_is_an_error(tmp_path: Path) -> None:
    spec = tmp_path / "shadow.net"
    spec.write_text("net T() {\n    input(3, 8, 8)\n    forward: conv2d(4, 3)\n}\n")
    with pytest.raises(NetdslError, match="`forward` cannot name a module") as err:
        netdsl.load(spec)
    assert err.value.diagnostics[0].span is not None and err.value.diagnostics[0].span.line == 3


# ---------------------------------------------------------------- plugins


class Scale(nn.Module):
    """A plugin's module: multiply by a constant."""

    def __init__(self, factor: float = 1.0) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: Tensor) -> Tensor:
        return x * self.factor


class Maximum(nn.Module):
    """A plugin's merge: element-wise maximum of the paths."""

    def forward(self, xs: list[Tensor]) -> Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = torch.maximum(out, x)
        return out


def _same(p: Any, inputs: Any) -> Shape:
    return one_input(inputs)


@pytest.fixture
def plugin_kinds() -> Iterator[None]:
    kinds = [
        LayerKind("scale3", NoParams, _same, lambda p, i, o: Scale(3.0), "test: ×3"),
        LayerKind(
            "maximum",
            NoParams,
            lambda p, i: tuple(i[0]),
            lambda p, i, o: Maximum(),
            "test: max",
            family="merge",
            inputs=(2, None),
        ),
        LayerKind("broken", NoParams, _same, lambda p, i, o: 1 / 0, "test: a builder that crashes"),
        # Its shape rule says "unchanged" but its module halves the map: a rule/builder disagreement.
        LayerKind("lying_pool", NoParams, _same, lambda p, i, o: nn.MaxPool2d(2), "test: a wrong shape rule"),
    ]
    with REGISTRY.origin("plugin test"):
        for kind in kinds:
            REGISTRY.register(kind)
    yield
    for kind in kinds:
        REGISTRY.unregister(kind.name)


@pytest.mark.usefixtures("plugin_kinds")
def test_plugin_modules_compile_and_round_trip_through_python(tmp_path: Path) -> None:
    spec = tmp_path / "plugged.net"
    spec.write_text(
        "net P() {\n    input(3, 8, 8)\n    conv2d(4, 3, padding=1)\n    scale3\n    maximum { {}; conv2d(4, 1) }\n}\n"
    )
    analysis = analyze(spec)
    model = build(analysis, seed=0)
    x = torch.randn(2, 3, 8, 8)
    assert verify(model, analysis) == []
    source = emit(analysis)
    assert "class Scale(nn.Module)" in source and "class Maximum(nn.Module)" in source
    path = tmp_path / "plugged_gen.py"
    path.write_text(source)
    generated = import_file(path).build()
    generated.load_state_dict(model.state_dict(), strict=True)
    torch.testing.assert_close(output(generated, x), output(model, x), atol=0, rtol=0)


@pytest.mark.usefixtures("plugin_kinds")
def test_a_crashing_builder_is_a_diagnostic(tmp_path: Path) -> None:
    spec = tmp_path / "broken.net"
    spec.write_text("net B() {\n    input(3, 8, 8)\n    broken\n}\n")
    with pytest.raises(NetdslError, match=r"builder of `broken` \(plugin test\) failed: ZeroDivisionError"):
        netdsl.load(spec)


@pytest.mark.usefixtures("plugin_kinds")
def test_verify_finds_a_rule_that_disagrees_with_its_builder(tmp_path: Path) -> None:
    spec = tmp_path / "lying.net"
    spec.write_text("net L() {\n    input(3, 8, 8)\n    pool: lying_pool\n    conv2d(4, 3, padding=1)\n}\n")
    analysis = analyze(spec)
    model = build(analysis, device="meta")
    mismatches = verify(model, analysis)
    # Execution order: the lying layer first, then the conv fed by it, then the net around both.
    assert [(m.module, m.expected, m.actual) for m in mismatches] == [
        ("pool", (3, 8, 8), (3, 4, 4)),
        ("1", (4, 8, 8), (4, 4, 4)),
        ("", (4, 8, 8), (4, 4, 4)),
    ]
    diag = first_cause(mismatches)
    assert diag is not None and diag.layer == "pool" and diag.span is not None and diag.span.line == 3
    assert diag.notes == ("2 later module(s) differ too, as a consequence",)
