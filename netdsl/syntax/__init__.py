"""Pass 1, syntax: text → syntax tree with spans (no Lark import on the fast path).

Entry point: :func:`parse_text`. The tree's node types are in :mod:`netdsl.syntax.tree`.
Inside: ``grammar.lark`` (the grammar), :mod:`~netdsl.syntax.parser` (the parser, its
newline filter and tree builders), :mod:`~netdsl.syntax.lalr` and
:mod:`~netdsl.syntax.tables` (Lark's LALR table run directly, cached as data; only the
parser imports them), :mod:`~netdsl.syntax.lark_parse` (Lark's own path, for syntax
errors) and :mod:`~netdsl.syntax.messages` (syntax errors as friendly diagnostics).
Reading files and resolving ``import`` lines is :mod:`netdsl.imports`.
"""

from netdsl.syntax import tree
from netdsl.syntax.parser import parse_text

__all__ = ["parse_text", "tree"]
