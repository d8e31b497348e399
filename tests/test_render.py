"""Diagrams (`netdsl render`): every shipped spec drawn with the real `dot`, checked against the IR.

Expected node and cluster sets are computed here from the ShapeResult and the IR
with the folding rule written out independently (same block, same input and
output shapes, same sequence of layer kinds and parameters); the drawing is read
back from dot's own JSON and SVG output, not from netdsl's DOT text.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any

import graphviz
import pytest

from netdsl.atomic import write_atomic
from netdsl.backends.graphviz import RenderOptions, to_dot
from netdsl.cli import main
from netdsl.lower import ir
from netdsl.pipeline import analyze
from netdsl.shapes.inference import NodeInfo, ShapeResult

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.net"))  # picks up every spec shipped, including new ones
GOLDEN = ROOT / "tests" / "golden" / "render"
UPDATE = os.environ.get("NETDSL_UPDATE_GOLDEN") == "1"
SVG_NS = "{http://www.w3.org/2000/svg}"


def _shapes(path: Path, **params: Any) -> ShapeResult:
    a = analyze(path, params)
    assert a.ok and a.shapes is not None, [d.message for d in a.errors]
    return a.shapes


def _text(label: str) -> str:
    """The visible text of an HTML-like graphviz label."""
    return html.unescape(re.sub(r"<[^>]*>", " ", label)).strip()


def _layout(source: str) -> dict[str, Any]:
    """dot's own reading of the diagram: clusters (name → text) and nodes (name → attributes, text)."""
    j = json.loads(graphviz.Source(source).pipe(format="json"))
    objects = j["objects"]
    count = j["_subgraph_cnt"]
    clusters = {o["name"]: _text(o.get("label", "")) for o in objects[:count] if o["name"].startswith("cluster_")}
    clusters.pop("cluster_legend", None)
    nodes = {o["name"]: {**o, "text": _text(o.get("label", ""))} for o in objects[count:]}
    names = {o["_gvid"]: o["name"] for o in objects[count:]}
    edges = [(names[e["tail"]], names[e["head"]]) for e in j.get("edges", []) if e.get("style") != "invis"]
    return {"clusters": clusters, "nodes": nodes, "edges": edges, "rankdir": j.get("rankdir", "TB")}


def _layers(nodes: dict[str, Any]) -> set[str]:
    return {n for n in nodes if not n.startswith("#")}


# ----------------------------------------------------------------- the independent model of what must be drawn
def _ir_layers(shapes: ShapeResult) -> dict[str, ir.LayerNode | ir.MergeNode]:
    """Built layers by id, following the shape pass's `if` decisions."""
    out: dict[str, ir.LayerNode | ir.MergeNode] = {}

    def visit(n: Any) -> None:
        if isinstance(n, ir.LayerNode | ir.MergeNode):
            out[n.id] = n
        if isinstance(n, ir.ScopeNode):
            for c in n.body:
                visit(c)
        elif isinstance(n, ir.MergeNode):
            for p in n.paths:
                visit(p)
        elif isinstance(n, ir.SwitchNode) and n.id in shapes.chosen:
            visit(n.then if shapes.chosen[n.id] else n.orelse)

    visit(shapes.net.body)
    return out


def _expected(shapes: ShapeResult, fold: bool) -> tuple[set[str], set[str], dict[str, int]]:
    """(layer nodes, clusters, folded clusters → N) a drawing must show."""
    layers = _ir_layers(shapes)
    children: dict[str, list[NodeInfo]] = defaultdict(list)
    for n in shapes.nodes:
        if n.parent is not None:
            children[n.parent].append(n)

    def descendants(scope: NodeInfo) -> list[NodeInfo]:
        return [x for c in children[scope.id] for x in ([c] if not c.is_scope else descendants(c))]

    def same(a: NodeInfo, b: NodeInfo) -> bool:
        seq = lambda s: [(layers[x.id].kind, layers[x.id].params) for x in descendants(s)]
        return a.block == b.block and a.inputs == b.inputs and a.output == b.output and seq(a) == seq(b)

    drawn, clusters, folds = set(), set(), {}

    def visit(parent: str) -> None:
        kids = children[parent]
        i = 0
        while i < len(kids):
            k = kids[i]
            if not k.is_scope:
                drawn.add(k.id)
                i += 1
                continue
            j = i + 1
            while fold and j < len(kids) and kids[j].is_scope and same(k, kids[j]):
                j += 1
            if descendants(k):
                clusters.add(f"cluster_{k.id}")
                if j - i > 1:
                    folds[f"cluster_{k.id}"] = j - i
            visit(k.id)
            i = j

    visit("")
    return drawn, clusters, folds


# ----------------------------------------------------------------- every shipped spec
@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_expanded_diagram_has_every_layer_once_and_every_module_as_a_cluster(spec: Path) -> None:
    shapes = _shapes(spec)
    got = _layout(to_dot(shapes, RenderOptions(expand=True)))
    ids = [n.id for n in shapes.layers()]
    assert len(ids) == len(set(ids))
    assert _layers(got["nodes"]) == set(ids)
    layers, clusters, folds = _expected(shapes, fold=False)
    assert layers == set(ids) and folds == {}
    assert set(got["clusters"]) == clusters
    assert not any(re.search(r"×\d+", label) for label in got["clusters"].values())
    # One connected flow: every layer is fed and feeds something; input and output are wired.
    heads = {h for _, h in got["edges"]}
    tails = {t for t, _ in got["edges"]}
    assert set(ids) <= heads and set(ids) <= tails
    assert "#input" in tails and "#output" in heads


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_default_diagram_folds_every_run_of_identical_blocks(spec: Path) -> None:
    shapes = _shapes(spec)
    source = to_dot(shapes)
    got = _layout(source)
    layers, clusters, folds = _expected(shapes, fold=True)
    assert _layers(got["nodes"]) == layers
    assert set(got["clusters"]) == clusters
    marked = {name: int(m.group(1)) for name, label in got["clusters"].items() if (m := re.search(r"×(\d+)", label))}
    assert marked == folds
    # The same diagram as SVG: valid XML with one <g class="node"> per drawn layer, titled by its module name.
    svg = ET.fromstring(graphviz.Source(source).pipe(format="svg"))
    titles = [g.findtext(f"{SVG_NS}title") for g in svg.iter(f"{SVG_NS}g") if g.get("class") == "node"]
    assert {t for t in titles if t and not t.startswith("#")} == layers


def test_resnet50_folds_stage_repeats_but_not_the_downsampling_first_block() -> None:
    got = _layout(to_dot(_shapes(ROOT / "specs" / "resnet50.net")))
    marked = {n: label for n, label in got["clusters"].items() if "×" in label}
    # [3, 4, 6, 3] bottlenecks: block 0 of each stage has a projection shortcut, the rest are identical.
    assert {n: int(label.split("×")[-1]) for n, label in marked.items()} == {
        "cluster_layer1.1": 2,
        "cluster_layer2.1": 3,
        "cluster_layer3.1": 5,
        "cluster_layer4.1": 2,
    }
    assert "layer1.1–layer1.2" in marked["cluster_layer1.1"] and "Bottleneck" in marked["cluster_layer1.1"]
    assert "×" not in got["clusters"]["cluster_layer1.0"] and "cluster_layer1.0.downsample" in got["clusters"]
    # 16 blocks drawn as 8; a bottleneck is 3 convs, 3 batchnorms, 3 relus and an add (+2 for a downsample).
    assert len(_layers(got["nodes"])) == 4 + 4 * (12 + 10) + 3


def test_depth_collapses_modules_into_boxes_with_their_parameter_counts() -> None:
    tv = pytest.importorskip("torchvision")
    shapes = _shapes(ROOT / "specs" / "resnet50.net")
    top = _layout(to_dot(shapes, RenderOptions(depth=1)))
    # torchvision's top-level children, plus netdsl's explicit flatten (module index 9).
    assert _layers(top["nodes"]) == {
        "conv1",
        "bn1",
        "relu",
        "maxpool",
        "layer1",
        "layer2",
        "layer3",
        "layer4",
        "avgpool",
        "9",
        "fc",
    }
    assert top["clusters"] == {}
    model = tv.models.resnet50()
    two = _layout(to_dot(shapes, RenderOptions(depth=2)))
    boxes = {n: o for n, o in two["nodes"].items() if "." in n}
    assert set(boxes) == {f"layer{s}.{i}" for s in (1, 2, 3, 4) for i in (0, 1)}
    for name, node in boxes.items():
        stage, index = name.split(".")
        expected = sum(p.numel() for p in getattr(model, stage)[int(index)].parameters())
        assert node["tooltip"] == f"{name}: {expected:,} params"
    folded = {n: re.search(r"–\S+\s+×(\d+)", o["text"]) for n, o in boxes.items()}
    assert {n: int(m.group(1)) for n, m in folded.items() if m} == {
        "layer1.1": 2,
        "layer2.1": 3,
        "layer3.1": 5,
        "layer4.1": 2,
    }


def test_left_to_right_layout_draws_the_same_nodes() -> None:
    shapes = _shapes(ROOT / "specs" / "resnet18.net")
    got = _layout(to_dot(shapes, RenderOptions(direction="LR")))
    assert got["rankdir"] == "LR"
    assert _layers(got["nodes"]) == _expected(shapes, fold=True)[0]


def test_labels_name_kinds_and_labels_but_not_indices() -> None:
    got = _layout(to_dot(_shapes(ROOT / "specs" / "resnet18.net")))
    assert got["nodes"]["conv1"]["text"].split() == ["conv", "7×7,", "64,", "/2", "conv1"]
    assert got["nodes"]["layer1.0.2"]["text"] == "relu"  # an unlabelled relu: position index 2, not shown
    assert got["nodes"]["layer1.0.6"]["text"] == "+"  # the residual add


# ----------------------------------------------------------------- golden DOT files
GOLDEN_SPECS = ["lenet5", "resnet18", "googlenet"]


@pytest.mark.parametrize("name", GOLDEN_SPECS)
def test_dot_source_matches_golden_file(name: str) -> None:
    spec = ROOT / "specs" / f"{name}.net"
    if not spec.exists():
        pytest.skip(f"{spec.name} is not in specs/ yet")
    text = to_dot(_shapes(spec))
    assert text == to_dot(_shapes(spec)), "two renders of one spec differ"
    path = GOLDEN / f"{name}.dot"
    if UPDATE:
        write_atomic(path, text)
    assert path.exists(), f"golden file {path} missing; run with NETDSL_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8"), f"{name}: DOT differs from {path} (NETDSL_UPDATE_GOLDEN=1)"


def test_output_does_not_depend_on_hash_seed(tmp_path: Path) -> None:
    spec = ROOT / "specs" / "googlenet.net"
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"g{seed}.dot"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run(
            [sys.executable, "-m", "netdsl", "render", str(spec), "-o", str(out)],
            env=env,
            check=True,
            capture_output=True,
        )
        outs.append(out.read_text(encoding="utf-8"))
    assert outs[0] == outs[1] == to_dot(_shapes(spec))


# ----------------------------------------------------------------- the command
LENET = str(ROOT / "specs" / "lenet5.net")


@pytest.mark.parametrize(
    ("fmt", "check"),
    [
        ("svg", lambda b: ET.fromstring(b).tag == f"{SVG_NS}svg"),
        ("png", lambda b: b.startswith(b"\x89PNG\r\n\x1a\n")),
        ("pdf", lambda b: b.startswith(b"%PDF-")),
        ("dot", lambda b: b.startswith(b"digraph LeNet5 {") and b.rstrip().endswith(b"}")),
    ],
)
def test_each_format_writes_a_valid_file(tmp_path: Path, fmt: str, check: Any) -> None:
    by_flag, by_suffix = tmp_path / "flag.out", tmp_path / f"net.{fmt}"
    assert main(["render", LENET, "-o", str(by_flag), "--format", fmt]) == 0
    assert main(["render", LENET, "-o", str(by_suffix)]) == 0
    assert check(by_flag.read_bytes()) and check(by_suffix.read_bytes())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([by_flag.name, by_suffix.name])  # no temp files


def test_default_output_is_spec_stem_in_the_current_directory(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["render", LENET]) == 0
    assert ET.parse(tmp_path / "lenet5.svg").getroot().tag == f"{SVG_NS}svg"
    assert main(["render", LENET, "--format", "png"]) == 0
    assert (tmp_path / "lenet5.png").read_bytes()[:4] == b"\x89PNG"


def test_unknown_suffix_and_bad_depth_are_usage_errors(tmp_path: Path, capsys: Any) -> None:
    assert main(["render", LENET, "-o", str(tmp_path / "net.jpg")]) == 2
    assert "--format" in capsys.readouterr().err
    assert main(["render", LENET, "--depth", "0", "-o", str(tmp_path / "x.svg")]) == 2
    assert list(tmp_path.iterdir()) == []


def test_failed_render_keeps_the_previous_output(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "net.svg"
    out.write_text("previous diagram")
    bad = tmp_path / "bad.net"
    bad.write_text("net Bad() {\n    input(3, 8, 8)\n    conv2d(8, 16)\n}\n")  # a 16×16 kernel on an 8×8 input
    assert main(["render", str(bad), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "bad.net:3" in err and "Traceback" not in err
    assert out.read_text() == "previous diagram"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.net", "net.svg"]


def test_without_dot_program_render_explains_and_dot_format_still_works(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty)}  # no `dot` anywhere on PATH
    cmd = [sys.executable, "-m", "netdsl", "render", LENET]
    svg = tmp_path / "net.svg"
    r = subprocess.run([*cmd, "-o", str(svg)], env=env, capture_output=True, text=True)
    assert r.returncode == 1
    assert "sudo apt-get install graphviz" in r.stderr and "Traceback" not in r.stderr
    assert not svg.exists()
    dot = tmp_path / "net.dot"
    r = subprocess.run([*cmd, "-o", str(dot)], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert dot.read_text(encoding="utf-8") == to_dot(_shapes(Path(LENET)))
