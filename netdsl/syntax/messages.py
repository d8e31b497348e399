"""Turning Lark's parse errors into one friendly diagnostic.

An LALR parser knows exactly where it got stuck but not what the user meant.
Three heuristics bridge the gap:

* **labelled bad examples** (Lark's ``match_examples`` technique): the parser
  state a mistake leaves behind identifies the mistake better than the raw token
  does, so each label below lists small snippets that fail in the same state;
* **unclosed brackets**: when the parser hits the end of the file (or the next
  ``net``/``block``) inside a ``{``, the note names the ``{`` that is never
  closed, using indentation to find the likely culprit among nested ones;
* **swallowed newlines**: newlines inside ``( )`` are dropped, so a missing
  ``)`` surfaces on the next line; the caret goes back to where the ``)`` is
  missing instead.
"""

from __future__ import annotations

from functools import cache

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from netdsl.errors import Diagnostic, Span
from netdsl.syntax.hints import habits, look_alike, previous
from netdsl.syntax.lark_grammar import parser

_MISSING_RPAR = "missing `)` (or a `,` between arguments)"
_MISSING_RBRACE = "missing `}`: a block or group is not closed"
_TOP_LEVEL = "the top level holds only `import`, `requires`, `block` and `net`"
_ARGUMENTS = "arguments go in parentheses right after the name: `conv2d(64, 3)`, `dropout(0.5)`"
_EXAMPLES: dict[str, list[str]] = {
    _MISSING_RPAR: [
        "net A { conv2d(64, 3 relu }",
        "net A { conv2d(64 3) }",
        "net A { conv2d(64, (3, 3) }",
        "net A { conv2d(64, k=3 relu }",
        "net A { conv2d(64, k=3 s=2) }",
        "net A { conv2d(64, 3\n}",
        "net A { conv2d(64, 3 }",
        "net A { conv2d(64, k=3 }",
    ],
    _MISSING_RBRACE: [
        "net A { relu",
        "net A { relu\n",
        "net A { add { { relu } }",
        "block B(x) {",
        "block B(x) { relu\nnet A { relu }",
        "block B(x) { relu\nblock C(x) { relu }",
        'block B(x) { relu\nimport "x"',
    ],
    "two statements on one line: separate them with `;` or a newline": [
        "net A { relu relu }",
        "net A { conv2d(3) relu }",
        "net A { relu conv2d(3) }",
        "net A { x: relu relu }",
        "net A { add { relu; relu } relu }",
        "net A { B(1) -> x relu }",
        "net A { repeat 2 relu relu }",
        "net A { @x relu }",
        "net A { input(3) relu }",
    ],
    "`=` gives a keyword argument or a `let` its value; compare with `==`": [
        "net A { if a = 1 { relu } }",
        "net A { if a.b = 1 { relu } }",
        "net A { if a + 1 = 1 { relu } }",
        "net A { if a == 1 { relu } elif a = 2 { relu } }",
        "net A { let x = a = 1 }",
        "net A { conv2d(3, a = 1 = 2) }",
    ],
    "to define a value write `let name = expression`": ["net A { x = 3 }", "net A { width = 64 }"],
    "missing `=` after the name in `let`": ["net A { let x 3 }", "net A { let x }"],
    "keyword arguments are written `name=value`, not `name: value`": [
        "net A { conv2d(64, k: 3) }",
        "net A { conv2d(64, kernel_size: 3) }",
        "block B(x: 3) { relu }",
    ],
    "a statement cannot start here": ["net A { ) }", "net A { , }", "net A { = 3 }", "net A { ] }", "net A { . }"],
    "an expression is incomplete": [
        "net A { conv2d(64 + ) }",
        "net A { conv2d(3 * ) }",
        "net A { conv2d(k=) }",
        "net A { let x = }",
        "net A { let x = 3 + }",
        "net A { if { relu } }",
        "net A { if a and { relu } }",
    ],
    "`else` or `elif` without an `if` before it": ["net A { else { relu } }", "net A { elif a { relu } }"],
    "an `if` needs braces: `if condition { ... }`": [
        "net A { if a relu }",
        "net A { if a: relu }",
        "net A { if a == 1: relu }",
        "net A { if a { relu } else relu }",
    ],
    "`repeat` needs a count and then what to repeat: `repeat 3 Block(64)`": [
        "net A { repeat { relu } }",
        "net A { repeat 3 }",
        "net A { repeat 3\n relu }",
        "net A { repeat 3 as { relu } }",
    ],
    _TOP_LEVEL: [
        "relu",
        "conv2d(3)",
        "x = 3",
        "let x = 3",
        "input(3, 32, 32)",
        "net A { relu }\nrelu",
        "net A { relu } relu",
    ],
    "a `}` without a matching `{`": ["}", "net A { relu }\n}", "net A { relu } }"],
    "a `net` or `block` needs a name: `net ResNet(...) { ... }`": ["net { relu }", "block (x) { relu }", "net 3 {}"],
    "a definition's body goes in braces: `net Name(params) { ... }`": [
        "net A relu",
        "net A(x)\n relu",
        "net A(x): relu",
        "block B(x):\n relu",
        "net A(x) = 3",
    ],
    "parameters are names with optional defaults: `(planes, stride=1)`": [
        "net A(3) { relu }",
        "block B(x, 1) { relu }",
        "block B(x=) { relu }",
        "block B(x y) { relu }",
    ],
    "`import` and `requires` take a quoted path or name": ["import lib/resnet.net", "requires foo", "import resnet"],
    "a label needs something to name: `conv1: conv2d(64, 3)`": ["net A { x: }", "net A { x:\n relu }"],
    "what `repeat … as i` repeats goes on the same line: `repeat 3 as i Block(64)` or `repeat 3 as i { ... }`": [
        "net A { repeat 3 as i\n relu }",
        "net A { repeat n as i\n{ relu } }",
    ],
    _ARGUMENTS: [
        "net A { relu 2 }",
        "net A { conv2d 64 }",
        "net A { dropout 0.5 }",
        "net A { relu 'a' }",
        "net A { relu true }",
    ],
    "`->` captures the value under a name: `-> skip`": ["net A { relu -> }", "net A { relu -> 3 }"],
    "`@` continues from a captured value: `@skip`": ["net A { @ }", "net A { @3 }"],
}

# How expected terminals are shown when no label matches.
_NAMES = {"NAME": "a name", "INT": "a number", "FLOAT": "a number", "STRING": "a string", "_NL": "a newline",
          "$END": "end of file"}  # fmt: skip


@cache
def _terminal_text() -> dict[str, str]:
    out = {t.name: f"`{t.pattern.value}`" for t in parser().terminals if t.pattern.type == "str"}
    return {**out, **_NAMES}


@cache
def _example_states() -> tuple[tuple[int, str, frozenset[str], str], ...]:
    """(parser state, offending token type, accepted tokens, label) of every bad example."""
    out = []
    for label, examples in _EXAMPLES.items():
        for text in examples:
            try:
                parser().parse(text)
            except UnexpectedToken as err:
                out.append((err.state.position, err.token.type, frozenset(err.accepts or err.expected), label))
            except UnexpectedInput:
                continue
    return tuple(out)


def example_labels_that_parse() -> list[str]:
    """Bad examples that parse without error (a test keeps this empty as the grammar evolves)."""
    ok = []
    for examples in _EXAMPLES.values():
        for text in examples:
            try:
                parser().parse(text)
            except UnexpectedInput:
                continue
            ok.append(text)
    return ok


def _match(err: UnexpectedToken) -> tuple[str | None, bool]:
    """The label of a bad example that got stuck the same way, and whether its token type matched too.

    Same parser state first, then the same set of acceptable tokens (LALR splits one
    situation into several states, e.g. after ``f(1)`` and after ``f(1, 2)``); within
    each, an example with the same offending token type wins, else a label shared by
    every example there.
    """
    state, token = err.state.position, err.token.type
    accepts = frozenset(err.accepts or err.expected)
    table = _example_states()
    for group in (
        [(t, lab) for pos, t, acc, lab in table if pos == state and acc == accepts],
        [(t, lab) for _, t, acc, lab in table if acc == accepts],
    ):
        for tok, label in group:
            if tok == token:
                return label, True
        labels = {label for _, label in group}
        if len(labels) == 1:
            return labels.pop(), False
    return None, False


def _describe_expected(expected: set[str]) -> str:
    names = _terminal_text()
    shown = sorted({names.get(e, f"`{e.lower()}`") for e in expected})
    return ", ".join(shown[:8]) + (" …" if len(shown) > 8 else "")


def _tokens(text: str) -> list[Token]:
    """The token stream the parser saw (newlines inside brackets already dropped); partial on a lexing error."""
    out: list[Token] = []
    try:
        for tok in parser().lex(text):
            out.append(tok)
    except UnexpectedInput:
        pass
    return out


def _indent(lines: list[str], line: int | None) -> int:
    src = lines[line - 1] if line is not None and 1 <= line <= len(lines) else ""
    return len(src) - len(src.lstrip())


def _unclosed_brace(tokens: list[Token], before: int, lines: list[str]) -> Token | None:
    """The `{` left open at offset ``before``; among nested ones, the first whose `}` is out of line."""
    stack: list[Token] = []
    suspect: Token | None = None
    for tok in tokens:
        if (tok.start_pos or 0) >= before:
            break
        if tok.type == "LBRACE":
            stack.append(tok)
        elif tok.type == "RBRACE" and stack:
            opened = stack.pop()
            # A `}` indented less than its `{` line probably closes an outer block: this `{` lost its `}`.
            if suspect is None and opened.line != tok.line and _indent(lines, opened.line) > _indent(lines, tok.line):
                suspect = opened
    if not stack:
        return None
    return suspect or stack[-1]


def _token_text(tok: Token) -> str:
    if tok.type == "$END":
        return "end of file"
    if tok.type == "_NL":
        return "end of line"
    return f"`{tok}`"


_CHAR_HINTS = {
    "&": "write `and`",
    "|": "write `or`",
    "!": "write `not`, or `!=` for 'not equal'",
    "×": "write a pair as `(3, 3)`",
    "'": "close the string with `'` on the same line",
    '"': 'close the string with `"` on the same line',
}


def _unexpected_character(err: UnexpectedCharacters, text: str, file: str) -> Diagnostic:
    pos = err.pos_in_stream or 0
    ch = text[pos] if pos < len(text) else ""
    span = Span(file, err.line, err.column, err.line, err.column + 1)
    if ch and ch in "\"'":
        return Diagnostic("E001", f"unterminated string starting with {ch}", span, hint=_CHAR_HINTS[ch])
    hint = _CHAR_HINTS.get(ch) or "netdsl has no use for this character here"
    shown = repr(ch) if not ch.isprintable() else f"`{ch}`"
    if ch and not ch.isascii():
        import unicodedata  # only on the error path

        shown += f" (U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed character')})"
        hint = look_alike(text, pos) or hint
    return Diagnostic("E001", f"unexpected character {shown}", span, hint=hint)


def syntax_diagnostic(err: UnexpectedInput, text: str, file: str) -> Diagnostic:
    """One E001/E002 diagnostic for a Lark parse error, located and labelled for a human."""
    if isinstance(err, UnexpectedCharacters):
        return _unexpected_character(err, text, file)
    lines = text.splitlines() or [""]
    if isinstance(err, UnexpectedEOF) or not isinstance(err, UnexpectedToken):  # pragma: no cover - LALR raises tokens
        return Diagnostic("E002", "syntax error: unexpected end of file", Span(file, len(lines), 1, len(lines), 2))
    tok = err.token
    expected = set(err.accepts or err.expected)
    label, exact = _match(err)
    tokens = _tokens(text)
    at_end = tok.type == "$END"
    if at_end:
        line, col, width = len(lines), len(lines[-1]) + 1, 1
        pos = len(text)
    else:
        line, col = tok.line or 1, tok.column or 1
        width = 1 if tok.type == "_NL" else max(1, len(str(tok)))
        pos = tok.start_pos or 0
    notes: tuple[str, ...] = ()
    message = f"syntax error: unexpected {_token_text(tok)}"
    if at_end or _starts_definition(tokens, pos):
        brace = _unclosed_brace(tokens, pos, lines)
        if brace is not None:
            label = _MISSING_RBRACE
            notes = (f"the `{{` at {file}:{brace.line}:{brace.column} is never closed",)
    elif _is_keyword(tok) and "NAME" in expected and (not exact or label == _MISSING_RBRACE):
        label = f"`{tok}` is a reserved word and cannot be used as a name (reserved: {', '.join(_keywords())})"
    prev = previous(tokens, pos)
    if (
        prev is not None
        and not at_end
        and prev.type != "_NL"
        and (prev.end_line or 0) < line
        and expected & {"RPAR", "RSQB"}
    ):
        # The newline after `prev` was swallowed inside brackets: the `)` is missing at the end of that line.
        closer = "`)`" if "RPAR" in expected else "`]`"
        message = f"syntax error: expected {closer} at the end of the line, found {_token_text(tok)} on the next"
        line, col, width = prev.end_line or line, prev.end_column or col, 1
    better = habits(tok, prev, tokens, text, label == _TOP_LEVEL, notes)
    if better is not None:
        label, notes = better
    if label == _ARGUMENTS and prev is not None and prev.type == "NAME":
        notes = (*notes, f"here: `{prev}({tok})`")
    hint = label if label else (f"expected {_describe_expected(expected)}" if expected else None)
    return Diagnostic("E002", message, Span(file, line, col, line, col + width), hint=hint, notes=notes)


def _starts_definition(tokens: list[Token], pos: int) -> bool:
    """Whether the token at ``pos`` opens a top-level item: `net X(`, `block X {`, `import "…"`."""
    after = [t for t in tokens if (t.start_pos or 0) >= pos][:3]
    kinds = [t.type for t in after]
    if kinds[:1] in (["IMPORT"], ["REQUIRES"]):
        return kinds[1:2] == ["STRING"]
    return kinds[:1] in (["NET"], ["BLOCK"]) and kinds[1:2] == ["NAME"] and kinds[2:3] in (["LPAR"], ["LBRACE"])


@cache
def _keywords() -> tuple[str, ...]:
    """The reserved words: the grammar's alphabetic literal terminals (`net`, `in`, `repeat` …)."""
    words = (t.pattern.value for t in parser().terminals if t.pattern.type == "str")
    return tuple(sorted(w for w in words if w.isalpha()))


def _is_keyword(tok: Token) -> bool:
    return str(tok) in _keywords() and tok.type != "NAME"
