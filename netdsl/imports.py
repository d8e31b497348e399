"""Reading spec files and resolving ``import "…"``, confined to allowed roots.

An import path is resolved relative to the importing file; when it is not found
there, in the library roots (the shipped ``specs/`` directory, and block
libraries that plugins register). ``"pkg:path"`` names a plugin's library
directly. Every resolved file must lie inside the top-level spec's directory
tree or a library root, after symlinks are resolved: a spec can never read
``/etc/passwd`` or ``../../secrets``. Import cycles are reported with the chain.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from netdsl import syntax as S
from netdsl.errors import Diagnostic, Span
from netdsl.parse import parse_text

MAX_FILE_BYTES = 1 << 20  # 1 MiB: far beyond any real spec, small enough to never exhaust memory
MAX_IMPORTS = 256

_LIBRARIES: dict[str, Path] = {}
_PARSE_CACHE: dict[tuple[str, int, int], S.Module | Diagnostic] = {}


def shipped_specs() -> Path:
    """The ``specs/`` library shipped with netdsl (inside the package or the source checkout)."""
    here = Path(__file__).resolve().parent
    inside = here / "specs"
    return inside if inside.is_dir() else here.parent / "specs"


def register_library(name: str, root: Path) -> None:
    """Let specs import ``"name:file.net"`` from ``root`` (used by plugins)."""
    _LIBRARIES[name] = Path(root).resolve()


def library_roots() -> dict[str, Path]:
    return {"netdsl": shipped_specs().resolve(), **_LIBRARIES}


@dataclass
class Loaded:
    """The result of loading a spec and everything it imports."""

    root: S.Module | None
    modules: list[S.Module] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def read_spec(path: Path, sources: dict[str, str], span: Span | None = None) -> S.Module | Diagnostic:
    """Read and parse one file (cached on path, size and mtime)."""
    name = display_name(path)
    try:
        st = path.stat()
        if st.st_size > MAX_FILE_BYTES:
            return Diagnostic("E211", f"{name} is {st.st_size} bytes; the limit is {MAX_FILE_BYTES}", span,
                              hint="set NETDSL_MAX_FILE_BYTES to raise it")
        key = (name, st.st_size, st.st_mtime_ns)
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return Diagnostic("E212", f"{name} is not UTF-8 text", span)
    except OSError as err:
        return Diagnostic("E201", f"cannot read {name}: {err.strerror or err}", span)
    sources[name] = text
    cached = _PARSE_CACHE.get(key)
    if cached is None:
        cached = parse_text(text, name)
        _PARSE_CACHE[key] = cached
    return cached


def display_name(path: Path) -> str:
    """How diagnostics name a file: relative to the working directory when below it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == r or path.is_relative_to(r) for r in roots)


def _resolve(imp: S.Import, importer: Path, roots: list[Path]) -> Path | Diagnostic:
    text = imp.path
    libs = library_roots()
    if ":" in text and not os.path.isabs(text):
        lib, _, rel = text.partition(":")
        if lib not in libs:
            return Diagnostic("E201", f"no block library named `{lib}`", imp.span,
                              hint="libraries: " + ", ".join(sorted(libs)) + " (plugins add more)")
        candidates = [libs[lib] / rel]
    elif os.path.isabs(text):
        candidates = [Path(text)]
    else:
        candidates = [importer.parent / text, shipped_specs() / text]
    for cand in candidates:
        real = cand.resolve()
        if real.is_file():
            if not _inside(real, roots + list(libs.values())):
                return Diagnostic("E202", f"import `{text}` resolves to {real}, outside the allowed roots",
                                  imp.span, hint="imports must stay inside the spec's directory tree or a library")
            return real
    return Diagnostic("E201", f"import `{text}` not found", imp.span,
                      hint=f"looked in {importer.parent} and the shipped library {shipped_specs()}")


def load(path: str | Path) -> Loaded:
    """Parse ``path`` and, depth first, every file it imports."""
    top = Path(path)
    out = Loaded(None)
    try:
        top_real = top.resolve()
    except OSError as err:
        out.diagnostics.append(Diagnostic("E201", f"cannot read {top}: {err}"))
        return out
    if not top_real.is_file():
        out.diagnostics.append(Diagnostic("E201", f"no such spec file: {top}"))
        return out
    roots = [top_real.parent]
    seen: set[Path] = set()

    def visit(file: Path, stack: tuple[Path, ...], span: Span | None) -> S.Module | None:
        mod = read_spec(file, out.sources, span)
        if isinstance(mod, Diagnostic):
            out.diagnostics.append(mod)
            return None
        seen.add(file)
        out.modules.append(mod)
        for imp in mod.imports:
            target = _resolve(imp, file, roots)
            if isinstance(target, Diagnostic):
                out.diagnostics.append(target)
                continue
            if target in stack or target == file:
                cycle = " → ".join(p.name for p in (*stack, file, target))
                out.diagnostics.append(Diagnostic("E203", f"import cycle: {cycle}", imp.span))
                continue
            if target in seen:
                continue
            if len(seen) >= MAX_IMPORTS:
                out.diagnostics.append(Diagnostic("E213", f"more than {MAX_IMPORTS} imported files", imp.span))
                return mod
            visit(target, (*stack, file), imp.span)
        return mod

    out.root = visit(top_real, (), None)
    return out
