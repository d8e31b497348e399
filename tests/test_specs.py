"""The spec library against its references.

* torchvision architectures (AlexNet, VGG ± BN, GoogLeNet, DenseNet-121,
  MobileNetV2, ResNets): static parameter, buffer and MAC counts against the
  torchvision model (parameters counted, MACs measured with FlopCounterMode on the
  meta device) and against torchvision's published figures; state_dict keys in
  torchvision's order; equal eval outputs after a strict ``load_state_dict``.
* d2l / course variants (LeNet-5, AlexNet, NiN, ResNet-18, the hand-signs
  ResNet-50): hand-written PyTorch modules in ``tests/references.py``; parameter
  counts, shapes at stage boundaries and outputs after copying weights by position.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import torchvision
from references import ResNet50Signs, alexnet_d2l, lenet5, nin, resnet18_d2l
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import netdsl
from netdsl.pipeline import analyze
from netdsl.shapes.inference import ShapeResult

SPECS = Path(__file__).resolve().parents[1] / "specs"
TOL = 1e-5


def shapes_of(spec: str, **params: Any) -> ShapeResult:
    a = analyze(SPECS / f"{spec}.net", params)
    assert a.ok, [d.message for d in a.errors]
    assert a.shapes is not None
    return a.shapes


def macs_of(model: nn.Module, x: torch.Tensor) -> int:
    """Multiply-accumulates of one forward as FlopCounterMode measures them (FLOPs / 2)."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    return int(counter.get_total_flops()) // 2


def randomise_norms(model: nn.Module, seed: int = 0) -> None:
    """Give every batch norm non-trivial statistics and affine terms, so eval outputs depend on them."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                assert m.running_mean is not None and m.running_var is not None
                m.running_mean.copy_(0.1 * torch.randn(c, generator=g))
                m.running_var.copy_(0.5 + torch.rand(c, generator=g))
                m.weight.copy_(0.5 + torch.rand(c, generator=g))
                m.bias.copy_(0.1 * torch.randn(c, generator=g))


# ---------------------------------------------------------------------------------------------
# torchvision architectures

# (spec, overrides, torchvision model name, input size for the output check or None).
# Output checks run at reduced sizes where an adaptive pool allows it (VGG needs ≥ 32, DenseNet
# runs at 64): same layers and weights, far less time on 2 cores. All eight VGGs share one
# stage block and are checked layer by layer on the meta device; outputs are compared for the
# shallowest and the deepest (with and without batch norm) to keep the file fast.
VGG_OUTPUTS = {(11, False), (19, True)}
TV_KW: dict[str, dict[str, Any]] = {"googlenet": {"aux_logits": False, "init_weights": True}}
TORCHVISION: list[tuple[str, dict[str, Any], str, int | None]] = [
    ("alexnet", {}, "alexnet", 224),
    *[
        (f"vgg{n}", {"batch_norm": bn}, f"vgg{n}{'_bn' if bn else ''}", 32 if (n, bn) in VGG_OUTPUTS else None)
        for n in (11, 13, 16, 19)
        for bn in (False, True)
    ],
    ("googlenet", {}, "googlenet", 224),
    ("densenet121", {}, "densenet121", 64),
    ("mobilenet_v2", {}, "mobilenet_v2", 224),
    # The ResNets' outputs are compared by the compiler's tests; here only the static figures and keys.
    *[(f"resnet{n}", {}, f"resnet{n}", None) for n in (18, 34, 50, 101, 152)],
]
IDS = [tv for _, _, tv, _ in TORCHVISION]


ACTIVATIONS = (nn.ReLU, nn.ReLU6)
# Hyperparameters compared between torchvision's layers and netdsl's; window settings first.
WINDOW = ("kernel_size", "stride", "padding", "dilation", "output_size")
HYPER = (*WINDOW, "groups", "ceil_mode", "count_include_pad", "eps", "momentum", "affine", "p")
SIZES = ("in_channels", "out_channels", "in_features", "out_features")


def settings(m: nn.Module) -> dict[str, Any]:
    """A layer's hyperparameters, with PyTorch's int shorthand for a square window spelt out as a pair."""
    out = {}
    for key in (*HYPER, *SIZES):
        if hasattr(m, key):
            v = getattr(m, key)
            out[key] = (v, v) if key in WINDOW and isinstance(v, int) and not isinstance(v, bool) else v
    return out


def tv_model(name: str, **kw: Any) -> nn.Module:
    model: nn.Module = torchvision.models.get_model(name, **{**TV_KW.get(name, {}), **kw})
    return model.eval()


@pytest.mark.parametrize(("spec", "overrides", "tv", "size"), TORCHVISION, ids=IDS)
def test_static_costs_match_torchvision(spec: str, overrides: dict[str, Any], tv: str, size: int | None) -> None:
    result = shapes_of(spec, **overrides)
    with torch.device("meta"):  # counting needs shapes only: no weights are allocated or initialised
        model = tv_model(tv)
        x = torch.empty(1, 3, 224, 224)
    assert result.total.params == sum(p.numel() for p in model.parameters())
    assert result.total.buffers == sum(b.numel() for b in model.buffers())
    assert result.total.macs == macs_of(model, x)
    meta = torchvision.models.get_model_weights(tv).DEFAULT.meta
    assert result.total.params == meta["num_params"]
    assert result.total.macs / 1e9 == pytest.approx(meta["_ops"], rel=0.01)  # published "GFLOPS" are MACs
    # num_classes must reach the classifier (and nothing else).
    with torch.device("meta"):
        small = tv_model(tv, num_classes=10)
    assert shapes_of(spec, **overrides, num_classes=10).total.params == sum(p.numel() for p in small.parameters())


@pytest.mark.parametrize(("spec", "overrides", "tv", "size"), TORCHVISION, ids=IDS)
def test_state_dict_keys_match_torchvision(spec: str, overrides: dict[str, Any], tv: str, size: int | None) -> None:
    with torch.device("meta"):
        ref = tv_model(tv)
    model = netdsl.load(f"{SPECS}/{spec}.net", device="meta", **overrides)
    # Same keys in the same order (modules registered as torchvision registers them) and shapes.
    assert list(model.state_dict()) == list(ref.state_dict())
    model.load_state_dict(ref.state_dict(), strict=True)
    # Same layer class and settings under every torchvision leaf name (pool windows, ceil_mode,
    # eps, dropout p …: nothing a state_dict holds). torchvision sometimes calls relu
    # functionally or reuses one ReLU module; only activations may be absent.
    ours = dict(model.named_modules())
    for name, theirs in ref.named_modules():
        if next(theirs.children(), None) is not None or (name not in ours and isinstance(theirs, ACTIVATIONS)):
            continue
        assert name in ours, name
        assert type(ours[name]) is type(theirs) and settings(ours[name]) == settings(theirs), name


OUTPUT_CASES = [c for c in TORCHVISION if c[3] is not None]


@pytest.mark.parametrize(("spec", "overrides", "tv", "size"), OUTPUT_CASES, ids=[c[2] for c in OUTPUT_CASES])
def test_outputs_match_torchvision(spec: str, overrides: dict[str, Any], tv: str, size: int) -> None:
    torch.manual_seed(0)
    ref = tv_model(tv)
    randomise_norms(ref)
    model = netdsl.load(f"{SPECS}/{spec}.net", size=size, seed=1, **overrides).eval()
    model.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        want, got = ref(x), model(x)
    assert got.shape == want.shape == (2, 1000)
    assert (got - want).abs().max().item() <= TOL


def test_googlenet_aux_heads_match_torchvision() -> None:
    # torchvision runs the aux heads only in training; netdsl runs them always and drops their
    # logits, so the static MACs equal a training-mode forward's and the eval outputs are equal.
    result = shapes_of("googlenet", aux_logits=True)
    with torch.device("meta"):
        meta_ref = tv_model("googlenet", aux_logits=True).train()
        x = torch.empty(1, 3, 224, 224)
    assert result.total.params == sum(p.numel() for p in meta_ref.parameters())
    assert result.total.macs == macs_of(meta_ref, x)
    assert result.by_id["aux1"].inputs == ((512, 14, 14),) and result.by_id["aux2"].inputs == ((528, 14, 14),)
    assert result.by_id["inception4b"].inputs == ((512, 14, 14),)  # @x4a: the head's output is not passed on
    torch.manual_seed(0)
    ref = tv_model("googlenet", aux_logits=True)
    randomise_norms(ref)
    model = netdsl.load(f"{SPECS}/googlenet.net", aux_logits=True, size=96, seed=1).eval()
    model.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        assert (model(x) - ref(x)).abs().max().item() <= TOL


# ---------------------------------------------------------------------------------------------
# d2l and course variants against the hand-written references

# (spec, reference, input shape, {reference module: netdsl module} at stage boundaries)
REFERENCES: list[tuple[str, Callable[[], nn.Module], tuple[int, ...], dict[str, str]]] = [
    ("lenet5", lenet5, (1, 28, 28), {"2": "2", "5": "5", "6": "6", "11": "11"}),
    ("alexnet_d2l", alexnet_d2l, (1, 224, 224), {"2": "2", "5": "5", "12": "12", "13": "13", "20": "20"}),
    ("nin", nin, (1, 224, 224), {str(i): str(i) for i in range(10)}),
    ("resnet18_d2l", resnet18_d2l, (1, 96, 96),
     {"0": "b1", "b2": "b2", "b3": "b3", "b4": "b4", "b5": "b5", "last": "last"}),
    ("resnet50_signs", ResNet50Signs, (3, 64, 64),
     {"stem": "stage1", "stages.0": "stage2", "stages.1": "stage3", "stages.2": "stage4", "stages.3": "stage5",
      "pool": "pool", "fc": "fc"}),
]  # fmt: skip


def copy_by_position(src: nn.Module, dst: nn.Module) -> None:
    """Load ``src``'s state_dict into ``dst`` entry by entry, in order, insisting on equal shapes."""
    theirs, ours = src.state_dict(), dst.state_dict()
    assert len(theirs) == len(ours)
    for (k_src, v_src), (k_dst, v_dst) in zip(theirs.items(), ours.items(), strict=True):
        assert v_src.shape == v_dst.shape, (k_src, k_dst)
    dst.load_state_dict(OrderedDict(zip(ours, theirs.values(), strict=True)), strict=True)


@pytest.mark.parametrize(("spec", "make", "shape", "stages"), REFERENCES, ids=[r[0] for r in REFERENCES])
def test_matches_hand_written_reference(
    spec: str, make: Callable[[], nn.Module], shape: tuple[int, ...], stages: dict[str, str]
) -> None:
    torch.manual_seed(0)
    ref = make().eval()
    randomise_norms(ref)
    result = shapes_of(spec)
    assert result.input_shape == shape
    assert result.total.params == sum(p.numel() for p in ref.parameters())
    model = netdsl.load(f"{SPECS}/{spec}.net", seed=1).eval()
    copy_by_position(ref, model)
    # Record both models' values at the stage boundaries.
    want: dict[str, torch.Tensor] = {}
    got: dict[str, torch.Tensor] = {}
    for name, ours in stages.items():
        ref.get_submodule(name).register_forward_hook(lambda m, i, o, k=name: want.__setitem__(k, o))
        model.get_submodule(ours).register_forward_hook(lambda m, i, o, k=name: got.__setitem__(k, o))
    x = torch.randn(2, *shape)
    with torch.no_grad():
        out_ref, out = ref(x), model(x)
    assert {k: tuple(v.shape[1:]) for k, v in want.items()} == {k: result.by_id[i].output for k, i in stages.items()}
    for name in stages:
        torch.testing.assert_close(got[name], want[name], rtol=TOL, atol=TOL, msg=name)
    assert out.shape == out_ref.shape and (out - out_ref).abs().max().item() <= TOL


def test_resnet50_signs_matches_the_keras_summary() -> None:
    # model.summary() in the course notebook: 23,546,886 trainable and 53,120 non-trainable
    # (moving mean and variance) parameters; netdsl also counts BN's num_batches_tracked (53 BNs).
    result = shapes_of("resnet50_signs")
    assert result.total.params == 23_546_886
    assert result.total.buffers == 53_120 + 53
    assert result.output == (6,)
