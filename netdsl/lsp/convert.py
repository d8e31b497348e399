"""Between netdsl and the protocol: URIs and paths, spans and ranges, diagnostics.

netdsl spans are 1-based, count characters and name files as diagnostics do (relative
to the working directory when below it); LSP positions are 0-based and count code
units of the negotiated encoding (UTF-16 unless the client offers another). Lines
that are pure ASCII, which is nearly all of them, need no conversion.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

from lsprotocol import types as T

from netdsl.errors import Diagnostic, Span

SOURCE = "netdsl"
#: The position encoding the client and server agreed on (set by the server after ``initialize``).
ENCODING = "utf-16"


def uri_to_path(uri: str) -> Path:
    """The file a ``file://`` URI names (other schemes: the URI's path, which never exists on disk)."""
    parsed = urlparse(uri)
    return Path(unquote(parsed.path)).resolve() if parsed.scheme in ("file", "") else Path(unquote(parsed.path))


def path_to_uri(path: str | Path) -> str:
    """A ``file://`` URI for a path (relative paths are taken from the working directory)."""
    return "file://" + quote(str(Path(os.getcwd(), path).resolve()))


def span_path(span: Span) -> Path:
    """The file a span's (display) name designates."""
    return Path(os.getcwd(), span.file).resolve()


class Lines:
    """A text's lines, to convert between character columns and the client's code units."""

    def __init__(self, text: str, encoding: str | None = None):
        self.lines: Sequence[str] = text.split("\n")
        self.encoding = encoding or ENCODING

    def line(self, n: int) -> str:
        return self.lines[n] if 0 <= n < len(self.lines) else ""

    def to_units(self, line: int, chars: int) -> int:
        """Characters → code units on 0-based ``line``."""
        text = self.line(line)
        if self.encoding == "utf-32" or text.isascii():
            return chars
        head = text[:chars]
        if self.encoding == "utf-8":
            return len(head.encode("utf-8"))
        return chars + sum(1 for c in head if ord(c) > 0xFFFF)

    def to_chars(self, line: int, units: int) -> int:
        """Code units → characters on 0-based ``line`` (the inverse of :meth:`to_units`)."""
        text = self.line(line)
        if self.encoding == "utf-32" or text.isascii():
            return units
        seen = 0
        for i, c in enumerate(text):
            if seen >= units:
                return i
            seen += len(c.encode("utf-8")) if self.encoding == "utf-8" else (2 if ord(c) > 0xFFFF else 1)
        return len(text)

    def position(self, line: int, col: int) -> T.Position:
        """A 1-based (line, character column) as an LSP position."""
        ln = max(0, line - 1)
        return T.Position(ln, self.to_units(ln, max(0, col - 1)))

    def range(self, span: Span | None) -> T.Range:
        """A span as a range (an unlocated diagnostic sits at the start of the file)."""
        if span is None or span.line < 1:
            return T.Range(T.Position(0, 0), T.Position(0, 0))
        start = self.position(span.line, span.col)
        if span.end_line < span.line or (span.end_line == span.line and span.end_col <= span.col):
            return T.Range(start, T.Position(start.line, start.character + 1))
        return T.Range(start, self.position(span.end_line, span.end_col))

    def offset_position(self, pos: T.Position) -> tuple[int, int]:
        """An LSP position as a 1-based (line, character column), as spans count."""
        return pos.line + 1, self.to_chars(pos.line, pos.character) + 1


def message(d: Diagnostic) -> str:
    """The diagnostic's text as ``netdsl check`` prints it, without the location and the caret."""
    layer = f" (layer `{d.layer}`)" if d.layer else ""
    out = [f"{d.message}{layer}"]
    out += [f"note: {n}" for n in d.notes]
    if d.hint:
        out.append(f"hint: {d.hint}")
    return "\n".join(out)


def to_lsp(d: Diagnostic, here: str, lines: Lines, others: Mapping[str, Lines] | None = None) -> T.Diagnostic:
    """One netdsl diagnostic as an LSP diagnostic of the document whose display name is ``here``.

    A diagnostic located in another file (an import) is shown at the top of this document,
    its text prefixed with its location and its real place given as related information.
    The block-use chain becomes related information too, innermost use first.
    """
    others = others or {}
    related: list[T.DiagnosticRelatedInformation] = []
    text = message(d)
    where = d.span
    if d.span is not None and d.span.file != here:
        other = others.get(d.span.file, Lines(""))
        related.append(_related(d.span, other, "the error is here"))
        text = f"{d.span}: {text}"
        where = None
    for frame in reversed(d.chain):
        frame_lines = lines if frame.span.file == here else others.get(frame.span.file, Lines(""))
        related.append(_related(frame.span, frame_lines, frame.describe()))
    return T.Diagnostic(
        range=lines.range(where),
        message=text,
        severity=_severity(d),
        code=d.code,
        source=SOURCE,
        related_information=related or None,
    )


def _severity(d: Diagnostic) -> T.DiagnosticSeverity:
    if d.code == "E206" and d.span is None:  # "defines no `net`": in an editor, a library file; not an error
        return T.DiagnosticSeverity.Information
    return T.DiagnosticSeverity.Error if d.is_error else T.DiagnosticSeverity.Warning


def _related(span: Span, lines: Lines, text: str) -> T.DiagnosticRelatedInformation:
    return T.DiagnosticRelatedInformation(T.Location(path_to_uri(span_path(span)), lines.range(span)), text)


def location(span: Span, lines: Lines | None = None) -> T.Location:
    """A span as a location (``lines``: the file's text, when it has characters beyond ASCII)."""
    return T.Location(path_to_uri(span_path(span)), (lines or Lines("")).range(span))
