"""Tensor ranks: which ranks each built-in layer kind accepts, and the one check that enforces them.

Shapes never include the batch, so a sample's rank tells what it is:

=====  ==================  =====================================================
rank   written             what
=====  ==================  =====================================================
1      ``(F,)``            a vector (after ``flatten`` or a global pool)
2      ``(C, L)``          a 1-D map, or tokens ``(L, D)`` (``to_tokens``)
3      ``(C, H, W)``       a 2-D map (images), or channels-last ``(H, W, C)``
4      ``(C, D, H, W)``    a 3-D map (volumes, video)
=====  ==================  =====================================================

Each built-in kind declares its ranks in :data:`ACCEPTS`; its shape rule enforces them
through :func:`expect_rank` (a test checks that every built-in kind is declared and that
its shape rule refuses exactly the other ranks). Plugins may :func:`declare` theirs.
A rank error names the kind, the shape it wants, the shape it got and both ranks:
``conv3d expects a (C, D, H, W) input, got (64, 56, 56) (rank 3, not 4)``; the shape pass
adds the file, line, column and the layer. Torch-free, like everything on the dry-run path.
"""

from __future__ import annotations

from collections.abc import Sequence

from netdsl.layers.registry import Shape, ShapeError
from netdsl.units import shape_tuple

#: Every rank a sample may have (``input`` and ``reshape`` produce at most 4 dimensions).
ANY: tuple[int, ...] = (1, 2, 3, 4)
#: Ranks with channels and at least one spatial axis: (C, L), (C, H, W), (C, D, H, W).
MAPS: tuple[int, ...] = (2, 3, 4)

#: How a sample of each rank is written in messages.
RANK_NAMES: dict[int, str] = {1: "(F,)", 2: "(C, L)", 3: "(C, H, W)", 4: "(C, D, H, W)"}
#: Human names of the spatial axes, by number of spatial dimensions.
AXES: dict[int, tuple[str, ...]] = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}

#: Built-in kind → the ranks its shape rule accepts.
ACCEPTS: dict[str, tuple[int, ...]] = {
    **dict.fromkeys(("conv1d", "conv_transpose1d", "maxpool1d", "avgpool1d"), (2,)),
    **dict.fromkeys(("adaptive_avgpool1d", "adaptive_maxpool1d", "dropout1d"), (2,)),
    **dict.fromkeys(("conv2d", "conv_transpose2d", "maxpool2d", "avgpool2d", "layernorm2d"), (3,)),
    **dict.fromkeys(("adaptive_avgpool2d", "adaptive_maxpool2d", "dropout2d", "batchnorm2d"), (3,)),
    **dict.fromkeys(("conv3d", "conv_transpose3d", "maxpool3d", "avgpool3d", "batchnorm3d"), (4,)),
    **dict.fromkeys(("adaptive_avgpool3d", "adaptive_maxpool3d", "dropout3d"), (4,)),
    **dict.fromkeys(("maxpool", "avgpool", "adaptive_avgpool", "adaptive_maxpool"), MAPS),
    **dict.fromkeys(("global_avgpool", "global_maxpool", "upsample", "to_tokens"), MAPS),
    **dict.fromkeys(("batchnorm", "groupnorm"), (1, 2, 3, 4)),
    "batchnorm1d": (1, 2),
    "lrn": (2, 3),
    "zeropad": (2, 3),
    "to_map": (2,),
    **dict.fromkeys(("permute", "transpose", "reshape", "flatten", "linear", "layernorm"), ANY),
    **dict.fromkeys(("prelu", "stochastic_depth", "dropout", "identity", "softmax"), ANY),
    **dict.fromkeys(("relu", "relu6", "leaky_relu", "elu", "gelu", "silu", "sigmoid", "tanh"), ANY),
    **dict.fromkeys(("hardswish", "hardsigmoid", "add", "mul", "concat"), ANY),
}


def declare(name: str, ranks: Sequence[int]) -> tuple[int, ...]:
    """Declare the ranks kind ``name`` accepts (plugins; built-ins are listed in :data:`ACCEPTS`)."""
    ACCEPTS[name] = tuple(sorted(set(ranks)))
    return ACCEPTS[name]


def accepted(name: str) -> tuple[int, ...] | None:
    """The ranks kind ``name`` declared, or None for a kind that declared none."""
    return ACCEPTS.get(name)


def _words(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def expect_rank(kind: str, shape: Shape, ranks: Sequence[int], hint: str | None = None) -> int:
    """Refuse inputs of the wrong rank, naming both shapes and both ranks; returns the rank.

    ``conv2d expects a (C, H, W) input, got (4096,) (rank 1, not 3)``.
    """
    n = len(shape)
    if n not in ranks:
        wanted = _words([RANK_NAMES.get(r, f"rank-{r}") for r in ranks])
        numbers = _words([str(r) for r in ranks])
        raise ShapeError(
            f"{kind} expects a {wanted} input, got {shape_tuple(shape)} (rank {n}, not {numbers})", hint=hint
        )
    return n


def expect_declared(kind: str, shape: Shape, hint: str | None = None) -> int:
    """:func:`expect_rank` with the ranks ``kind`` declared."""
    return expect_rank(kind, shape, ACCEPTS[kind], hint)
