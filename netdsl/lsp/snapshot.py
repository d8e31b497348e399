"""One analysed version of a document: the analysis, the syntax trees, and indexes made on demand.

The server makes a :class:`Snapshot` per analysed edit (in a worker thread) and keeps
the last one whose text parsed, so navigation and completion keep working while the
user types a half-written line. The indexes (positions → syntax items, spans →
the shape pass's modules, names → values) are built on first use, under a lock,
and then shared by every request on this version.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lsprotocol.types import DocumentSymbol

from netdsl.errors import Span
from netdsl.imports import display_name
from netdsl.imports import load as load_files
from netdsl.lsp.convert import Lines
from netdsl.lsp.index import Index, build
from netdsl.pipeline import Analysis, analyze
from netdsl.shapes import NodeInfo
from netdsl.syntax import tree as S

SpanKey = tuple[str, int, int, int, int]


def key(span: Span) -> SpanKey:
    return (span.file, span.line, span.col, span.end_line, span.end_col)


@dataclass
class Snapshot:
    """A document's text at one version and everything netdsl learnt from it."""

    path: Path
    name: str  # the display name the spans use
    text: str
    version: int
    analysis: Analysis
    modules: dict[str, S.Module] = field(default_factory=dict)  # display name → syntax, imports included
    _indexes: dict[str, Index] = field(default_factory=dict, repr=False)
    _nodes: dict[SpanKey, list[NodeInfo]] | None = field(default=None, repr=False)
    _inline: dict[SpanKey, list[NodeInfo]] = field(default_factory=dict, repr=False)
    _values: dict[SpanKey, list[object]] | None = field(default=None, repr=False)
    _lines: dict[str, Lines] = field(default_factory=dict, repr=False)
    #: The document symbols, made once per version (editors ask after every change).
    symbols: list[DocumentSymbol] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def root(self) -> S.Module | None:
        """This document's syntax tree (None when it does not parse)."""
        return self.modules.get(self.name)

    @property
    def parsed(self) -> bool:
        return self.root is not None

    def index(self, file: str | None = None) -> Index | None:
        """The position index of this document, or of one of the files it imports."""
        file = file or self.name
        module = self.modules.get(file)
        if module is None:
            return None
        with self._lock:
            if file not in self._indexes:
                self._indexes[file] = build(module)
            return self._indexes[file]

    def load_syntax(self) -> None:
        """The syntax trees of this document and its imports (from the parse cache the analysis filled)."""
        self.modules = {m.file: m for m in load_files(self.path, text=self.text).modules}

    def lines(self, file: str | None = None) -> Lines:
        """The lines of this document or of a file it imports (for converting columns)."""
        file = file or self.name
        found = self._lines.get(file)
        if found is None:
            text = self.text if file == self.name else self.analysis.sources.get(file, "")
            found = self._lines[file] = Lines(text)
        return found

    def blocks(self) -> dict[str, S.BlockDef]:
        """Every block in scope: this file's first, then its imports' (first definition wins)."""
        out: dict[str, S.BlockDef] = {}
        for name in [self.name, *(n for n in self.modules if n != self.name)]:
            for b in self.modules[name].blocks:
                if not b.is_net:
                    out.setdefault(b.name, b)
        return out

    def nodes_at(self, span: Span) -> list[NodeInfo]:
        """The shape pass's modules made by the statement at ``span`` (one per instance)."""
        shapes = self.analysis.shapes
        if shapes is None:
            return []
        with self._lock:
            if self._nodes is None:
                table: dict[SpanKey, list[NodeInfo]] = defaultdict(list)
                inline: dict[SpanKey, list[NodeInfo]] = defaultdict(list)
                for info in shapes.nodes:
                    table[key(info.span)].append(info)
                    for frame in info.chain:
                        if not frame.instance:  # an `inline` use: its modules are named in the caller
                            inline[key(frame.span)].append(info)
                self._nodes, self._inline = dict(table), dict(inline)
            return self._nodes.get(key(span), [])

    def inlined_at(self, span: Span) -> list[NodeInfo]:
        """The modules an ``inline Block(...)`` statement at ``span`` put into its caller's scope."""
        self.nodes_at(span)
        return self._inline.get(key(span), [])

    def values_at(self, span: Span) -> list[object]:
        """The values a name took where it is written at ``span``, one per distinct value (a trace of lowering)."""
        with self._lock:
            if self._values is None:
                from netdsl.lsp.values import trace

                self._values = trace(self.path, self.text)
            return self._values.get(key(span), [])

    def prepare(self) -> None:
        """Build the indexes hovers need (by the worker after the diagnostics are out, off the request path)."""
        self.index()
        if self.analysis.shapes is not None:
            self.nodes_at(Span(self.name, 0, 0, 0, 0))

    def trace_values(self, stop: Callable[[], bool]) -> None:
        """Record the names' values (by the worker when idle), abandoned as soon as ``stop()`` says an edit waits."""
        from netdsl.lsp.values import Stopped, trace

        try:
            values = trace(self.path, self.text, stop)
        except Stopped:
            return
        with self._lock:
            if self._values is None:
                self._values = values


def analyse(path: Path, text: str, version: int, syntax: bool = True) -> Snapshot:
    """Analyse a buffer as the file at ``path`` (never raises for mistakes in the spec).

    ``syntax=False`` leaves the syntax trees for :meth:`Snapshot.load_syntax` (after the
    diagnostics are out: a file too big for the parse cache is parsed a second time).
    """
    snap = Snapshot(path, display_name(path), text, version, analyze(path, None, None, None, text=text))
    if syntax:
        snap.load_syntax()
    return snap
