"""Reading spec files and resolving ``import "…"``, confined to allowed roots.

An import path is resolved relative to the importing file; when it is not found
there, in the library roots (the shipped ``specs/`` directory, and block
libraries that plugins register). ``"pkg:path"`` names a plugin's library
directly. Every resolved file must lie inside the top-level spec's directory
tree or a library root, after symlinks are resolved: a spec can never read
``/etc/passwd`` or ``../../secrets``. Import cycles are reported with the chain.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from netdsl import syntax as S
from netdsl.errors import Diagnostic, Span, did_you_mean
from netdsl.parse import parse_text

MAX_FILE_BYTES = 1 << 20  # 1 MiB: far beyond any real spec, small enough to never exhaust memory
MAX_IMPORTS = 256

_LIBRARIES: dict[str, Path] = {}
_PARSE_CACHE: dict[tuple[str, str], S.Module | Diagnostic] = {}  # (display name, text digest) → parse


def shipped_specs() -> Path:
    """The ``specs/`` library shipped with netdsl (inside the package or the source checkout)."""
    here = Path(__file__).resolve().parent
    inside = here / "specs"
    return inside if inside.is_dir() else here.parent / "specs"


def register_library(name: str, root: Path) -> None:
    """Let specs import ``"name:file.net"`` from ``root`` (used by plugins)."""
    _LIBRARIES[name] = Path(root).resolve()


def library_roots() -> dict[str, Path]:
    """Library name → directory: ``netdsl`` (the shipped specs) and those plugins registered."""
    return {"netdsl": shipped_specs().resolve(), **_LIBRARIES}


@dataclass
class Loaded:
    """The result of loading a spec and everything it imports."""

    root: S.Module | None
    modules: list[S.Module] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def _max_file_bytes() -> int:
    try:
        return int(os.environ.get("NETDSL_MAX_FILE_BYTES", "") or MAX_FILE_BYTES)
    except ValueError:
        return MAX_FILE_BYTES


def read_spec(path: Path, sources: dict[str, str], span: Span | None = None) -> S.Module | Diagnostic:
    """Read and parse one file (parses are cached on the file's name and content)."""
    name = display_name(path)
    try:
        st = path.stat()
        limit = _max_file_bytes()
        if st.st_size > limit:
            return Diagnostic(
                "E211",
                f"{name} is {st.st_size} bytes; the limit is {limit}",
                span,
                hint="set NETDSL_MAX_FILE_BYTES to raise it",
            )
        text = path.read_text(encoding="utf-8-sig")  # a BOM (Windows editors) is not part of the spec
    except UnicodeDecodeError:
        return Diagnostic("E212", f"{name} is not UTF-8 text", span)
    except OSError as err:
        return Diagnostic("E201", f"cannot read {name}: {err.strerror or err}", span)
    sources[name] = text
    # Keyed on the content, not the mtime: an edit within one mtime tick must not return a stale parse.
    key = (name, hashlib.sha1(text.encode("utf-8")).hexdigest())
    cached = _PARSE_CACHE.get(key)
    if cached is None:
        cached = parse_text(text, name)
        if len(_PARSE_CACHE) >= 512:  # a long-lived process (tests, an editor plugin) must not grow forever
            _PARSE_CACHE.clear()
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
    """The file an import names, or why it cannot be used.

    Confinement is checked before existence: ``import "../../etc/x.net"`` is refused
    as outside the allowed roots whether or not that file exists, so the answer
    never reveals what lies outside the tree.
    """
    text = imp.path
    libs = library_roots()
    allowed = roots + list(libs.values())
    if ":" in text and not os.path.isabs(text):
        lib, _, rel = text.partition(":")
        if lib not in libs:
            hint = did_you_mean(lib, libs) or "libraries: " + ", ".join(sorted(libs)) + " (plugins add more)"
            return Diagnostic("E201", f"no block library named `{lib}`", imp.span, hint=hint)
        candidates = [libs[lib] / rel]
    elif os.path.isabs(text):
        candidates = [Path(text)]
    else:
        candidates = [importer.parent / text, shipped_specs() / text]
    escaped: Path | None = None
    for cand in candidates:
        real = cand.resolve()  # follows symlinks: a link inside the tree may not lead out of it
        if not _inside(real, allowed):
            escaped = escaped or real
            continue
        if real.is_file():
            return real
    if escaped is not None:
        msg = f"import `{text}` leads to {display_name(escaped)}, outside the allowed roots"
        hint = "imports must stay inside the spec's directory tree or a block library"
        return Diagnostic("E202", msg, imp.span, hint=hint)
    where = f"looked in {display_name(importer.parent) or '.'} and the shipped library {display_name(shipped_specs())}"
    return Diagnostic("E201", f"import `{text}` not found", imp.span, hint=where)


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
                hint = "files cannot import each other: move the shared blocks into a file both import"
                out.diagnostics.append(Diagnostic("E203", f"import cycle: {cycle}", imp.span, hint=hint))
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
