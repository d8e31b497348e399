"""Pass 2, syntax tree → IR: module naming rules, blocks, repeats, switches, expressions, parameters."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from netdsl.errors import Span
from netdsl.lower import ir
from netdsl.lower.expr import EvalError, InShape, NeedsShape, UndefinedName, Value, evaluate
from netdsl.lower.lowerer import Limits
from netdsl.pipeline import Analysis, analyze
from netdsl.syntax import tree as S
from netdsl.syntax.parser import parse_text

ROOT = Path(__file__).resolve().parent.parent


def lower(tmp_path: Path, text: str, params: dict[str, Value] | None = None, **kw: object) -> Analysis:
    spec = tmp_path / "t.net"
    spec.write_text(text, encoding="utf-8")
    return analyze(spec, params, **kw)  # type: ignore[arg-type]


def ok_net(tmp_path: Path, text: str, params: dict[str, Value] | None = None, **kw: object) -> ir.Net:
    a = lower(tmp_path, text, params, **kw)
    assert not a.errors, [f"{d.code} {d.message}" for d in a.errors]
    assert a.net is not None
    return a.net


def layer_ids(net: ir.Net) -> list[str]:
    return [n.id for n in ir.walk(net.body) if isinstance(n, (ir.LayerNode, ir.MergeNode))]


def module_ids(net: ir.Net) -> list[str]:
    """Every named module (layers, merges, block instances, labelled groups and repeats)."""
    out = []
    for n in ir.walk(net.body):
        if isinstance(n, (ir.LayerNode, ir.MergeNode)) or (isinstance(n, ir.ScopeNode) and n.is_module and n.id):
            out.append(n.id)
    return out


# ---------------------------------------------------------------------------- naming rules


def test_labels_and_positional_indices_like_sequential(tmp_path: Path) -> None:
    net = ok_net(tmp_path, "net A { input(3, 8, 8)\n conv2d(4, 3); relu; stem: conv2d(4, 1); relu }")
    # nn.Sequential numbering counts every module of the scope, labelled or not.
    assert layer_ids(net) == ["0", "1", "stem", "3"]


def test_block_call_is_a_module_and_inline_is_not(tmp_path: Path) -> None:
    text = """
    block Pair(c) { conv2d(c, 3, padding=1); relu }
    net A { input(3, 8, 8)
        Pair(4)
        inline Pair(8)
        head: Pair(8)
    }"""
    net = ok_net(tmp_path, text)
    assert module_ids(net) == ["0", "0.0", "0.1", "1", "2", "head", "head.0", "head.1"]


def test_groups_labelled_are_modules_unlabelled_are_transparent(tmp_path: Path) -> None:
    text = "net A { input(3, 8, 8)\n features: { conv2d(4, 3); relu }\n { conv2d(4, 1); relu }\n flatten }"
    net = ok_net(tmp_path, text)
    assert module_ids(net) == ["features", "features.0", "features.1", "1", "2", "3"]


def test_labelled_repeat_with_variable_and_label_templates(tmp_path: Path) -> None:
    text = """
    block Layer(c) { conv: conv2d(c, 3, padding=1) }
    net A { input(3, 8, 8)
        layer1: repeat 2 as i Layer(4 * (i + 1))
        dense: repeat 3 as j denselayer[j + 1]: Layer(4)
        repeat 2 relu
    }"""
    net = ok_net(tmp_path, text)
    assert module_ids(net) == [
        "layer1", "layer1.0", "layer1.0.conv", "layer1.1", "layer1.1.conv",
        "dense", "dense.denselayer1", "dense.denselayer1.conv", "dense.denselayer2", "dense.denselayer2.conv",
        "dense.denselayer3", "dense.denselayer3.conv",
        "2", "3",
    ]  # fmt: skip
    convs = [n for n in ir.walk(net.body) if isinstance(n, ir.LayerNode) and n.id.startswith("layer1")]
    assert [c.params.out_channels for c in convs] == [4, 8]  # type: ignore[attr-defined]


def test_merge_paths_are_transparent_and_the_merge_is_a_module(tmp_path: Path) -> None:
    text = """net A { input(8, 8, 8)
        add { { conv1: conv2d(8, 3, padding=1); relu }  downsample: { conv2d(8, 1) } }
        relu
    }"""
    text = text.replace("}  downsample", "}\n downsample")
    net = ok_net(tmp_path, text)
    # Paths are transparent: their modules are named in the enclosing scope (as in torchvision's
    # BasicBlock); the merge itself is the next module of the scope, after its paths' modules.
    assert module_ids(net) == ["3", "conv1", "1", "downsample", "downsample.0", "4"]


def test_resnet18_module_names_are_torchvisions(tmp_path: Path) -> None:
    tv = pytest.importorskip("torchvision")
    a = analyze(ROOT / "specs" / "resnet18.net")
    assert a.net is not None and a.ok
    # The modules that hold weights, named as torchvision's state_dict names them (`layer2.0.downsample.0`).
    assert a.shapes is not None  # (the shape pass knows which arm of each `if in.c != …` is built)
    ours = {m.id for m in a.shapes.layers() if m.kind in ("conv2d", "batchnorm", "linear")}
    theirs = {key.rsplit(".", 1)[0] for key in tv.models.resnet18().state_dict()}
    assert ours == theirs


# ---------------------------------------------------------------------------- if / switch


def test_static_if_picks_an_arm_at_lowering(tmp_path: Path) -> None:
    text = "net A(deep=true) { input(3, 8, 8)\n if deep { conv2d(4, 3) } elif false { relu } else { tanh }\n relu }"
    net = ok_net(tmp_path, text)
    assert [n.kind for n in ir.walk(net.body) if isinstance(n, ir.LayerNode)] == ["conv2d", "relu"]
    assert not any(isinstance(n, ir.SwitchNode) for n in ir.walk(net.body))
    net = ok_net(tmp_path, text, {"deep": False})
    assert [n.kind for n in ir.walk(net.body) if isinstance(n, ir.LayerNode)] == ["tanh", "relu"]


def test_if_on_input_shape_is_a_switch_whose_arms_may_reuse_names(tmp_path: Path) -> None:
    text = """
    block Proj(c) {
        if in.c != c { proj: conv2d(c, 1); relu } else { proj: identity }
        out: relu
    }
    net A { input(3, 8, 8)
        a: Proj(8)
        b: Proj(8)
    }"""
    a = lower(tmp_path, text)
    assert a.ok and a.net is not None and a.shapes is not None
    (sw_a, sw_b) = [n for n in ir.walk(a.net.body) if isinstance(n, ir.SwitchNode)]
    assert sw_a.cond_text == "in.c != c"
    then_ids = [n.id for n in ir.walk(sw_a.then) if isinstance(n, ir.LayerNode)]
    else_ids = [n.id for n in ir.walk(sw_a.orelse) if isinstance(n, ir.LayerNode)]
    assert then_ids == ["a.proj", "a.1"] and else_ids == ["a.proj"]
    # Numbering after the switch continues after the longer arm.
    assert "a.out" in a.shapes.by_id
    # a sees 3 channels (projects), b sees 8 (identity): the shape pass decided each.
    assert a.shapes.chosen[sw_a.id] is True and a.shapes.chosen[sw_b.id] is False
    assert "a.1" in a.shapes.by_id and "b.1" not in a.shapes.by_id


def test_unlabelled_module_after_a_switch_is_numbered_after_the_longer_arm(tmp_path: Path) -> None:
    text = "net A { input(3, 8, 8)\n if in.c == 3 { conv2d(4, 1); relu } else { relu }\n tanh }"
    net = ok_net(tmp_path, text)
    tanh = [n for n in ir.walk(net.body) if isinstance(n, ir.LayerNode) and n.kind == "tanh"]
    assert [t.id for t in tanh] == ["2"]


# ---------------------------------------------------------------------------- values, lets, captures


def test_let_and_parameter_defaults_reading_earlier_parameters(tmp_path: Path) -> None:
    text = """
    block Bottle(c, mid=c // 4, out=mid * 4 + 1) { conv2d(mid, 1); conv2d(out, 1) }
    net A(width=64) { input(3, 8, 8)
        let w = width * 2
        Bottle(w)
    }"""
    net = ok_net(tmp_path, text)
    convs = [n.params.out_channels for n in ir.walk(net.body) if isinstance(n, ir.LayerNode)]  # type: ignore[attr-defined]
    assert convs == [32, 129]  # hand arithmetic: c = 64 * 2 = 128, mid = 128 // 4 = 32, out = 32 * 4 + 1
    assert dict(net.params) == {"width": 64}


def test_overrides_and_input_override(tmp_path: Path) -> None:
    text = "net A(width=64, n=2) { input(3, 32, 32)\n repeat n conv2d(width, 3) }"
    net = ok_net(tmp_path, text, {"width": 16, "n": 3}, input_shape=(1, 28, 28))
    assert net.input_shape == (1, 28, 28) and dict(net.params) == {"width": 16, "n": 3}
    assert layer_ids(net) == ["0", "1", "2"]
    import netdsl

    a = netdsl.analyze(str(tmp_path / "t.net"), input=(1, 12, 12), width=8)
    assert a.ok and a.shapes is not None and a.shapes.output == (8, 8, 8)  # two 3×3 convs: 12 → 10 → 8


def test_bad_input_override_is_a_diagnostic(tmp_path: Path) -> None:
    text = "net A { input(3, 8, 8)\n relu }"
    for bad in [(0, 8, 8), (3, 8, 8, 8, 8), (3, 8.5, 8)]:
        assert [d.code for d in lower(tmp_path, text, input_shape=bad).errors] == ["E143"]


def test_capture_and_use(tmp_path: Path) -> None:
    text = "net A { input(4, 8, 8)\n relu -> x\n conv2d(4, 3, padding=1)\n add { {}; @x }\n @in }"
    net = ok_net(tmp_path, text)
    uses = [n for n in ir.walk(net.body) if isinstance(n, ir.UseNode)]
    assert [u.value for u in uses] == ["x", "in"]
    first = net.body.body[0]
    assert first.capture == "x"


def test_equal_but_differently_typed_arguments_are_validated_apart(tmp_path: Path) -> None:
    # true == 1 and 3 == 3.0 in Python; validated calls are reused, but these must not be confused.
    text = "net A { input(3, 8, 8)\n conv2d(4, 3, bias=true)\n conv2d(4, 3, bias=1)\n conv2d(4, 3)\n conv2d(4, 3.0) }"
    a = lower(tmp_path, text)
    assert [(d.code, d.span.line if d.span else 0) for d in a.errors] == [("E107", 3), ("E107", 5)]


def test_errors_keep_lowering_the_rest(tmp_path: Path) -> None:
    a = lower(tmp_path, "net A { input(3, 8, 8)\n cnov2d(4, 3)\n relu\n conv2d(4, 3, bias=2) }")
    assert [d.code for d in a.errors] == ["E101", "E107"]


# ---------------------------------------------------------------------------- limits


def test_limits_stop_runaway_specs(tmp_path: Path) -> None:
    a = lower(tmp_path, "net A { input(3, 8, 8)\n repeat 200 repeat 200 relu }", limits=Limits(max_nodes=1000))
    assert [d.code for d in a.errors] == ["E132"]
    a = lower(tmp_path, "net A { input(3, 8, 8)\n repeat 20 relu }", limits=Limits(max_repeat=10))
    assert [d.code for d in a.errors] == ["E133"]
    deep = "net A { input(3, 8, 8)\n" + "g: { " * 10 + "relu" + " }" * 10 + " }"
    a = lower(tmp_path, deep, limits=Limits(max_depth=5))
    assert [d.code for d in a.errors] == ["E131"]
    a = lower(tmp_path, "net A { input(3, 8, 8)\n repeat 10000 repeat 10000 {} }", limits=Limits(max_nodes=5000))
    assert [d.code for d in a.errors] == ["E132"]  # empty groups count too: no hang


# ---------------------------------------------------------------------------- expressions


def ev(text: str, env: dict[str, Value] | None = None, shape: tuple[int, ...] | None = None) -> Value:
    mod = parse_text(f"net A {{ let x = {text} }}", "e.net")
    assert isinstance(mod, S.Module)
    (let,) = mod.blocks[0].body.stmts
    assert isinstance(let, S.Let)
    return evaluate(let.value, env or {}, InShape(shape) if shape else None)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("7 // 2", 3),
        ("-7 // 2", -4),  # floor division, as Python and PyTorch's shape arithmetic
        ("7 % 3", 1),
        ("7 / 2", 3.5),
        ("2 ** 10", 1024),
        ("2 ** 0", 1),
        ("2 ** -1", 0.5),
        ("(-3) ** 3", -27),
        ("2 ** 3 ** 2", 512),
        ("-2 ** 2", -4),
        ("1 < 2 and 2 <= 2", True),
        ("3 == 3.0", True),
        ("1 != 1 or not false", True),
        ("0 and 1", 0),
        ("'a' if 1 > 2 else 'b'", "b"),
        ("(1, 7)", (1, 7)),
        ("[3, 4, 6, 3][2]", 6),
        ("[3, 4, 6, 3][-1]", 3),
        ("[1, 2] + [3]", (1, 2, 3)),
        ("min(3, 1, 2)", 1),
        ("max([3, 9, 2])", 9),
        ("abs(-4)", 4),
        ("int(7 / 2)", 3),
        ("len([1, 2, 3])", 3),
        ("planes * 4", 256),
    ],
)
def test_evaluate(text: str, value: Value) -> None:
    got = ev(text, {"planes": 64})
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("1 // 0", "E115"),
        ("1 % (2 - 2)", "E115"),
        ("0 ** -1", "E115"),
        ("2 ** 100", "E112"),
        ("3 ** 62", "E112"),
        ("7 * 2 ** 60", "E112"),
        ("10 ** 10 ** 10", "E112"),
        ("99999999999999999999999", "E112"),
        ("(-8) ** 0.5", "E112"),
        ("1e308 * 10", "E112"),
        ("int(1e300)", "E112"),
        ("'a' * 2", "E113"),
        ("(1, 2) < 3", "E113"),
        ("[1, 2][5]", "E116"),
        ("[1, 2][true]", "E113"),
        ("round(2.5)", "E114"),
        ("abs(1, 2)", "E114"),
        ("min()", "E114"),
        ("len(3)", "E113"),
        ("nope + 1", "E110"),
        ("x.c", "E111"),
    ],
)
def test_evaluation_errors_are_diagnostics_not_crashes(text: str, code: str) -> None:
    with pytest.raises(EvalError) as info:
        ev(text, {"x": 3})
    assert info.value.code == code
    assert isinstance(info.value.span, Span)


def test_undefined_name_hints() -> None:
    with pytest.raises(UndefinedName) as info:
        ev("True")
    assert info.value.hint == "write `true`"
    with pytest.raises(UndefinedName) as info:
        ev("widht", {"width": 1})
    assert info.value.hint == "did you mean `width`?"


def test_in_is_deferred_until_shapes_are_known() -> None:
    with pytest.raises(NeedsShape) as info:
        ev("in.c * 2")
    assert info.value.text == "in.c"
    assert ev("in.c != 64 or in.h > 7", shape=(64, 8, 8)) is True
    assert ev("in.l", shape=(16, 100)) == 100
    with pytest.raises(EvalError) as err:
        ev("in.channels", shape=(64, 8, 8))
    assert err.value.hint == "did you mean `in.c`?"


# ---------------------------------------------------------------- memoised lowering


class _Unmemoised:
    """Switches off the lowering's call-site and instance memos (the reference for the tests below)."""

    def __enter__(self) -> None:
        from netdsl.lower.scopes import LowererBase

        self._saved = LowererBase._call_key, LowererBase._instance_key
        LowererBase._call_key = lambda *a: None  # type: ignore[assignment,method-assign]
        LowererBase._instance_key = lambda *a: None  # type: ignore[assignment,method-assign]

    def __exit__(self, *exc: object) -> None:
        from netdsl.lower.scopes import LowererBase

        LowererBase._call_key, LowererBase._instance_key = self._saved  # type: ignore[method-assign]


SPECS = sorted((Path(__file__).resolve().parents[1] / "specs").glob("*.net"))


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_memoised_lowering_equals_lowering_every_instance(path: Path) -> None:
    """Copied block instances (ir.rebase) and memoised bindings give exactly the IR of a full lowering."""
    fast = analyze(path)
    with _Unmemoised():
        slow = analyze(path)
    assert fast.net is not None and slow.net is not None
    assert fast.net == slow.net  # field by field, recursively (frozen dataclasses)
    assert fast.diagnostics == slow.diagnostics


def test_instances_are_copied_only_when_their_arguments_are_equal(tmp_path: Path) -> None:
    spec = tmp_path / "t.net"
    spec.write_text(
        "block B(c, k=1) {\n    conv: conv2d(c, k, padding=k // 2) -> t\n    relu\n    add { {}; @t }\n}\n"
        "net T {\n    input(4, 8, 8)\n    b: repeat 3 as i B(4, 1 + 2 * (i // 2))\n}\n"
    )
    a = analyze(spec)
    assert a.ok, a.errors
    convs = {n.id: n for n in ir.walk(a.net.body) if isinstance(n, ir.LayerNode) and n.kind == "conv2d"}  # type: ignore[union-attr]
    assert [(i, n.params.kernel_size) for i, n in convs.items()] == [("b.0.conv", 1), ("b.1.conv", 1), ("b.2.conv", 3)]  # type: ignore[attr-defined]
    frames = [n.chain[-1].instance for n in convs.values()]
    assert frames == ["b.0", "b.1", "b.2"]


def test_a_mistake_in_a_repeated_block_is_reported_once_with_every_instance_lowered(tmp_path: Path) -> None:
    spec = tmp_path / "t.net"
    spec.write_text("block B(c) {\n    conv2d(c, 3, stride=0)\n}\nnet T {\n    input(4, 8, 8)\n    repeat 4 B(4)\n}\n")
    fast = analyze(spec)
    with _Unmemoised():
        slow = analyze(spec)
    assert [d.code for d in fast.errors] == [d.code for d in slow.errors] == ["E107"]


NESTED = """
block Leaf(c, k=3) {
    conv2d(c, k, padding=k // 2) -> a
    relu
    if in.c != c { conv2d(c, 1) } else { identity }
    add { {}; @a }
}
block Mid(c) {
    first: Leaf(c)
    inner: repeat 2 as j { x[j]: Leaf(c, 1 + 2 * j); inline Leaf(c) }
    skip: { batchnorm -> t; relu; mul { {}; @t } }
}
net Nested {
    input(3, 16, 16)
    stem: conv2d(8, 3, padding=1)
    stages: repeat 3 as s Mid(8 * (1 + s // 2))
    head: { global_avgpool; linear(10) }
}
"""


def test_memoised_lowering_of_nested_blocks_captures_and_switches(tmp_path: Path) -> None:
    spec = tmp_path / "nested.net"
    spec.write_text(NESTED)
    fast = analyze(spec)
    with _Unmemoised():
        slow = analyze(spec)
    assert fast.ok and slow.ok, fast.errors
    assert fast.net is not None and slow.net is not None
    assert fast.net == slow.net  # field by field, recursively (frozen dataclasses)
    assert fast.shapes is not None and slow.shapes is not None
    assert [(n.id, n.output, n.rf) for n in fast.shapes.nodes] == [(n.id, n.output, n.rf) for n in slow.shapes.nodes]
    assert fast.shapes.chosen == slow.shapes.chosen


@pytest.mark.parametrize("path", [*SPECS, "nested"], ids=[*(p.stem for p in SPECS), "nested"])  # type: ignore[misc]
def test_every_node_built_without_validation_is_valid(path: Path | str, tmp_path: Path) -> None:
    """The lowering builds nodes from values it has checked (no validation in the IR): every net must pass
    ``verify_ir``, the IR's type check. Serial ids (numbered per module) are unique, and so are module ids
    except between the two arms of a switch (only one is built)."""
    if path == "nested":
        path = tmp_path / "nested.net"
        path.write_text(NESTED)
    a = analyze(path)
    assert a.net is not None
    ir.verify_ir(a.net)
    nodes = ir.walk(a.net.body)
    serial = [n.id for n in nodes if "#" in n.id]
    assert len(serial) == len(set(serial))
    assert a.shapes is not None
    built = [n.id for n in a.shapes.nodes]
    assert len(built) == len(set(built))


def test_verify_ir_finds_a_field_of_the_wrong_type(tmp_path: Path) -> None:
    spec = tmp_path / "t.net"
    spec.write_text(NESTED)
    a = analyze(spec)
    assert a.net is not None
    layer = next(n for n in ir.walk(a.net.body) if isinstance(n, ir.LayerNode))
    wrong = dataclasses.replace(layer, params=None)  # type: ignore[arg-type]
    broken = dataclasses.replace(a.net, body=dataclasses.replace(a.net.body, body=(wrong, *a.net.body.body)))
    with pytest.raises(ir.IRError, match="params are not of the kind's schema"):
        ir.verify_ir(broken)
    with pytest.raises(ir.IRError, match="input shape"):
        ir.verify_ir(dataclasses.replace(a.net, input_shape=(3, 0, 8)))
