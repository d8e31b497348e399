"""Keep the README honest: every command it shows runs, and shown output is real output."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
ENV = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}", "NO_COLOR": "1"}


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def _console_examples() -> list[tuple[str, str]]:
    """(command, expected output) pairs from ```console blocks: `$ cmd` lines and the lines after them."""
    pairs = []
    for block in _blocks("console"):
        cmd, out = None, []  # type: ignore[var-annotated]
        for line in block.splitlines():
            if line.startswith("$ "):
                if cmd is not None:
                    pairs.append((cmd, "\n".join(out)))
                cmd, out = line[2:], []
            else:
                out.append(line)
        if cmd is not None:
            pairs.append((cmd, "\n".join(out)))
    return pairs


def test_readme_starts_with_the_two_commands() -> None:
    first = _blocks("sh")[0].strip().splitlines()
    assert len(first) == 2
    setup_and_run, test = (line.split("#")[0].strip() for line in first)
    assert setup_and_run.startswith("bash scripts/setup.sh && ") and "netdsl" in setup_and_run
    assert test == "bash scripts/test.sh"
    # CI runs exactly the README's test command.
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_setup_and_main_job() -> None:
    """The first README command, verbatim (setup is idempotent, so this is quick once set up)."""
    cmd = _blocks("sh")[0].strip().splitlines()[0].split("#")[0].strip()
    done = subprocess.run(["bash", "-c", cmd], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    assert "Total params" in done.stdout


@pytest.mark.parametrize(("command", "expected"), _console_examples(), ids=lambda v: v[:50])
def test_console_example(command: str, expected: str) -> None:
    done = subprocess.run(["bash", "-c", command], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    shown = [line.rstrip() for line in expected.strip("\n").splitlines()]
    if shown and shown != ["..."]:
        actual = [line.rstrip() for line in done.stdout.strip("\n").splitlines()]
        if shown[-1] == "...":  # the README shows only the beginning
            shown = shown[:-1]
            actual = actual[: len(shown)]
        assert actual == shown


@pytest.mark.parametrize("code", _blocks("python"), ids=lambda c: c.splitlines()[1][:40])
def test_python_example(code: str) -> None:
    done = subprocess.run(["python", "-c", code], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_render_docs_command_regenerates_the_diagrams() -> None:
    assert "bash scripts/render_docs.sh" in README
    done = subprocess.run(["bash", "scripts/render_docs.sh"], cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for name in ("lenet5.svg", "resnet50.svg"):
        text = (ROOT / "docs" / "images" / name).read_text()
        assert text.lstrip().startswith("<?xml") and "</svg>" in text
        assert f"docs/images/{name}" in README
