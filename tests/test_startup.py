"""Start-up of `netdsl check` and `netdsl shapes` (issue 21): what a dry run imports and builds.

The time itself is measured by ``benchmarks/bench_dry_run.py`` against the interpreter's floors in
the same run (timing assertions here would fail on a loaded machine); these tests pin what makes
it: built-in schemas are built on first use, only those a spec uses, and the dry run imports
neither torch, graphviz and Lark, nor the back ends, the renderers or the error path's modules.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_PROBE = """
import json, sys
from netdsl.cli import main
from netdsl.layers import REGISTRY
before = sorted(k.name for k in REGISTRY if k.schema.__pydantic_complete__)
rc = main(sys.argv[1:])
built = sorted({k.schema.__name__ for k in REGISTRY if k.schema.__pydantic_complete__})
print(json.dumps({"rc": rc, "before": before, "built": built, "modules": sorted(sys.modules)}))
"""


def _probe(*args: str) -> dict[str, object]:
    env = {"PATH": "/usr/bin:/bin", "NETDSL_DISABLE_PLUGIN_AUTOLOAD": "1"}
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_importing_the_layers_builds_no_schema() -> None:
    got = _probe("check", "specs/lenet5.net")
    assert got["rc"] == 0 and got["before"] == []


def test_a_check_builds_only_the_schemas_its_spec_uses() -> None:
    got = _probe("check", "specs/resnet50.net")
    assert got["rc"] == 0
    built = set(got["built"])  # type: ignore[arg-type]
    assert "Conv2dParams" in built and len(built) <= 10, built  # of some forty schemas


def test_the_dry_run_imports_no_back_end_and_no_error_path() -> None:
    for command in ("check", "shapes"):
        modules = set(_probe(command, "specs/resnet50.net")["modules"])  # type: ignore[arg-type]
        heavy = {"torch", "torchvision", "graphviz", "lark", "netdsl.backends", "netdsl.syntax.messages",
                 "netdsl.syntax.lark_parse", "netdsl.cli.build", "netdsl.cli.render"}  # fmt: skip
        assert not heavy & modules, f"`netdsl {command}` imported {sorted(heavy & modules)}"
    assert "netdsl.shapes.report" not in set(_probe("check", "specs/resnet50.net")["modules"])  # type: ignore[arg-type]


def test_a_bad_spec_still_gets_the_error_path() -> None:
    got = _probe("check", "tests/bad_specs/syntax_two_statements.net")
    assert got["rc"] == 1 and "netdsl.syntax.messages" in got["modules"]  # type: ignore[operator]
