"""``netdsl fmt``: rewriting, --check, --diff, directories, standard input, and files that do not parse."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from netdsl.cli import main
from netdsl.formatter import format_text

ROOT = Path(__file__).resolve().parents[2]
UGLY = "net X{input(3,8,8)\nconv2d(4,3);relu}\n"
PRETTY = "net X {\n    input(3, 8, 8)\n    conv2d(4, 3); relu\n}\n"
BROKEN = "net X {\n  conv2d(4, 3\n  relu\n}\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_rewrites_files_in_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ugly, pretty = write(tmp_path / "a.net", UGLY), write(tmp_path / "b.net", PRETTY)
    assert main(["fmt", str(ugly), str(pretty)]) == 0
    assert ugly.read_text() == PRETTY == pretty.read_text()
    err = capsys.readouterr().err
    assert f"reformatted {ugly}" in err and str(pretty) not in err
    assert "1 file(s) reformatted, 1 already formatted" in err
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_check_prints_a_diff_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ugly = write(tmp_path / "a.net", UGLY)
    assert main(["fmt", "--check", str(ugly)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"--- {ugly} (original)\n+++ {ugly} (formatted)\n@@")
    assert "-conv2d(4,3);relu}\n" in out and "+    conv2d(4, 3); relu\n" in out
    assert ugly.read_text() == UGLY
    write(ugly, PRETTY)
    assert main(["fmt", "--check", str(ugly)]) == 0
    assert capsys.readouterr().out == ""


def test_diff_writes_nothing_and_succeeds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ugly = write(tmp_path / "a.net", UGLY.rstrip("\n"))
    assert main(["fmt", "--diff", str(ugly)]) == 0
    out = capsys.readouterr().out
    assert "+    conv2d(4, 3); relu\n" in out and "\\ No newline at end of file\n" in out
    assert ugly.read_text() == UGLY.rstrip("\n")


def test_directories_are_searched_for_specs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    specs = [write(tmp_path / "d" / "a.net", UGLY), write(tmp_path / "d" / "sub" / "b.net", UGLY)]
    other = [write(tmp_path / "d" / "notes.txt", UGLY), write(tmp_path / "d" / ".hidden" / "c.net", UGLY)]
    assert main(["fmt", str(tmp_path / "d"), str(specs[0])]) == 0  # a file named twice is formatted once
    assert [p.read_text() for p in specs] == [PRETTY, PRETTY]
    assert [p.read_text() for p in other] == [UGLY, UGLY]
    assert "2 file(s) reformatted, 0 already formatted" in capsys.readouterr().err


def test_a_file_that_does_not_parse_is_left_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken, ugly = write(tmp_path / "broken.net", BROKEN), write(tmp_path / "ugly.net", UGLY)
    binary = tmp_path / "binary.net"
    binary.write_bytes(b"net X { \xff }\n")
    assert main(["fmt", str(broken), str(binary), str(ugly), str(tmp_path / "missing.net")]) == 1
    err = capsys.readouterr().err
    assert f"{broken}:2:14: error[E002]:" in err and "^" in err and "Traceback" not in err
    assert f"{binary}: error: not UTF-8 text" in err
    assert f"{tmp_path / 'missing.net'}: error: No such file or directory" in err
    assert broken.read_text() == BROKEN and binary.read_bytes() == b"net X { \xff }\n"
    assert ugly.read_text() == PRETTY  # the others are still formatted


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_a_symbolic_link_stays_a_link(tmp_path: Path) -> None:
    target = write(tmp_path / "real.net", UGLY)
    link = tmp_path / "link.net"
    link.symlink_to(target)
    assert main(["fmt", str(link)]) == 0
    assert link.is_symlink() and target.read_text() == PRETTY


def test_standard_input_and_the_ci_command() -> None:
    """Through the console entry point, as CI runs it: the shipped specs are in canonical form."""
    run = [sys.executable, "-m", "netdsl", "fmt"]
    piped = subprocess.run([*run, "-"], input=UGLY, capture_output=True, text=True, timeout=60)
    assert (piped.returncode, piped.stdout) == (0, PRETTY)
    ci = subprocess.run([*run, "--check", "specs/", "examples/"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (ci.returncode, ci.stdout) == (0, ""), ci.stdout + ci.stderr
    assert "0 file(s) would be reformatted" in ci.stderr
    assert format_text(PRETTY) == PRETTY


def test_permissions_are_kept(tmp_path: Path) -> None:
    spec = write(tmp_path / "a.net", UGLY)
    spec.chmod(0o600)
    assert main(["fmt", str(spec)]) == 0
    assert spec.read_text() == PRETTY and (spec.stat().st_mode & 0o777) == 0o600
