"""A Pygments lexer for netdsl specs, so docs, notebooks and ``rich`` highlight ``.net`` files.

Registered as the entry point ``netdsl`` of the group ``pygments.lexers``:
``pygments.lexers.get_lexer_by_name("netdsl")`` finds it, as do ``pygmentize -l netdsl`` and
Sphinx/MkDocs code blocks marked ``netdsl``. It imports Pygments only (no torch, no Lark), and
knows the built-in layer kinds by name (the tests compare the list with netdsl's registry).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar

from pygments.lexer import RegexLexer, words
from pygments.lexer import bygroups as _bygroups
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Whitespace,
)

__all__ = ["BUILTIN_LAYERS", "FUNCTIONS", "NetdslLexer"]

#: The layer kinds netdsl registers itself (plugins may add more: they highlight as calls).
BUILTIN_LAYERS = (
    *("adaptive_avgpool", "adaptive_avgpool1d", "adaptive_avgpool2d", "adaptive_avgpool3d", "adaptive_maxpool"),
    *("adaptive_maxpool1d", "adaptive_maxpool2d", "adaptive_maxpool3d", "add", "avgpool", "avgpool1d", "avgpool2d"),
    *("avgpool3d", "batchnorm", "batchnorm1d", "batchnorm2d", "batchnorm3d", "concat", "conv1d", "conv2d", "conv3d"),
    *("conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "dropout", "dropout1d", "dropout2d", "dropout3d"),
    *("elu", "flatten", "gelu", "global_avgpool", "global_maxpool", "groupnorm", "hardsigmoid", "hardswish"),
    *("identity", "layernorm", "layernorm2d", "leaky_relu", "linear", "lrn", "maxpool", "maxpool1d", "maxpool2d"),
    *("maxpool3d", "mul", "permute", "prelu", "relu", "relu6", "reshape", "sigmoid", "silu", "softmax"),
    *("stochastic_depth", "tanh", "to_map", "to_tokens", "transpose", "upsample", "zeropad"),
)
#: The functions of netdsl expressions.
FUNCTIONS = ("min", "max", "abs", "int", "len")

_NAME = r"[A-Za-z_][A-Za-z_0-9]*"
bygroups: Callable[..., Any] = _bygroups  # untyped in Pygments' stubs


class NetdslLexer(RegexLexer):
    """Lexer for netdsl network specifications (``.net`` files)."""

    name = "netdsl"
    aliases: ClassVar[list[str]] = ["netdsl"]
    filenames: ClassVar[list[str]] = ["*.net"]
    mimetypes: ClassVar[list[str]] = ["text/x-netdsl"]
    url = "https://github.com/netdsl/netdsl"
    flags = re.MULTILINE

    tokens: ClassVar[dict[str, list[Any]]] = {
        "root": [
            (r"[ \t\f]+|\r?\n", Whitespace),
            (r"#.*?$", Comment.Single),
            (r'"[^"\n]*"', String.Double),
            (r"'[^'\n]*'", String.Single),
            (rf"\b(net|block)(\s+)({_NAME})", bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (rf"\b(let)(\s+)({_NAME})", bygroups(Keyword.Declaration, Whitespace, Name.Variable)),
            (words(("import", "requires"), suffix=r"\b"), Keyword.Namespace),
            (words(("true", "false"), suffix=r"\b"), Keyword.Constant),
            (words(("and", "or", "not"), suffix=r"\b"), Operator.Word),
            (r"\bin\b", Name.Builtin.Pseudo),  # the shape of the data entering a block: in.c, @in
            (words(("repeat", "as", "if", "elif", "else", "inline", "input"), suffix=r"\b"), Keyword),
            (rf"(@)({_NAME})", bygroups(Operator, Name.Variable)),
            (rf"(->)(\s*)({_NAME})", bygroups(Operator, Whitespace, Name.Variable)),
            (rf"{_NAME}(?=[ \t]*(\[[^\]\n]*\])?[ \t]*:)", Name.Label),  # a label: `conv1:`, `layer[i + 1]:`
            (words(BUILTIN_LAYERS, prefix=r"\b", suffix=r"\b"), Name.Builtin),
            (words(FUNCTIONS, prefix=r"\b", suffix=r"(?=[ \t]*\()"), Name.Builtin.Pseudo),
            (rf"{_NAME}(?=[ \t]*\()", Name.Function),  # a block (or plugin layer) call
            (r"[0-9]+\.[0-9]*([eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+", Number.Float),
            (r"0|[1-9][0-9_]*", Number.Integer),
            (_NAME, Name),
            (r"->|\*\*|//|==|!=|<=|>=|[-+*/%<>=]", Operator),
            (r"[()\[\]{},;:.@]", Punctuation),
        ]
    }

    @staticmethod
    def analyse_text(text: str) -> float:
        """How much ``text`` looks like a spec (for ``guess_lexer``)."""
        if re.search(rf"^\s*net\s+{_NAME}\s*(\(|\{{)", text, re.MULTILINE):
            return 0.5
        return 0.1 if re.search(rf"^\s*block\s+{_NAME}\s*(\(|\{{)", text, re.MULTILINE) else 0.0
