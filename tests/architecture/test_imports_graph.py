"""The package's shape: folders by pass, no import cycles (deferred imports counted), sizes in bounds."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "netdsl"


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path, name: str, known: set[str]) -> set[str]:
    """Every netdsl module ``path`` imports, at its top or inside functions, resolved to a module.

    ``from netdsl.a import b`` is an edge to ``netdsl.a.b`` when that is a module, else to ``netdsl.a``.
    The implicit import of a parent package is not an edge (Python runs it first, whatever the code says).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in known:
                    found.add(sub)
                elif base in known:
                    found.add(base)
    found.discard(name)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(path, name, known) for name, path in mods.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(edges.get(n, ())):
            if state.get(m) == 1:
                return [*stack[stack.index(m) :], m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(edges):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_a_cycle_through_a_deferred_import() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_deferred_imports() -> None:
    edges = graph()
    # parse_text imports Lark's path inside the function (only syntax errors need it): still an edge.
    assert "netdsl.syntax.lark_parse" in edges["netdsl.syntax.parser"]
    assert "netdsl.layers.registry" in edges["netdsl.layers.conv"]


def test_no_import_cycles_in_the_package() -> None:
    cycle = find_cycle(graph())
    assert cycle is None, " → ".join(cycle or [])


@pytest.mark.parametrize("folder", ["syntax", "lower", "shapes", "backends", "cli", "layers"])
def test_each_pass_is_a_folder_with_a_documented_entry_point(folder: str) -> None:
    init = PACKAGE / folder / "__init__.py"
    assert init.is_file()
    assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))


FRONT_END = ("netdsl.syntax", "netdsl.lower", "netdsl.shapes", "netdsl.layers", "netdsl.pipeline", "netdsl.cli.check")


def test_only_back_ends_import_torch() -> None:
    offenders = []
    for name, path in modules().items():
        if not name.startswith(FRONT_END) or name == "netdsl.layers.modules":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:  # module level: deferred imports in builders are how layers stay torch-free
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if any(n.split(".")[0] in ("torch", "torchvision", "graphviz") for n in names):
                    offenders.append(name)
    assert offenders == []


def test_front_end_passes_do_not_import_back_ends() -> None:
    edges = graph()
    bad = [
        (a, b)
        for a, targets in edges.items()
        if a.startswith(FRONT_END)
        for b in targets
        if b.startswith("netdsl.backends")
    ]
    assert bad == []


def test_modules_and_functions_stay_small() -> None:
    """About 400 lines a module and 60 a function (a little slack: the limits are guides, not walls)."""
    big = []
    for name, path in modules().items():
        src = path.read_text(encoding="utf-8")
        if len(src.splitlines()) > 420:
            big.append(f"{name}: {len(src.splitlines())} lines")
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 66:
                    big.append(f"{name}.{node.name}: {length} lines")
    assert big == []
