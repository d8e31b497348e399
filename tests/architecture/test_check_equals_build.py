"""`check` rejects what `build` rejects: a file that checks clean builds (every E5xx code accounted for)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from torch import fx, nn

from netdsl.backends.torch.compile import build
from netdsl.errors import NetdslError
from netdsl.pipeline import analyze
from netdsl.shapes.reserved import RESERVED

ROOT = Path(__file__).resolve().parents[2]

#: Build-time codes that need torch or the target machine to decide, and why `check` cannot.
BUILD_ONLY = {
    "E501": "the weights would not fit in the memory of the device built on (free memory at build time)",
    "E502": "a layer's builder (torch code, possibly a plugin's) raised or returned a non-module",
    "E503": "--verify: a run-time shape differs from the static one (runs the model)",
    "E505": "an internal error: the spec checked clean, so it is a netdsl bug",
    "E510": "--weights: the weights file does not fit the built module (needs the file, not just the spec)",
}
#: Codes the back ends raise that `check` reports too.
CHECKED = {"E504"}


def codes_raised_by_back_ends() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "netdsl" / "backends").rglob("*.py"):
        found.update(re.findall(r'"(E5\d\d)"', path.read_text(encoding="utf-8")))
    return found


def test_every_build_error_code_is_checked_or_needs_torch() -> None:
    codes = codes_raised_by_back_ends() | CHECKED
    assert codes == CHECKED | BUILD_ONLY.keys()


def test_the_reserved_names_are_torchs() -> None:
    assert frozenset({*dir(fx.GraphModule), *dir(nn.Sequential), *vars(nn.Module())}) == RESERVED


SPEC = "block B() {{\n    {name}: relu\n}}\nnet N() {{\n    input(3, 8, 8)\n    {where}\n}}\n"


@pytest.mark.parametrize("name", ["forward", "cuda", "state_dict", "training", "to", "eval", "graph"])
@pytest.mark.parametrize("where", ["{name}: relu", "{name}: B()", "{name}: {{ relu }}", "blk: B()"])
def test_check_reports_e504_wherever_build_would(name: str, where: str, tmp_path: Path) -> None:
    text = SPEC.format(name=name if where == "blk: B()" else "ok", where=where.format(name=name))
    a = analyze(tmp_path / "n.net", text=text)
    assert [d.code for d in a.errors] == ["E504"]
    assert a.errors[0].layer is not None and a.errors[0].layer.endswith(name)
    with pytest.raises(NetdslError) as err:
        build(a)
    assert [d.code for d in err.value.diagnostics] == ["E504"]


def test_a_name_that_checks_clean_builds(tmp_path: Path) -> None:
    a = analyze(tmp_path / "n.net", text=SPEC.format(name="forward_", where="forward_: relu"))
    assert a.ok
    assert isinstance(build(a), nn.Module)
