"""Static shape inference and `netdsl shapes`, checked against independent references."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from netdsl.atomic import write_atomic
from netdsl.pipeline import analyze
from netdsl.shapes import report

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
GOLDEN = ROOT / "tests" / "golden" / "shapes"
UPDATE = os.environ.get("NETDSL_UPDATE_GOLDEN") == "1"


def _ok(path: Path | str, **params: object):
    shape = params.pop("input", None)
    a = analyze(path, params, shape)  # type: ignore[arg-type]
    assert a.ok, [d.message for d in a.errors]
    assert a.shapes is not None
    return a.shapes


def _spec(tmp_path: Path, text: str, name: str = "t.net") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_resnet50_totals_match_torchvision() -> None:
    torch = pytest.importorskip("torch")
    tv = pytest.importorskip("torchvision")
    from torch.utils.flop_counter import FlopCounterMode

    result = _ok(SPECS / "resnet50.net")
    model = tv.models.resnet50().eval()
    assert result.total.params == sum(p.numel() for p in model.parameters())
    assert result.total.buffers == sum(b.numel() for b in model.buffers())
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, 3, 224, 224))
    assert result.total.macs == counter.get_total_flops() // 2
    published = tv.models.ResNet50_Weights.DEFAULT.meta["_ops"]  # GFLOPS as torchvision publishes them
    assert abs(result.total.macs / 1e9 - published) / published < 0.01


def test_explain_shows_the_floor(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "net A { input(3, 224, 224)\n conv2d(64, 7, stride=2, padding=3) }")
    node = _ok(spec).layers()[0]
    # Hand arithmetic: (224 + 6 - 7) / 2 + 1 = 112.5, PyTorch floors to 112.
    assert node.output == (64, 112, 112)
    assert node.explain[0] == "H: (224 + 2·3 − 7) / 2 + 1 = 112.5 → 112 (floor)"


def test_batch_is_symbolic_and_scales_activation_memory() -> None:
    result = _ok(SPECS / "lenet5.net")
    one, eight = report.totals(result, 1), report.totals(result, 8)
    assert eight.activation_mb == pytest.approx(8 * one.activation_mb)
    assert eight.param_mb == one.param_mb
    # LeNet at 1×28×28, by hand: outputs 6·28·28 ×2 (conv, sigmoid), 6·14·14, 16·10·10 ×2, 16·5·5, 400,
    # 120 ×2, 84 ×2, 10 values of 4 bytes.
    values = 2 * 6 * 28 * 28 + 6 * 14 * 14 + 2 * 16 * 10 * 10 + 16 * 5 * 5 + 400 + 2 * 120 + 2 * 84 + 10
    assert one.activation_mb == pytest.approx(values * 4 / 2**20)
    assert all("N×" in line for line in report.table(result).splitlines()[4:8])


def test_lenet_hand_computed_shapes_and_params() -> None:
    result = _ok(SPECS / "lenet5.net")
    outs = [n.output for n in result.layers()]
    assert outs[0] == (6, 28, 28) and outs[2] == (6, 14, 14) and outs[3] == (16, 10, 10) and outs[5] == (16, 5, 5)
    params = (6 * 1 * 25 + 6) + (16 * 6 * 25 + 16) + (400 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
    assert result.total.params == params
    macs = 6 * 28 * 28 * 25 + 16 * 10 * 10 * 6 * 25 + 400 * 120 + 120 * 84 + 84 * 10
    assert result.total.macs == macs


def test_receptive_field_and_jump() -> None:
    result = _ok(SPECS / "lenet5.net")
    rf = [n.rf for n in result.layers()[:6]]
    # conv5: 5; pool2/2: 5 + 1 = 6, jump 2; conv5: 6 + 4·2 = 14; pool: 14 + 1·2 = 16, jump 4.
    assert rf == [(5, 5), (5, 5), (6, 6), (14, 14), (14, 14), (16, 16)]
    assert result.layers()[5].jump == (4, 4)


def test_receptive_field_1d_dilated_and_per_axis(tmp_path: Path) -> None:
    one, two = tmp_path / "one.net", tmp_path / "two.net"
    one.write_text(
        "net R {\n    input(2, 64)\n    conv1d(4, 3, dilation=2)\n    maxpool(2)\n    conv1d(4, 5, stride=3)\n}\n"
    )
    two.write_text(
        "net Q {\n    input(2, 32, 32)\n    conv2d(4, (1, 7), stride=(1, 2), padding=(0, 3))\n"
        "    conv2d(4, (3, 1), dilation=(2, 1))\n}\n"
    )
    r = _ok(one)
    # dilated 3-tap: 2·2 + 1 = 5; pool 2/2: 5 + 1 = 6, jump 2; 5-tap /3: 6 + 4·2 = 14, jump 6.
    assert [n.rf for n in r.layers()] == [(5,), (6,), (14,)]
    assert [n.jump for n in r.layers()] == [(1,), (2,), (6,)]
    q = _ok(two)
    # H: 1 then dilated 3 → 1 + 2·2 = 5 (jump 1); W: 7 (jump 2) then 1 → 7 (jump 2).
    assert [n.rf for n in q.layers()] == [(1, 7), (5, 7)]
    assert [n.jump for n in q.layers()] == [(1, 2), (1, 2)]


@pytest.mark.parametrize("spec", ["resnet50", "googlenet", "mobilenet_v2"])
def test_module_table_is_built_on_demand_with_summed_costs(spec: str) -> None:
    """A check never builds the per-module table; once read, each module's cost is the sum of its
    layers' (computed here from the layer rows and the parent links) and the root's is the total."""
    a = analyze(SPECS / f"{spec}.net")
    assert a.ok and a.shapes is not None
    assert a.shapes._table is None  # `netdsl check` stops here
    nodes = a.shapes.nodes
    layers = [n for n in nodes if not n.is_scope]
    for scope in (n for n in nodes if n.is_scope):
        inside = []
        for n in layers:
            p = n.parent
            while p is not None and p != scope.id:
                p = a.shapes.by_id[p].parent
            if p == scope.id:
                inside.append(n)
        assert scope.cost.params == sum(n.cost.params for n in inside), scope.id
        assert scope.cost.macs == sum(n.cost.macs for n in inside), scope.id
        assert scope.children == sum(n.parent == scope.id for n in nodes), scope.id
    assert a.shapes.by_id[""].cost == a.shapes.total


def test_depth_folds_into_block_rows() -> None:
    result = _ok(SPECS / "resnet50.net")
    rows = report.rows_for(result, depth=1)
    assert all(r["depth"] <= 1 for r in rows)
    layer3 = next(r for r in rows if r["name"] == "layer3")
    inside = [n for n in result.layers() if n.id.startswith("layer3.")]
    assert layer3["params"] == sum(n.cost.params for n in inside)
    assert layer3["macs"] == sum(n.cost.macs for n in inside)
    # Identical blocks fold as ×N at depth 2: layer3.1 … layer3.5 are the same Bottleneck.
    folded = {r["name"]: r["repeat"] for r in report.rows_for(result, depth=2)}
    assert folded["layer3.1"] == 5 and folded["layer3.0"] == 1


def test_too_small_input_names_the_smallest_valid_one() -> None:
    a = analyze(SPECS / "lenet5.net", {}, (1, 8, 8))
    errs = a.errors
    assert len(errs) == 1 and errs[0].code == "E302"
    # By hand: conv2 (5×5, no padding) needs ≥ 2 outputs for the 2×2 pool after it, so pool1 ≥ 6,
    # conv1 (5×5, pad 2) output ≥ 12, so the input must be at least 12×12.
    assert errs[0].hint is not None and "1×12×12" in errs[0].hint


def test_dropped_rows_warning(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "net A { input(3, 7, 7)\n maxpool(2, stride=2) }")
    result = _ok(spec)
    warns = [d for d in result.diagnostics if d.code == "W401"]
    assert len(warns) == 1 and "1 row and 1 column" in warns[0].message
    assert "(7 − 2) / 2 + 1 = 3.5 → 3 (floor)" in warns[0].message


def test_dominant_layer_warning(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "net A { input(8, 32, 32)\n conv2d(8, 3)\n flatten\n fc: linear(4096)\n linear(10) }")
    result = _ok(spec)
    warns = [d for d in result.diagnostics if d.code == "W403"]
    assert len(warns) == 1 and warns[0].layer == "fc"
    fc = 8 * 30 * 30 * 4096 + 4096
    total = (8 * 8 * 9 + 8) + fc + (4096 * 10 + 10)
    assert f"{round(100 * fc / total)}%" in warns[0].message


def test_channel_mismatch_at_add_names_both_shapes(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "net A { input(3, 8, 8)\n add {\n { conv2d(16, 3, padding=1) }\n { conv2d(8, 1) }\n }\n}")
    a = analyze(spec)
    assert [d.code for d in a.errors] == ["E301"]
    assert "16" in a.errors[0].message and "8" in a.errors[0].message
    assert a.errors[0].span is not None and a.errors[0].span.line == 2


def test_in_condition_picks_the_arm(tmp_path: Path) -> None:
    text = (
        "block B(c) {\n add {\n { main: conv2d(c, 3, padding=1) }\n"
        " if in.c != c { proj: conv2d(c, 1) } else { keep: identity }\n }\n}\n"
        "net A { input(4, 8, 8)\n b0: B(4)\n b1: B(8) }"
    )
    result = _ok(_spec(tmp_path, text))
    ids = {n.id for n in result.layers()}
    assert "b0.keep" in ids and "b0.proj" not in ids
    assert "b1.proj" in ids and "b1.keep" not in ids
    assert result.output == (8, 8, 8)


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE or not path.exists():
        if not UPDATE:
            pytest.fail(f"golden file {path} missing; run with NETDSL_UPDATE_GOLDEN=1 to create it")
        write_atomic(path, text)
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


GOLDEN_SPECS = ["lenet5", "alexnet", "resnet50"]


@pytest.mark.parametrize("spec", GOLDEN_SPECS)
def test_golden_table_and_json(spec: str) -> None:
    path = SPECS / f"{spec}.net"
    rel = os.path.relpath(path)
    result = _ok(rel)
    _golden(f"{spec}.txt", report.table(result, explain=spec == "lenet5"))
    _golden(f"{spec}.depth2.md", report.table(result, depth=2, markdown=True))
    doc = json.loads(report.to_json(result))
    doc["file"] = Path(doc["file"]).name  # golden files must not depend on where the suite runs
    _golden(f"{spec}.json", json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def test_json_carries_every_figure() -> None:
    result = _ok(SPECS / "resnet50.net")
    doc = json.loads(report.to_json(result, batch=4))
    assert doc["schema"] == report.JSON_SCHEMA_VERSION
    t = doc["totals"]
    assert t["params"] == result.total.params and t["macs"] == result.total.macs and t["flops"] == 2 * t["macs"]
    assert sum(r["params"] for r in doc["layers"] if r["kind"] not in ("block", "repeat", "group")) == t["params"]
    assert doc["batch"] == 4 and doc["input"] == [3, 224, 224] and doc["output"] == [1000]
    layer = next(r for r in doc["layers"] if r["name"] == "conv1")
    assert layer["output"] == [64, 112, 112] and layer["receptive_field"] == [7, 7] and layer["jump"] == [2, 2]


def test_cli_formats(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "netdsl", "shapes", *args], capture_output=True, text=True, cwd=ROOT
        )

    csv_out = run("specs/lenet5.net", "--format", "csv")
    assert csv_out.returncode == 0 and csv_out.stdout.splitlines()[0].startswith("name,kind,label")
    assert len(csv_out.stdout.splitlines()) == 1 + 12
    md = run("specs/resnet50.net", "--format", "markdown", "--depth", "1")
    assert md.returncode == 0 and "| layer4 |" in md.stdout
    target = tmp_path / "out.json"
    js = run("specs/resnet50.net", "--format", "json", "-o", str(target))
    assert js.returncode == 0 and json.loads(target.read_text())["totals"]["params"] > 0
    bad = run("specs/lenet5.net", "--input", "1x8x8")
    assert bad.returncode == 1 and "smallest valid input" in bad.stderr and "Traceback" not in bad.stderr
    usage = run("specs/lenet5.net", "--batch", "0")
    assert usage.returncode == 2


def test_switch_decisions_repeat_per_instance_with_captures_in_the_arms(tmp_path: Path) -> None:
    """Instances with equal inputs share a memoised decision; each still walks its arm, captures and all."""
    spec = tmp_path / "sw.net"
    spec.write_text(
        "block B(c) {\n"
        "    if in.c != c { proj: conv2d(c, 1) -> t } else { identity -> t }\n"
        "    add { {}; @t }\n"
        "}\n"
        "net N {\n    input(4, 8, 8)\n    first: B(8)\n    rest: repeat 3 B(8)\n}\n"
    )
    r = _ok(spec)
    chosen = sorted(r.chosen.items())
    assert [take for _, take in chosen] == [True, False, False, False]  # 4 → 8 channels once, then 8 → 8
    assert [n.id for n in r.layers() if n.kind == "conv2d"] == ["first.proj"]
    assert all(n.output == (8, 8, 8) for n in r.layers() if n.kind == "add")
