"""Reading spec files and resolving ``import "…"``, confined to allowed roots.

An import path is resolved relative to the importing file; when it is not found
there, in the library roots (the shipped ``specs/`` directory, and block
libraries that plugins register). ``"pkg:path"`` names a plugin's library
directly. Every resolved file must lie inside the top-level spec's directory
tree or a library root, after symlinks are resolved: a spec can never read
``/etc/passwd`` or ``../../secrets``. Only regular files are read (never a FIFO or
a device, which could block or never end), and at most the size limit of each.
Import cycles are reported with the chain; the limits of :mod:`netdsl.limits`
bound the size of each file, of all files together, and the number and depth of
imports.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

from netdsl.errors import Diagnostic, Span, did_you_mean
from netdsl.limits import Guard, LimitExceeded, Limits, current, how_to_raise
from netdsl.syntax import tree as S
from netdsl.syntax.parser import parse_text

_LIBRARIES: dict[str, Path] = {}
# (display name, text digest, syntax depth limit) → parse. Bounded by the text it holds, since a
# parse tree takes a few hundred times its text's size: a long-lived process must not grow forever.
_PARSE_CACHE: dict[tuple[str, bytes, int, int], S.Module | Diagnostic] = {}
_CACHE_BYTES = 1 << 20
_cached_bytes = 0


@cache
def shipped_specs() -> Path:
    """The ``specs/`` library shipped with netdsl (inside the package or the source checkout), resolved.

    Cached: the package does not move while it runs, and every import resolves against it.
    """
    here = Path(__file__).resolve().parent
    inside = here / "specs"
    return (inside if inside.is_dir() else here.parent / "specs").resolve()


def register_library(name: str, root: Path) -> None:
    """Let specs import ``"name:file.net"`` from ``root`` (used by plugins)."""
    _LIBRARIES[name] = Path(root).resolve()


def library_roots() -> dict[str, Path]:
    """Library name → directory: ``netdsl`` (the shipped specs) and those plugins registered."""
    return {"netdsl": shipped_specs(), **_LIBRARIES}


@dataclass
class Loaded:
    """The result of loading a spec and everything it imports."""

    root: S.Module | None
    modules: list[S.Module] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def _read_bytes(path: Path, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of a regular file (OSError otherwise).

    Opened without blocking and without following a final symlink, then checked with
    ``fstat``: a FIFO or device put where a spec was expected is refused, not read forever.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(0, "not a regular file")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 16, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _not_utf8(
    name: str, data: bytes, err: UnicodeDecodeError, sources: dict[str, str], span: Span | None
) -> Diagnostic:
    """E212 naming the first byte that is not UTF-8: its line, column and value, and what it may be.

    The caret is under that byte; for an imported file the error stays at the ``import`` (where the
    importing spec can be fixed) and its message names the byte's place in the imported file.
    """
    before = data[: err.start].decode("utf-8-sig")  # valid up to there
    line = before.count("\n") + 1
    col = len(before) - (before.rfind("\n") + 1) + 1
    byte = data[err.start]
    guess = bytes([byte]).decode("cp1252", errors="replace")
    maybe = f" (in Latin-1/Windows-1252 it would be `{guess}`)" if guess.isprintable() and guess != "\ufffd" else ""
    where = f"{name}:{line}:{col}" if span is not None else f"line {line}, column {col}"
    what = f"byte 0x{byte:02x} at {where} is not valid UTF-8{maybe}"
    if span is None:
        sources[name] = data.decode("utf-8-sig", errors="replace")  # the echoed line shows `�` at the caret
        span = Span(name, line, col, line, col + 1)
    return Diagnostic(
        "E212", f"{name} is not UTF-8 text: {what}", span, hint="save the file as UTF-8 (netdsl reads specs as UTF-8)"
    )


def read_spec(
    path: Path,
    sources: dict[str, str],
    span: Span | None = None,
    limits: Limits | None = None,
    remaining: int | None = None,
    given: bytes | None = None,
) -> S.Module | Diagnostic:
    """Read and parse one file (parses are cached on the file's name and content).

    ``remaining``: bytes left of the budget for the spec and all its imports (checked before parsing).
    ``given``: the file's content as an editor holds it (unsaved), read instead of the disk's.
    """
    global _cached_bytes
    limits = limits or current()
    name = display_name(path)
    limit = limits.max_file_bytes if remaining is None else min(limits.max_file_bytes, remaining)
    try:
        data = _read_bytes(path, limit) if given is None else given
        if len(data) > limits.max_file_bytes:
            size = path.stat().st_size if given is None else len(given)
            return Diagnostic(
                "E211",
                f"{name} is {max(size, len(data)):,} bytes; the limit is {limits.max_file_bytes:,} per file",
                span,
                hint=how_to_raise("max_file_bytes"),
            )
        if len(data) > limit:
            msg = f"with {name}, the spec and its imports hold more than {limits.max_total_bytes:,} bytes"
            return Diagnostic("E215", msg, span, hint=how_to_raise("max_total_bytes"))
        text = data.decode("utf-8-sig")  # a BOM (Windows editors) is not part of the spec
    except UnicodeDecodeError as err:
        return _not_utf8(name, data, err, sources, span)
    except OSError as err:
        return Diagnostic("E201", f"cannot read {name}: {err.strerror or err}", span)
    sources[name] = text
    # Keyed on the content, not the mtime: an edit within one mtime tick must not return a stale parse.
    # The bytes themselves are the key (a spec is small and the cache is bounded by bytes):
    # no digest to compute, and no hashlib to import on the dry-run path.
    key = (name, data, limits.max_syntax_depth, limits.max_nodes)
    cached = _PARSE_CACHE.get(key)
    if cached is None:
        cached = parse_text(text, name, limits.max_syntax_depth, limits.max_nodes)
        if len(data) <= _CACHE_BYTES // 8:  # only spec-sized files; a huge one is parsed once anyway
            if _cached_bytes + len(data) > _CACHE_BYTES:
                _PARSE_CACHE.clear()
                _cached_bytes = 0
            _PARSE_CACHE[key] = cached
            _cached_bytes += len(data)
    return cached


def display_name(path: Path) -> str:
    """How diagnostics name a file: relative to the working directory when below it."""
    return _display_name(str(path), os.getcwd())


@lru_cache(maxsize=256)  # a check names each file several times; the answer depends on the cwd too
def _display_name(path: str, cwd: str) -> str:
    try:
        rel = os.path.relpath(path, cwd)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == r or path.is_relative_to(r) for r in roots)


def _resolve(imp: S.Import, importer: Path, roots: list[Path]) -> Path | Diagnostic:
    """The file an import names, or why it cannot be used.

    Confinement is checked before existence: ``import "../../etc/x.net"`` is refused
    as outside the allowed roots whether or not that file exists, so the answer
    never reveals what lies outside the tree.
    """
    text = imp.path
    if "\0" in text:
        return Diagnostic("E201", "an import path cannot contain a NUL character", imp.span)
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
    not_file: Path | None = None
    for cand in candidates:
        try:
            real = cand.resolve()  # follows symlinks: a link inside the tree may not lead out of it
            if not _inside(real, allowed):
                escaped = escaped or real
                continue
            if real.is_file():
                return real
            if real.exists():
                not_file = not_file or real
        except (OSError, RuntimeError) as err:  # a symlink loop (RuntimeError before Python 3.13), a name too long
            why = "a symbolic link loop" if isinstance(err, RuntimeError) else (err.strerror or str(err))
            return Diagnostic("E201", f"import `{_short(text)}` cannot be resolved: {why}", imp.span)
    if escaped is not None:
        msg = f"import `{_short(text)}` leads to {display_name(escaped)}, outside the allowed roots"
        hint = "imports must stay inside the spec's directory tree or a block library"
        return Diagnostic("E202", msg, imp.span, hint=hint)
    if not_file is not None:
        what = "a directory" if not_file.is_dir() else "not a regular file"
        return Diagnostic("E201", f"import `{_short(text)}` is {what}: {display_name(not_file)}", imp.span)
    where = f"looked in {display_name(importer.parent) or '.'} and the shipped library {display_name(shipped_specs())}"
    return Diagnostic("E201", f"import `{_short(text)}` not found", imp.span, hint=where)


def _short(text: str, keep: int = 80) -> str:
    """A path as messages quote it: a 4,000-character name is cut, not printed whole."""
    return text if len(text) <= keep else f"{text[: keep // 2]}…{text[-keep // 2 :]}"


def load(path: str | Path, guard: Guard | None = None, text: str | None = None) -> Loaded:
    """Parse ``path`` and, depth first, every file it imports, within the limits of ``guard``.

    ``text``: the spec's own text, used instead of reading ``path`` (a notebook cell, an editor's
    unsaved buffer); ``path`` then names it in messages and anchors its relative imports, and
    need not exist.
    """
    guard = guard or Guard()
    out = Loaded(None)
    top = _top_file(path, text, out)
    if top is None:
        return out
    reader = _Reader(guard, out, [top.parent], top, text)
    try:
        out.root = reader.visit(top, (), None)
    except _Stop:
        pass  # one error for a runaway import graph; the other imports' errors would only repeat it
    except LimitExceeded as err:
        out.diagnostics.append(err.diagnostic)
    return out


def _top_file(path: str | Path, text: str | None, out: Loaded) -> Path | None:
    """The spec's resolved path, or None (with E201 recorded) when it cannot be read."""
    try:
        top = Path(path)
        top_real = top.resolve()
        if text is None and not top_real.is_file():
            what = "a directory" if top_real.is_dir() else "not a regular file" if top_real.exists() else "no such file"
            out.diagnostics.append(Diagnostic("E201", f"cannot read spec {_short(str(top))}: {what}"))
            return None
    except (OSError, RuntimeError, ValueError) as err:  # a loop of links, a NUL in the name, a name too long
        why = "a symbolic link loop" if isinstance(err, RuntimeError) else getattr(err, "strerror", None) or err
        out.diagnostics.append(Diagnostic("E201", f"cannot read spec {_short(str(path))}: {why}"))
        return None
    return top_real


class _Reader:
    """Reads a spec and, depth first, the files it imports, within the guard's limits."""

    def __init__(self, guard: Guard, out: Loaded, roots: list[Path], top: Path, text: str | None) -> None:
        self.guard, self.limits, self.out, self.roots = guard, guard.limits, out, roots
        self.top, self.text = top, text
        self.seen: set[Path] = set()
        self.total = 0  # bytes read so far, against max_total_bytes

    def visit(self, file: Path, stack: tuple[Path, ...], span: Span | None) -> S.Module | None:
        out, limits = self.out, self.limits
        self.guard.tick(span, "reading")
        given = self.text.encode("utf-8") if self.text is not None and file == self.top else None
        mod = read_spec(file, out.sources, span, limits, limits.max_total_bytes - self.total, given)
        self.total += len(out.sources.get(display_name(file), "").encode("utf-8"))
        if isinstance(mod, Diagnostic):
            out.diagnostics.append(mod)
            if mod.code == "E215":  # the whole budget is spent: reading on would only repeat it
                raise _Stop()
            return None
        self.seen.add(file)
        out.modules.append(mod)
        for imp in mod.imports:
            target = self._target(imp, file, stack)
            if target is not None:
                self.visit(target, (*stack, file), imp.span)
        return mod

    def _target(self, imp: S.Import, file: Path, stack: tuple[Path, ...]) -> Path | None:
        """The file an import names, if it is still to be read (errors recorded; _Stop past a limit)."""
        limits, diags = self.limits, self.out.diagnostics
        target = _resolve(imp, file, self.roots)
        if isinstance(target, Diagnostic):
            diags.append(target)
            return None
        if target in stack or target == file:
            cycle = " → ".join(p.name for p in (*stack, file, target))
            hint = "files cannot import each other: move the shared blocks into a file both import"
            diags.append(Diagnostic("E203", f"import cycle: {cycle}", imp.span, hint=hint))
            return None
        if target in self.seen:
            return None
        if len(self.seen) > limits.max_imports:  # `seen` holds the spec itself too
            msg = f"more than {limits.max_imports:,} imported files"
            diags.append(Diagnostic("E213", msg, imp.span, hint=how_to_raise("max_imports")))
            raise _Stop()
        if len(stack) + 1 > limits.max_import_depth:
            chain = " → ".join(p.name for p in (*stack[:3], file, target))
            msg = f"imports nest more than {limits.max_import_depth} files deep ({chain} …)"
            diags.append(Diagnostic("E214", msg, imp.span, hint=how_to_raise("max_import_depth")))
            raise _Stop()
        return target


class _Stop(Exception):
    """A limit of the import graph was reached: stop reading files."""
