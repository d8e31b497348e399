"""A spec is untrusted input: it reads only inside its roots, runs no code, and no output is ever half-written.

The basic confinement cases (``..`` escapes, absolute paths, a symlinked file,
library prefixes) are in ``test_imports.py``; here are the harder ones: links
to directories and in the middle of a path, names with NUL bytes or odd
characters, directories, FIFOs and devices where a file was expected, loops of
links, huge fan-out. Then: no code path evaluates or imports anything a spec
names, and every output is written atomically even when the process is killed.
"""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from netdsl.cli import main
from netdsl.layers.plugins import loaded_plugins, unload
from netdsl.pipeline import Analysis, analyze

ROOT = Path(__file__).resolve().parent.parent
NETDSL_SRC = ROOT / "netdsl"
NET = "net Main {{\n    input(3, 8, 8)\n    {body}\n}}\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def errors(a: Analysis) -> list[tuple[str, int]]:
    return [(d.code, d.span.line if d.span else 0) for d in a.errors]


def importing(tmp_path: Path, target: str, body: str = "relu", name: str = "main.net") -> Analysis:
    return analyze(write(tmp_path / "spec" / name, f'import "{target}"\n' + NET.format(body=body)))


# ---------------------------------------------------------------------------- confinement of imports

needs_links = pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """spec/ (the allowed root) with blocks in spec/lib/, a secret outside it, and links of every kind."""
    write(tmp_path / "spec" / "lib" / "blocks.net", "block Inside { relu }\n")
    write(tmp_path / "secret" / "blocks.net", "block Secret { tanh }\n")
    write(tmp_path / "x.net", "block Secret { tanh }\n")
    if hasattr(os, "symlink"):
        (tmp_path / "spec" / "linked_in").symlink_to(tmp_path / "spec" / "lib", target_is_directory=True)
        (tmp_path / "spec" / "linked_out").symlink_to(tmp_path / "secret", target_is_directory=True)
        (tmp_path / "spec" / "lib" / "up").symlink_to(tmp_path, target_is_directory=True)
    return tmp_path


@needs_links
def test_a_linked_directory_inside_the_tree_is_followed(tree: Path) -> None:
    assert importing(tree, "linked_in/blocks.net", "Inside").ok


@needs_links
@pytest.mark.parametrize(
    "target",
    [
        "linked_out/blocks.net",  # a link to a directory outside
        "lib/up/secret/blocks.net",  # a link in the middle of the path, leading out
        "lib/up/spec/../x.net",  # `..` applies to where the link leads, not to the text
        "linked_out/../x.net",
        "lib/../../x.net",  # plain `..` climbing out, the file exists
        "lib/../../secret/blocks.net",
    ],
)
def test_links_and_dots_leading_out_are_refused(tree: Path, target: str) -> None:
    a = importing(tree, target, "Secret")
    assert errors(a) == [("E202", 1)], target
    assert "outside the allowed roots" in a.errors[0].message
    assert not any("secret" in f or f.endswith("x.net") for f in a.sources)  # never read


@needs_links
def test_a_link_back_into_the_tree_is_allowed(tree: Path) -> None:
    assert importing(tree, "lib/up/spec/lib/blocks.net", "Inside").ok  # out and back in: where it leads counts


def test_imports_between_files_of_the_tree(tmp_path: Path) -> None:
    write(tmp_path / "spec" / "shared.net", "block Shared { relu }\n")
    write(tmp_path / "spec" / "sub" / "deeper.net", 'import "../shared.net"\nblock Deeper { Shared }\n')
    assert importing(tmp_path, "sub/deeper.net", "Deeper").ok
    write(tmp_path / "spec" / "sub" / "bad.net", 'import "../../x.net"\nblock Bad { relu }\n')
    write(tmp_path / "x.net", "block X { relu }\n")
    a = importing(tmp_path, "sub/bad.net", "Bad", name="other.net")
    assert [e.code for e in a.errors] == ["E202"] and a.errors[0].span.file.endswith("bad.net")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("target", "said"),
    [
        ("a\0b.net", "NUL"),
        ("~/x.net", "not found"),  # no home expansion
        ("$HOME/x.net", "not found"),  # no variables
        ("%s%s%s.net", "not found"),
        ("..\\..\\x.net", "not found"),  # a backslash is a character of the name here
        ("\u202e\u0000.net", "NUL"),
        ("" + "a/" * 3000 + "x.net", "File name too long"),
        ("a" * 3000 + ".net", "File name too long"),
        (" ", "not found"),
        ("", "directory"),  # the spec's own directory
        (".", "directory"),
    ],
    ids=str.split("nul tilde variable percent backslash bidi-nul long-path long-name space empty dot"),
)
def test_odd_import_names_are_diagnostics(tmp_path: Path, target: str, said: str) -> None:
    a = importing(tmp_path, target)
    assert [e.code for e in a.errors] == ["E201"], target
    assert said in a.errors[0].message and len(a.errors[0].message) < 300


def test_a_directory_named_like_a_spec(tmp_path: Path) -> None:
    (tmp_path / "spec" / "blocks.net").mkdir(parents=True)
    a = importing(tmp_path, "blocks.net")
    assert errors(a) == [("E201", 1)] and "is a directory" in a.errors[0].message
    a = analyze(tmp_path / "spec" / "blocks.net")
    assert [e.code for e in a.errors] == ["E201"] and "directory" in a.errors[0].message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifos_and_devices_are_never_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.net")  # reading it would block forever: no writer ever comes
    (tmp_path / "spec").mkdir()
    os.mkfifo(tmp_path / "spec" / "pipe.net")
    results: list[Analysis] = []

    def run() -> None:
        results.append(importing(tmp_path, "pipe.net"))
        results.append(analyze(tmp_path / "pipe.net"))
        results.append(importing(tmp_path, "/dev/zero"))
        results.append(importing(tmp_path, "/dev/stdin", name="stdin.net"))
        results.append(analyze("/dev/zero"))

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), "reading a FIFO or a device blocked"
    fifo_import, fifo_spec, zero, stdin, zero_spec = results
    assert errors(fifo_import) == [("E201", 1)] and "not a regular file" in fifo_import.errors[0].message
    assert [e.code for e in fifo_spec.errors] == ["E201"] and "not a regular file" in fifo_spec.errors[0].message
    assert errors(zero) == [("E202", 1)] and errors(stdin) == [("E202", 1)]  # outside the roots
    assert [e.code for e in zero_spec.errors] == ["E201"]


@needs_links
def test_link_loops_and_links_to_devices(tmp_path: Path) -> None:
    (tmp_path / "spec").mkdir()
    (tmp_path / "spec" / "a.net").symlink_to(tmp_path / "spec" / "b.net")
    (tmp_path / "spec" / "b.net").symlink_to(tmp_path / "spec" / "a.net")
    (tmp_path / "spec" / "zero.net").symlink_to("/dev/zero")
    a = importing(tmp_path, "a.net")
    assert errors(a) == [("E201", 1)] and "loop" in a.errors[0].message
    assert [e.code for e in analyze(tmp_path / "spec" / "a.net").errors] == ["E201"]
    assert errors(importing(tmp_path, "zero.net", name="z.net")) == [("E202", 1)]


def test_huge_import_fan_out(tmp_path: Path) -> None:
    for n in range(300):
        write(tmp_path / "spec" / "many" / f"b{n}.net", f"block B{n} {{ relu }}\n")
    imports = "".join(f'import "many/b{n}.net"\n' for n in range(300))
    main_ = write(tmp_path / "spec" / "main.net", imports + NET.format(body="B0; B255"))
    t = time.monotonic()
    a = analyze(main_)
    assert time.monotonic() - t < 30
    assert errors(a) == [("E213", 257)] and "more than 256 imported files" in a.errors[0].message  # one error
    imports = "".join(f'import "many/b{n}.net"\n' for n in [*range(256), 0, 1])  # duplicates are read once
    assert analyze(write(tmp_path / "spec" / "fits.net", imports + NET.format(body="B0; B255"))).ok


# ---------------------------------------------------------------------------- no code runs


_FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "breakpoint"}
_FORBIDDEN_ATTRS = {
    ("pickle", "load"), ("pickle", "loads"), ("marshal", "loads"), ("marshal", "load"), ("os", "system"),
    ("os", "popen"), ("subprocess", "run"), ("subprocess", "Popen"), ("subprocess", "call"),
    ("subprocess", "check_output"), ("builtins", "eval"), ("builtins", "exec"), ("runpy", "run_path"),
}  # fmt: skip


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)]


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "?"


def _weights_only(call: ast.Call) -> bool:
    """``torch.load(..., weights_only=True)``: torch's restricted unpickler (tensors and containers only)."""
    return any(
        k.arg == "weights_only" and isinstance(k.value, ast.Constant) and k.value.value is True for k in call.keywords
    )


def unsafe_calls(source: str, rel: str) -> list[str]:
    """Calls that run code, unpickle or import by a computed name (``import_module`` only in plugins.py)."""
    tree = ast.parse(source)
    found = []
    for call in _calls(tree):
        name = _dotted(call.func)
        parts = tuple(name.split("."))
        constants = {a.value for a in call.args if isinstance(a, ast.Constant)}
        if (
            (isinstance(call.func, ast.Name) and call.func.id in _FORBIDDEN_CALLS)
            or parts[-2:] in _FORBIDDEN_ATTRS
            or (parts[-1] == "import_module" and rel != "netdsl/layers/plugins.py")
            or (parts[0] == "torch" and parts[-1] == "load" and not _weights_only(call))  # unpickling
            or (name == "getattr" and constants & _FORBIDDEN_CALLS)  # getattr(builtins, "eval")
        ):
            found.append(f"{rel}:{call.lineno}: {name}(")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
            if any(n and n.split(".")[0] in ("pickle", "marshal", "subprocess", "runpy") for n in names):
                found.append(f"{rel}:{node.lineno}: import {', '.join(filter(None, names))}")
    return found


def direct_writes(source: str, rel: str) -> list[str]:
    """File writes outside a ``save_atomic(out, lambda tmp: …)`` writer."""
    tree = ast.parse(source)
    inside_writer = {id(n) for c in _calls(tree) if _dotted(c.func) == "save_atomic" for n in ast.walk(c)}
    found = []
    for call in _calls(tree):
        name = _dotted(call.func)
        opens_for_writing = name in ("open", "io.open", "os.open") and any(
            (isinstance(a, ast.Constant) and isinstance(a.value, str) and set(a.value) & set("wax+"))
            or any(f in ast.unparse(a) for f in ("O_WRONLY", "O_RDWR", "O_CREAT"))
            for a in [*call.args[1:2], *(k.value for k in call.keywords if k.arg in ("mode", "flags"))]
        )
        writing = name.split(".")[-1] in ("write_text", "write_bytes", "save", "dump", "write", "symlink_to")
        console = name in ("sys.stdout.write", "sys.stderr.write")
        if (writing or opens_for_writing) and not console and id(call) not in inside_writer:
            found.append(f"{rel}:{call.lineno}: {name}(")
    return found


def test_the_scanners_see_what_they_look_for() -> None:
    bad = "import importlib, pickle\neval('1')\nimportlib.import_module(x)\ngetattr(builtins, 'exec')\ntorch.load(p)\n"
    assert len(unsafe_calls(bad, "netdsl/x.py")) == 5
    assert unsafe_calls("importlib.import_module(x)\nmodel.eval()\n", "netdsl/layers/plugins.py") == []
    unsafe = "torch.load(p, weights_only=False)\ntorch.load(p, weights_only=flag)\n"
    assert len(unsafe_calls(unsafe, "netdsl/x.py")) == 2
    assert unsafe_calls("torch.load(p, map_location='cpu', weights_only=True)\n", "netdsl/x.py") == []
    bad = "Path(p).write_text(s)\nopen(p, 'wb')\ntorch.save(m, p)\nos.open(p, os.O_WRONLY)\n"
    assert len(direct_writes(bad, "netdsl/x.py")) == 4
    good = "save_atomic(out, lambda tmp: torch.save(s, tmp))\nopen(p)\nsys.stderr.write(m)\n"
    assert direct_writes(good, "netdsl/x.py") == []


def test_no_module_of_netdsl_evaluates_or_imports_what_a_spec_names() -> None:
    modules = sorted(NETDSL_SRC.rglob("*.py"))
    assert len(modules) > 30
    found = [f for p in modules for f in unsafe_calls(p.read_text(encoding="utf-8"), p.relative_to(ROOT).as_posix())]
    assert not found, "\n".join(found)
    plugins = ast.parse((NETDSL_SRC / "layers" / "plugins.py").read_text(encoding="utf-8"))
    assert sum(_dotted(c.func) == "importlib.import_module" for c in _calls(plugins)) == 1  # the one place


def test_every_output_goes_through_atomic() -> None:
    """Only atomic.py writes files; other modules hand it a writer (``save_atomic(out, lambda tmp: …)``)."""
    modules = [p for p in sorted(NETDSL_SRC.rglob("*.py")) if p.name != "atomic.py" or p.parent != NETDSL_SRC]
    found = [f for p in modules for f in direct_writes(p.read_text(encoding="utf-8"), p.relative_to(ROOT).as_posix())]
    assert not found, "\n".join(found)
    for test in sorted(set((ROOT / "tests").glob("test_*.py")) - {Path(__file__)}):  # golden updates too
        for node in ast.walk(ast.parse(test.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.If):
                continue
            flags = {getattr(n, "id", None) for n in ast.walk(node.test)} | {
                getattr(n, "value", None) for n in ast.walk(node.test)
            }
            if "UPDATE" in flags or "NETDSL_UPDATE_GOLDEN" in flags:
                body = ast.unparse(ast.Module(body=node.body, type_ignores=[]))
                assert ".write_text(" not in body and ".write_bytes(" not in body, f"{test.name}: {body}"


@pytest.fixture
def probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An importable module that leaves a mark when imported; nothing may ever import it."""
    marker = tmp_path / "IMPORTED"
    write(tmp_path / "pylib" / "netdsl_probe_q7.py", f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path / "pylib"))
    monkeypatch.delenv("NETDSL_PLUGINS", raising=False)
    return marker


def test_a_spec_naming_modules_imports_none(tmp_path: Path, probe: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (
        'requires "netdsl_probe_q7", "os"\n'
        'import "netdsl_probe_q7"\nimport "netdsl_probe_q7:x.net"\nimport "netdsl_probe_q7.py"\n'
        "block B { netdsl_probe_q7 }\n"
        "net Main(m=netdsl_probe_q7) {\n    input(3, 8, 8)\n    netdsl_probe_q7\n    os\n"
        "    netdsl_probe_q7: relu\n    B\n    conv2d(__import__, 3)\n    eval(1)\n}\n"
    )
    spec = write(tmp_path / "spec" / "main.net", text)
    a = analyze(spec)
    assert a.errors and {e.code for e in a.errors} <= {"E150", "E201", "E101", "E110", "E114"}
    assert "E150" in {e.code for e in a.errors}  # `requires` is checked, never imported
    assert main(["check", str(spec)]) == 1
    assert main(["check", str(spec), "--set", "m=__import__('netdsl_probe_q7')"]) == 1  # --set is never eval'd
    assert "Traceback" not in capsys.readouterr().err
    assert not probe.exists() and "netdsl_probe_q7" not in sys.modules
    # Only naming it on purpose loads it: the control that the probe works.
    assert main(["layers", "--plugin", "netdsl_probe_q7"]) == 0 and probe.exists()
    for plugin in loaded_plugins():
        if plugin.target == "netdsl_probe_q7":
            unload(plugin)
    sys.modules.pop("netdsl_probe_q7", None)


# ---------------------------------------------------------------------------- nothing lost


LENET = str(ROOT / "specs" / "lenet5.net")


def _half_then_fail(real: object) -> object:
    def write(self: Path, data: str | bytes, *args: object, **kwargs: object) -> int:
        real(self, data[: len(data) // 2], *args, **kwargs)  # type: ignore[operator]
        raise OSError(28, "No space left on device")

    return write


@pytest.mark.parametrize(("command", "writer"), [("shapes", "write_text"), ("render", "write_bytes")])
def test_a_write_failing_midway_keeps_the_previous_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str, writer: str
) -> None:
    out = tmp_path / "out" / ("table.txt" if command == "shapes" else "net.dot")
    write(out, "previous output\n")
    assert main([command, LENET, "-o", str(out)]) == 0  # works, and replaces it
    good = out.read_bytes()
    assert good != b"previous output\n"
    write(out, "previous output\n")
    monkeypatch.setattr(Path, writer, _half_then_fail(getattr(Path, writer)))
    assert main([command, LENET, "-o", str(out)]) == 1
    assert out.read_text(encoding="utf-8") == "previous output\n"
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary file left behind
    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err


_SLOW_WRITER = """
import pathlib, sys, time
def slow(self, data, *args, **kwargs):
    with open(self, "w", encoding="utf-8") as f:
        f.write(data[: len(data) // 2]); f.flush()
        print("HALF", flush=True)
        time.sleep(60)
        f.write(data[len(data) // 2 :])
    return len(data)
pathlib.Path.write_text = slow
from netdsl.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGKILL, -9)])
def test_killed_midway_through_writing(tmp_path: Path, sig: signal.Signals, code: int) -> None:
    out = write(tmp_path / "out" / "table.txt", "previous output\n")
    env = {**os.environ, "NETDSL_DISABLE_PLUGIN_AUTOLOAD": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_WRITER, "shapes", LENET, "-o", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "HALF"
        partial = [p for p in out.parent.iterdir() if p != out]
        assert len(partial) == 1 and partial[0].name.startswith(".table.txt.")  # the half-written temporary
        proc.send_signal(sig)
        assert proc.wait(30) == code
    finally:
        proc.kill()
        proc.wait()
    assert out.read_text(encoding="utf-8") == "previous output\n"  # the previous output is whole
    left = sorted(p.name for p in out.parent.iterdir())
    if sig == signal.SIGKILL:  # nothing runs after SIGKILL: its temporary stays, hidden, beside the output
        assert left[1:] == ["table.txt"] and left[0].startswith(".table.txt.")
    else:
        assert left == ["table.txt"]
        assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")
