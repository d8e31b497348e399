"""The language server: pygls over stdio, one analysis worker, answers from the last snapshot.

Every open, change and save marks the document dirty; one worker thread analyses
the newest text with :func:`netdsl.pipeline.analyze` (the check the CLI runs, on the
unsaved buffer), publishes its diagnostics, then builds the indexes that hovers
read. Edits that arrive while an analysis runs are coalesced: when it ends, the
worker analyses only the latest text (this is the debounce, with no fixed delay).
Requests never analyse: they answer from the newest snapshot that parsed, so a
half-typed line does not lose hover, completion or navigation.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lsprotocol import types as T
from pygls.lsp.server import LanguageServer

from netdsl import __version__
from netdsl.lsp import convert, navigate
from netdsl.lsp.complete import complete
from netdsl.lsp.convert import Lines, to_lsp, uri_to_path
from netdsl.lsp.hover import hover_text
from netdsl.lsp.index import Item
from netdsl.lsp.snapshot import Snapshot, analyse

log = logging.getLogger("netdsl.lsp")

#: Seconds between GIL hand-offs: short, so requests are answered while the worker analyses.
SWITCH_INTERVAL = 0.0005
#: Seconds without any analysis after which the whole heap is garbage-collected (see `_collect`).
FULL_COLLECT_IDLE = 2.0
#: Analyses in a row without a pause after which the collector runs anyway.
MAX_UNCOLLECTED = 16


@dataclass
class Document:
    """What the server keeps per open document."""

    uri: str
    path: Path
    dirty: bool = False
    running: bool = False
    latest: Snapshot | None = None  # the newest analysis
    good: Snapshot | None = None  # the newest analysis whose text parsed
    ready: Snapshot | None = None  # the newest good one whose indexes are built

    def waiting(self) -> bool:
        """Whether an edit is waiting to be analysed (the worker's optional work then stops)."""
        return self.dirty


class NetdslServer(LanguageServer):
    """pygls's server plus the per-document state and the analysis worker."""

    def __init__(self) -> None:
        super().__init__("netdsl", __version__, text_document_sync_kind=T.TextDocumentSyncKind.Incremental)
        self.documents: dict[str, Document] = {}
        self.worker = ThreadPoolExecutor(1, thread_name_prefix="netdsl-analysis")
        self.uncollected = 0  # analyses since the last collection
        self.full_timer: asyncio.TimerHandle | None = None
        self.loop: asyncio.AbstractEventLoop | None = None  # the running loop, once an analysis started
        self.tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------- analysis
    def schedule(self, uri: str) -> None:
        """Mark a document dirty; start the worker on it unless it is already busy with it."""
        doc = self.documents.get(uri)
        if doc is None:
            doc = self.documents[uri] = Document(uri, uri_to_path(uri))
        doc.dirty = True
        if not doc.running:
            doc.running = True
            task = asyncio.get_running_loop().create_task(self._analyse(doc))
            self.tasks.add(task)  # the loop holds tasks weakly
            task.add_done_callback(self.tasks.discard)

    async def _analyse(self, doc: Document) -> None:
        loop = self.loop = asyncio.get_running_loop()
        try:
            while doc.dirty and doc.uri in self.documents:
                doc.dirty = False
                text_doc = self.workspace.get_text_document(doc.uri)
                text, version = text_doc.source, text_doc.version or 0
                try:
                    snap, diags = await loop.run_in_executor(self.worker, _run, doc.path, text, version)
                except Exception as err:  # a netdsl bug: say so, keep serving
                    log.exception("analysis failed")
                    self.window_log_message(T.LogMessageParams(T.MessageType.Error, f"netdsl: internal error: {err}"))
                    continue
                self.text_document_publish_diagnostics(T.PublishDiagnosticsParams(doc.uri, diags, version))
                doc.latest = snap
                await loop.run_in_executor(self.worker, snap.load_syntax)
                if snap.parsed:
                    doc.good = snap
                    if not doc.dirty:
                        await loop.run_in_executor(self.worker, snap.prepare)
                        doc.ready = snap
                    if not doc.dirty:
                        await loop.run_in_executor(self.worker, snap.trace_values, doc.waiting)
                self.uncollected += 1
                if not doc.dirty or self.uncollected >= MAX_UNCOLLECTED:  # idle, or typing without a pause
                    await loop.run_in_executor(self.worker, self._collect)
        finally:
            doc.running = False

    def _collect(self) -> None:
        """The young generations' garbage collection, after an analysis (:func:`serve` turns automatic collection off).

        An analysis of a big net allocates hundreds of thousands of objects. Collected
        automatically, they were traversed in the middle of the next analysis, delaying its
        diagnostics (the pipeline pauses the collector only inside ``analyze``). The whole
        heap, which takes longer, is collected once the server has been idle for
        :data:`FULL_COLLECT_IDLE` seconds (:meth:`_collect_all`), so the cycles the passes
        leave are still freed.
        """
        gc.collect(1)
        self.uncollected = 0
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self._collect_all_later)

    def _collect_all_later(self) -> None:
        if self.full_timer is not None:
            self.full_timer.cancel()
        self.full_timer = asyncio.get_running_loop().call_later(FULL_COLLECT_IDLE, self._collect_all)

    def _collect_all(self) -> None:
        self.full_timer = None
        if any(doc.running for doc in self.documents.values()):
            self._collect_all_later()
        else:
            self.worker.submit(gc.collect)

    def snapshot(self, uri: str) -> Snapshot | None:
        """The snapshot requests answer from: the newest that parsed, or an older one whose indexes are ready."""
        doc = self.documents.get(uri)
        if doc is None:
            return None
        if doc.good is not None and doc.good is not doc.ready and doc.ready is not None and doc.running:
            return doc.ready  # the newest is still being indexed by the worker: do not wait for it
        return doc.good

    def item_at(self, uri: str, pos: T.Position) -> tuple[Snapshot, Item] | None:
        """The syntax item under an LSP position, with the snapshot it comes from."""
        snap = self.snapshot(uri)
        index = snap.index() if snap is not None else None
        if snap is None or index is None:
            return None
        line, col = snap.lines().offset_position(pos)
        item = index.at(line, col)
        return (snap, item) if item is not None else None


def _run(path: Path, text: str, version: int) -> tuple[Snapshot, list[T.Diagnostic]]:
    """The worker's job: analyse, and convert the diagnostics (off the event loop)."""
    start = time.perf_counter()
    snap = analyse(path, text, version, syntax=False)
    log.info("analysed %s v%d in %.1f ms", path.name, version, (time.perf_counter() - start) * 1000)
    sources = snap.analysis.sources
    others = {name: Lines(src) for name, src in sources.items() if name != snap.name and not src.isascii()}
    lines = snap.lines()
    return snap, [to_lsp(d, snap.name, lines, others) for d in snap.analysis.diagnostics]


server = NetdslServer()


@server.feature(T.INITIALIZED)
def initialized(ls: NetdslServer, params: T.InitializedParams) -> None:
    encoding = ls.workspace.position_encoding
    convert.ENCODING = str(getattr(encoding, "value", encoding) or "utf-16")


@server.feature(T.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: NetdslServer, params: T.DidOpenTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri)


@server.feature(T.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: NetdslServer, params: T.DidChangeTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri)


@server.feature(T.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: NetdslServer, params: T.DidSaveTextDocumentParams) -> None:
    # Every open document: the saved file may be one they import (imports are read from disk).
    for uri in [params.text_document.uri, *(u for u in ls.documents if u != params.text_document.uri)]:
        ls.schedule(uri)


@server.feature(T.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: NetdslServer, params: T.DidCloseTextDocumentParams) -> None:
    ls.documents.pop(params.text_document.uri, None)
    ls.text_document_publish_diagnostics(T.PublishDiagnosticsParams(params.text_document.uri, []))


@server.feature(T.TEXT_DOCUMENT_HOVER)
def hover(ls: NetdslServer, params: T.HoverParams) -> T.Hover | None:
    found = ls.item_at(params.text_document.uri, params.position)
    if found is None:
        return None
    snap, item = found
    text = hover_text(snap, item)
    if text is None:
        return None
    return T.Hover(T.MarkupContent(T.MarkupKind.Markdown, text), snap.lines().range(item.span))


@server.feature(T.TEXT_DOCUMENT_COMPLETION, T.CompletionOptions(trigger_characters=["@", "(", ","]))
def completion(ls: NetdslServer, params: T.CompletionParams) -> T.CompletionList:
    doc = ls.workspace.get_text_document(params.text_document.uri)
    offset = doc.offset_at_position(params.position)
    items = complete(doc.source, offset, ls.snapshot(params.text_document.uri))
    return T.CompletionList(is_incomplete=False, items=items)


@server.feature(T.TEXT_DOCUMENT_DEFINITION)
def definition(ls: NetdslServer, params: T.DefinitionParams) -> list[T.Location]:
    found = ls.item_at(params.text_document.uri, params.position)
    return navigate.definition(*found) if found is not None else []


@server.feature(T.TEXT_DOCUMENT_REFERENCES)
def references(ls: NetdslServer, params: T.ReferenceParams) -> list[T.Location]:
    found = ls.item_at(params.text_document.uri, params.position)
    if found is None:
        return []
    return navigate.references(*found, params.context.include_declaration)


@server.feature(T.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def document_symbol(ls: NetdslServer, params: T.DocumentSymbolParams) -> list[T.DocumentSymbol]:
    snap = ls.snapshot(params.text_document.uri)
    if snap is None:
        return []
    if snap.symbols is None:  # editors ask after every change (outline, breadcrumbs): once per version
        snap.symbols = navigate.symbols(snap, snap.lines())
    return snap.symbols


@server.feature(T.TEXT_DOCUMENT_FORMATTING)
def formatting(ls: NetdslServer, params: T.DocumentFormattingParams) -> list[T.TextEdit]:
    doc = ls.workspace.get_text_document(params.text_document.uri)
    try:
        from netdsl.formatter import FormatError, format_text
    except ImportError:
        ls.window_log_message(T.LogMessageParams(T.MessageType.Warning, "netdsl: the formatter is not installed"))
        return []
    text = doc.source
    try:
        new = format_text(text)
    except FormatError as err:
        ls.window_show_message(T.ShowMessageParams(T.MessageType.Warning, f"netdsl: cannot format: {err}"))
        return []
    if new == text:
        return []
    lines = Lines(text)
    last = len(lines.lines) - 1
    end = T.Position(last, lines.to_units(last, len(lines.line(last))))
    return [T.TextEdit(T.Range(T.Position(0, 0), end), new)]


def serve() -> None:
    """Run the server on stdin and stdout until the client says ``exit``."""
    sys.setswitchinterval(SWITCH_INTERVAL)
    gc.disable()  # collected when idle: NetdslServer._collect
    server.start_io()
