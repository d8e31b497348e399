"""Hints for syntax errors where a habit misleads the labelled examples of :mod:`netdsl.syntax.messages`.

Python's ``for`` loop, a label without its colon, a `}` that closes the net early, and names spelt
with a look-alike letter (a Cyrillic ``с`` in ``сonv2d``): each gets a hint naming what to write.
Only imported on the error path.
"""

from __future__ import annotations

import re

from lark import Token

_LOOP = re.compile(r"\bfor\s+(\w+)\s+in\s+range\s*\(\s*([^()]*?)\s*\)")


def habits(
    tok: Token, prev: Token | None, tokens: list[Token], text: str, top_level: bool, notes: tuple[str, ...]
) -> tuple[str, tuple[str, ...]] | None:
    """A better (hint, notes) where a habit from Python, or an early `}`, misleads the labelled examples; or None."""
    if prev is not None and prev.type == "NAME" and tok.type == "NAME" and _starts_statement(tokens, prev):
        if str(prev) in ("for", "while"):
            loop = _LOOP.search(text, prev.start_pos or 0)
            count, var = (loop.group(2), loop.group(1)) if loop else ("N", str(tok))
            count = count if count and "," not in count else "N"  # `range(1, 4)`: i counts from 0 in netdsl
            return (
                f"netdsl has no `{prev}` loop: write `repeat {count} as {var} {{ ... }}` (`{var}` counts from 0)",
                notes,
            )
        if not _names_a_layer_or_block(str(prev), text) and _names_a_layer_or_block(str(tok), text):
            return f"a label is followed by a colon: `{prev}: {tok}(...)`", notes
    if top_level and (closer := _closing_brace(tokens, tok.start_pos or 0)) is not None:
        brace, opened = closer
        notes = (
            *notes,
            f"the `}}` at {brace.line}:{brace.column} closes the `{{` at {opened.line}:{opened.column}: "
            "what follows it is outside that definition",
        )
        return "remove that `}` (or the `{` it was meant for is missing)", notes
    return None


def _starts_statement(tokens: list[Token], tok: Token) -> bool:
    """Whether ``tok`` is the first of a statement (after `{`, `;` or a newline)."""
    prev = previous(tokens, tok.start_pos or 0)
    return prev is None or prev.type in ("LBRACE", "SEMICOLON", "_NL")


def _names_a_layer_or_block(name: str, text: str) -> bool:
    from netdsl.layers import REGISTRY  # only on the error path

    return name in REGISTRY or re.search(rf"\bblock\s+{re.escape(name)}\b", text) is not None


def _closing_brace(tokens: list[Token], before: int) -> tuple[Token, Token] | None:
    """The `}` (and its `{`) that last closed a top-level definition before offset ``before``, if any."""
    stack: list[Token] = []
    found = None
    for tok in tokens:
        if (tok.start_pos or 0) >= before:
            break
        if tok.type == "LBRACE":
            stack.append(tok)
        elif tok.type == "RBRACE" and stack:
            opened = stack.pop()
            if not stack:
                found = (tok, opened)
    return found


# Letters that look like ASCII ones (Unicode's confusables, the ones keyboards and copied text produce).
_CONFUSABLE = dict(
    zip(
        "аеорсухіјѕԁһӏаАВЕКМНОРСТХІЈЅαβεικνορτυχΑΒΕΖΗΙΚΜΝΟΡΤΥΧℓ",
        "aeopcyxijsdhlaABEKMHOPCTXIJSaBeikvoptuxABEZHIKMNOPTYXl",
        strict=True,
    )
)


def look_alike(text: str, pos: int) -> str | None:
    """A hint for a name spelt with a look-alike letter (a Cyrillic `с` in `сonv2d`): the ASCII spelling."""
    import unicodedata

    start, end = pos, pos
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        start -= 1
    while end < len(text) and (text[end].isalnum() or text[end] == "_"):
        end += 1
    word = text[start:end]

    def ascii_of(c: str) -> str:
        return c if c.isascii() else _CONFUSABLE.get(c) or unicodedata.normalize("NFKC", c)

    fixed = "".join(ascii_of(c) for c in word)
    if not fixed.isascii() or not (fixed.isidentifier()):
        return None
    letter = ascii_of(text[pos])
    return f"`{text[pos]}` looks like the ASCII `{letter}` but is not: write `{fixed}`"


def previous(tokens: list[Token], pos: int) -> Token | None:
    prev = None
    for tok in tokens:
        if (tok.start_pos or 0) >= pos:
            break
        prev = tok
    return prev
