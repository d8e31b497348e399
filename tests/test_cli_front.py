"""The command line's front end: `netdsl check`, exit codes, help, and no torch on the dry-run path."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "bad_specs"
NETDSL = [sys.executable, "-m", "netdsl"]


def run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env_free = {"NETDSL_DISABLE_PLUGIN_AUTOLOAD": "1", "NO_COLOR": "1", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [*NETDSL, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120, env=env_free
    )


def test_check_valid_specs_prints_one_summary_line_each() -> None:
    specs = ["specs/lenet5.net", "specs/resnet18.net", "specs/resnet50.net"]
    p = run("check", *specs)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == 3
    for spec, line in zip(specs, lines, strict=True):
        assert line.startswith(f"{spec}: ok: net ")
    # LeNet-5 (d2l, 1×28×28, padding 2): hand count 156 + 2416 + 48120 + 10164 + 850 = 61,706 parameters.
    assert "61,706 params" in lines[0] and "output N×10" in lines[0]
    assert "25,557,032 params" in lines[2]  # torchvision's resnet50: 25,557,032
    assert p.stderr == ""


def _needs_no_params(path: Path) -> bool:
    return "# params:" not in path.read_text(encoding="utf-8")


BAD = [p for p in sorted(CORPUS.rglob("*.net")) if _needs_no_params(p)]


def test_check_every_bad_spec_exits_1_with_diagnostics_and_no_traceback() -> None:
    p = run("check", *BAD)
    assert p.returncode == 1
    assert "Traceback" not in p.stdout + p.stderr
    assert p.stdout == ""  # no spec of the corpus is "ok"
    for spec in BAD:
        assert re.search(rf"^{re.escape(str(spec))}: \d+ error\(s\)$", p.stderr, re.M), spec
    assert p.stderr.count("error[E") >= len(BAD)


@pytest.mark.parametrize("name", ["syntax_missing_rparen", "unknown_layer", "shape_add_channels", "cycle/a"])
def test_check_one_bad_spec(name: str) -> None:
    spec = Path("tests/bad_specs") / f"{name}.net"
    p = run("check", spec)
    assert p.returncode == 1 and p.stdout == ""
    first = p.stderr.splitlines()[0]
    assert re.match(r"^tests/bad_specs/[\w/]+\.net:\d+:\d+: error\[E\d{3}\]: ", first), first
    assert "^" in p.stderr and "Traceback" not in p.stderr


def test_set_of_an_unknown_parameter_is_a_spec_error() -> None:
    p = run("check", "tests/bad_specs/set_unknown_param.net", "--set", "num_clases=10")
    assert p.returncode == 1 and "E141" in p.stderr and "did you mean `num_classes`?" in p.stderr
    p = run("check", "tests/bad_specs/set_unknown_param.net", "--set", "num_classes=3")
    assert p.returncode == 0 and "output N×3" in p.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--bogus", "specs/lenet5.net"],
        ["check", "--input", "3x", "specs/lenet5.net"],
        ["check", "--input", "0x28x28", "specs/lenet5.net"],
        ["check", "--set", "foo", "specs/lenet5.net"],
        ["check"],
        ["shapes"],
        ["frobnicate"],
        [],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    p = run(*args)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr and p.stderr.strip()


def test_missing_spec_file_is_exit_1() -> None:
    p = run("check", "specs/nothere.net")
    assert p.returncode == 1 and "E201" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.parametrize("command", [None, "check", "shapes", "build", "render", "layers"])
def test_help_explains_and_exits_0(command: str | None) -> None:
    p = run(*([command] if command else []), "--help")
    assert p.returncode == 0 and p.stdout.startswith("usage: netdsl")
    if command is None:
        for sub in ("check", "shapes", "build", "render", "layers"):
            assert re.search(rf"^\s+{sub}\s+\S", p.stdout, re.M), sub
        assert "exit codes" in p.stdout
    else:
        assert len(p.stdout.splitlines()) > 5 and "options:" in p.stdout


def test_version() -> None:
    import netdsl

    p = run("--version")
    assert p.returncode == 0 and p.stdout.strip() == f"netdsl {netdsl.__version__}"


_NO_HEAVY_IMPORTS = """
import sys
{body}
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "graphviz", "torchvision"))
assert not heavy, heavy
print("clean")
"""


@pytest.mark.parametrize(
    "body",
    [
        "import netdsl\nassert netdsl.check('specs/resnet50.net') == []",
        "import netdsl\nassert netdsl.analyze('specs/lenet5.net').ok",
        "from netdsl.cli import main\nassert main(['shapes', 'specs/resnet50.net', '--depth', '2']) == 0",
        "from netdsl.cli import main\nassert main(['check', 'specs/resnet50.net', 'specs/lenet5.net']) == 0",
        "from netdsl.cli import main\nassert main(['check', 'tests/bad_specs/shape_add_channels.net']) == 1",
    ],
)
def test_dry_run_never_imports_torch_or_graphviz(body: str) -> None:
    code = _NO_HEAVY_IMPORTS.format(body=body)
    p = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"NETDSL_DISABLE_PLUGIN_AUTOLOAD": "1", "PATH": "/usr/bin:/bin"},
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().endswith("clean")
