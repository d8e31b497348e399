"""Source spans, diagnostics and their rendering.

Every user-facing problem in netdsl is a :class:`Diagnostic`: a code, a message,
the place in the user's file (file, line, column, with the source line and a
caret), the chain of block instantiations that led there, and an optional hint.
Passes collect diagnostics instead of raising, so one run reports every error in
a file; :class:`NetdslError` carries a batch of them out of the public API.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Span:
    """A region of a source file (1-based lines and columns, end exclusive)."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True, slots=True)
class Frame:
    """One step of a block-instantiation chain: block `block` used as `instance` at `span`."""

    block: str
    instance: str
    span: Span

    def describe(self) -> str:
        from os.path import basename

        where = f"{basename(self.span.file)}:{self.span.line}:{self.span.col}"
        if not self.instance:
            return f"in block {self.block}, inlined at {where}"
        return f"in block {self.block}, used as {show_name(self.instance)} at {where}"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One error or warning about a spec, located in the user's source."""

    code: str
    message: str
    span: Span | None = None
    severity: Severity = "error"
    layer: str | None = None
    chain: tuple[Frame, ...] = ()
    hint: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view (used by ``--format json`` outputs)."""
        s = self.span
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "file": s.file if s else None,
            "line": s.line if s else None,
            "column": s.col if s else None,
            "layer": self.layer,
            "chain": [f.describe() for f in self.chain],
            "hint": self.hint,
        }


class NetdslError(Exception):
    """Raised by the public API when a spec has errors; carries every diagnostic."""

    def __init__(self, diagnostics: Iterable[Diagnostic], sources: Mapping[str, str] | None = None):
        self.diagnostics = tuple(diagnostics)
        self.sources = dict(sources or {})
        super().__init__(format_diagnostics(self.diagnostics, self.sources, color=False))


class Abort(Exception):
    """Internal: stop a pass after a fatal diagnostic (already recorded)."""


def printable(text: str) -> str:
    """``text`` with every character a terminal would act on shown as an escape instead.

    Control bytes (NUL, ESC, BEL …), format characters (bidi overrides, zero-width marks) and
    other non-printing characters become ``\\x1b``, ``\\u202e``: a spec (or a file name) cannot clear
    the screen, retitle the terminal or reorder what is shown. Newlines are kept.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == "\n" else _escape(c) for c in text)


def _escape(c: str) -> str:
    o = ord(c)
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}"


def _float_like(name: str) -> str | None:
    """``module 3, child 5`` for a module name such as ``3.5``, which reads like a float; else None."""
    head, dot, tail = name.partition(".")
    return f"module {head}, child {tail}" if dot and head.isdigit() and tail.isdigit() else None


def show_name(name: str) -> str:
    """A module name as diagnostics and tables show it: ``3.5 (module 3, child 5)``, never a bare float."""
    spelled = _float_like(name)
    return f"{name} ({spelled})" if spelled else name


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A hint naming the closest candidate to a misspelt word, if any is close."""
    from difflib import get_close_matches  # only on the error path (difflib is slow to import)

    match = get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"did you mean `{match[0]}`?" if match else None


@lru_cache(maxsize=8)
def _lines(text: str) -> list[str]:
    # Split once per source, not once per diagnostic: 20,000 errors in a big file stay linear.
    return text.splitlines()


#: Columns of a source line a diagnostic shows; a longer line is cut to a window around the caret.
MAX_SHOWN = 100


def _caret_block(span: Span, text: str) -> list[str]:
    lines = _lines(text)
    if not 1 <= span.line <= len(lines):
        return []
    raw = lines[span.line - 1].expandtabs(1)
    col = span.col - 1  # 0-based start of the caret
    width = span.end_col - span.col if span.end_line == span.line else len(raw) - col
    width = max(1, min(width, max(1, len(raw) - col)))
    src = printable(raw)
    if src is not raw:  # escapes are wider than the bytes they stand for: the caret follows the text
        col, width = len(printable(raw[:col])), len(printable(raw[col : col + width]))
    if len(src) > MAX_SHOWN:  # a generated or minified spec: show the place, not 5,000 columns
        start = max(0, min(col - MAX_SHOWN // 3, len(src) - MAX_SHOWN))
        end = start + MAX_SHOWN
        head, tail = ("…" if start else ""), ("…" if end < len(src) else "")
        width = max(1, min(width, end - col))
        src, col = head + src[start:end] + tail, col - start + len(head)
    gutter = f"{span.line:>4} | "
    return [gutter + src, " " * (len(gutter) + col) + "^" * width]


def format_diagnostic(d: Diagnostic, sources: Mapping[str, str], color: bool = False) -> str:
    """Render one diagnostic the way compilers do: location, message, source line, caret."""
    red, yellow, bold, reset = ("\033[31m", "\033[33m", "\033[1m", "\033[0m") if color else ("",) * 4
    sev = (red if d.is_error else yellow) + d.severity + reset
    where = f"{printable(str(d.span))}: " if d.span else ""
    spelled = _float_like(d.layer) if d.layer else None
    layer = f" (layer `{d.layer}`{', ' + spelled if spelled else ''})" if d.layer else ""
    out = [f"{bold}{where}{reset}{sev}[{d.code}]: {printable(d.message)}{layer}"]
    if d.span and d.span.file in sources:
        out += _caret_block(d.span, sources[d.span.file])
    for frame in reversed(d.chain):
        out.append(f"  {printable(frame.describe())}")
    out += [f"  note: {printable(n)}" for n in d.notes]
    if d.hint:
        out.append(f"  hint: {printable(d.hint)}")
    return "\n".join(out)


def format_diagnostics(diags: Iterable[Diagnostic], sources: Mapping[str, str], color: bool = False) -> str:
    return "\n\n".join(format_diagnostic(d, sources, color) for d in diags)
