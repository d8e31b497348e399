"""The Python and notebook API: specs from text, the dry run as a table and a dict, diagrams, SpecError.

One test runs a real notebook with nbclient (a Jupyter kernel in a subprocess) and
checks what Jupyter would show; the others call every entry point and repr directly.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import netdsl
from netdsl.errors import NetdslError, format_diagnostics

SPEC = """\
net Tiny(width=8, num_classes=10) {
    input(3, 16, 16)
    stem: conv2d(width, 3, padding=1); relu
    pool: maxpool(2)
    head: global_avgpool
    fc: linear(num_classes)
}
"""


def test_check_and_analyze_take_text() -> None:
    assert netdsl.check(text=SPEC) == []
    bad = netdsl.check(text=SPEC.replace("maxpool(2)", "maxpol(2)"))
    assert [d.code for d in bad] == ["E101"] and bad[0].span is not None and bad[0].span.line == 4
    analysis = netdsl.analyze(text=SPEC, width=4, input=(3, 8, 8))
    assert analysis.ok and analysis.shapes is not None and analysis.shapes.input_shape == (3, 8, 8)


def test_check_of_a_path_still_works(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.net"
    spec.write_text(SPEC)
    assert netdsl.check(spec) == []
    assert netdsl.check(str(spec), num_classes=3) == []


def test_text_imports_anchor_at_the_path(tmp_path: Path) -> None:
    (tmp_path / "lib.net").write_text("block Two(c) {\n    conv2d(c, 3, padding=1); conv2d(c, 1)\n}\n")
    text = 'import "lib.net"\nnet N {\n    input(3, 8, 8)\n    Two(4)\n}\n'
    assert netdsl.check(tmp_path / "cell.net", text=text) == []


def test_load_from_text_with_overrides() -> None:
    model = netdsl.load(text=SPEC, width=4, num_classes=3, seed=0)
    assert model.state_dict()["stem.weight"].shape == (4, 3, 3, 3)
    assert model.state_dict()["fc.weight"].shape == (3, 4)


def test_errors_raise_spec_error_with_the_cli_message() -> None:
    bad = SPEC.replace("relu", "relux")
    with pytest.raises(netdsl.SpecError) as info:
        netdsl.load(text=bad)
    err = info.value
    assert isinstance(err, NetdslError)  # existing `except NetdslError` keeps working
    diags = netdsl.check(text=bad)
    assert err.diagnostics == tuple(diags)
    assert str(err) == format_diagnostics(diags, {"<text>.net": bad}, color=False)
    assert str(err).startswith("<text>.net:3:40: error[E101]: unknown layer or block `relux`")
    for call in (netdsl.summary, netdsl.render):
        with pytest.raises(netdsl.SpecError):
            call(text=bad)
    with pytest.raises(TypeError):
        netdsl.check()


def test_summary_repr_and_dict() -> None:
    s = netdsl.summary(text=SPEC, width=4)
    assert s.total.params == s.to_dict()["totals"]["params"] == 4 * 27 + 4 + 4 * 10 + 10
    html = s._repr_html_()
    assert "<table>" in html and "conv 3×3, 4" in html and "N×4×8×8" in html and "Tiny" in html
    doc = s.to_dict()
    assert doc["schema"] == 1 and doc["net"] == "Tiny" and doc["output"] == [10]
    assert [layer["name"] for layer in doc["layers"]] == ["stem", "1", "pool", "head", "fc"]
    json.dumps(doc)  # JSON-ready
    assert "Total params: 162" in str(s)
    assert "| stem |" in s._repr_markdown_()
    assert repr(s) == "<netdsl.Summary Tiny: N×3×16×16 → N×10, 162 params, 27.69K MACs>"
    assert s.by_id["stem"].output == (4, 16, 16)  # the shapes result, read through


def test_render_returns_a_digraph() -> None:
    graphviz = pytest.importorskip("graphviz")
    g = netdsl.render(text=SPEC)
    assert isinstance(g, graphviz.Digraph)
    assert "stem" in g.source and "conv 3×3, 8" in g.source


NOTEBOOK_CELLS = [
    "import netdsl\nspec = '''" + SPEC + "'''",
    "netdsl.summary(text=spec, width=4)",
    "netdsl.render(text=spec)",
    "len(netdsl.check(text=spec))",
    "try:\n    netdsl.load(text=spec.replace('relu', 'relux'))\nexcept netdsl.SpecError as err:\n    print(err)",
]


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot renders the diagram")
def test_a_notebook_runs_and_shows_tables_and_diagrams(tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in NOTEBOOK_CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbclient.NotebookClient(
        nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [cell.outputs for cell in nb.cells]
    summary = outputs[1][0]["data"]
    assert "<table>" in summary["text/html"] and "N×4×16×16" in summary["text/html"]
    diagram = outputs[2][0]["data"]
    assert "image/svg+xml" in diagram and "conv 3×3, 8" in diagram["image/svg+xml"]
    assert outputs[3][0]["data"]["text/plain"] == "0"
    assert "error[E101]: unknown layer or block `relux`" in outputs[4][0]["text"]


def test_check_and_summary_import_neither_torch_nor_graphviz() -> None:
    code = (
        "import sys, netdsl\n"
        f"netdsl.check(text={SPEC!r}); netdsl.summary(text={SPEC!r})._repr_html_()\n"
        "print('torch' in sys.modules, 'graphviz' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_the_example_of_docs_lsp_md_runs() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "lsp.md").read_text(encoding="utf-8")
    example = doc.split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict[str, object] = {}
    exec(compile(example, "docs/lsp.md", "exec"), scope)
    assert scope["model"].state_dict()["stem.weight"].shape == (16, 3, 3, 3)  # type: ignore[attr-defined]
