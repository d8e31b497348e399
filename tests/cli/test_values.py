"""``--set`` values are read as spec expressions; Python keyword lists are the spec's lists."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import netdsl
from netdsl.cli.common import parse_value

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("10", 10),
        ("1_000", 1000),
        ("2**3", 8),
        ("[2,3]", (2, 3)),
        ("[1, [2, 3]]", (1, (2, 3))),
        ("(1, 7)", (1, 7)),
        ("1x7", (1, 7)),
        ("true", True),
        ("True", True),
        ("3.5", 3.5),
        ("-4", -4),
        ("+5", 5),
        (".5", 0.5),
        ("1e-6", 1e-6),
        ("8 // 3", 2),
        ("bilinear", "bilinear"),
        ('"x"', "x"),
        ("a-b", "a-b"),
        ("1 +", "1 +"),
    ],
)
def test_a_set_value_is_a_spec_expression(text: str, value: object) -> None:
    got = parse_value(text)
    assert got == value and type(got) is type(value)


def test_a_set_value_never_runs_python(tmp_path: Path) -> None:
    probe = tmp_path / "probe"
    text = f"__import__('os').mkdir('{probe}')"
    assert parse_value(text) == text  # not an expression of the language: a plain string
    assert not probe.exists()


def test_a_set_value_cannot_inject_statements() -> None:
    assert parse_value("1) {} net X(") == "1) {} net X("
    assert parse_value("1 }\nnet X {") == "1 }\nnet X {"


SPEC = "net W(widths=(4, 8)) {\n    input(3, 8, 8)\n    repeat len(widths) as i conv2d(widths[i], 3, padding=1)\n}\n"


def test_python_lists_are_the_specs_lists(tmp_path: Path) -> None:
    spec = tmp_path / "w.net"
    spec.write_text(SPEC)
    assert netdsl.check(spec, widths=[4, 4, 2]) == []
    model = netdsl.load(spec, widths=[4, 6])
    assert [m.out_channels for m in model] == [4, 6]  # type: ignore[attr-defined]


def test_set_a_list_on_the_command_line(tmp_path: Path) -> None:
    spec = tmp_path / "w.net"
    spec.write_text(SPEC)
    done = subprocess.run(
        [sys.executable, "-m", "netdsl", "check", str(spec), "--set", "widths=[2_0, 2**3]"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "output N×8×8×8" in done.stdout and "2 layers" in done.stdout
