"""The ONNX back end: a built module → a verified ``.onnx`` file. Entry points: :func:`export`, :func:`compare`.

torch's exporter (``torch.onnx.export(..., dynamo=True)``) traces the module that the torch
back end built from the schedule, with a dynamic batch dimension and the spec's names for
inputs and outputs; :func:`export` then checks the file with ``onnx.checker``. Exporters have
shipped wrong models silently, so :func:`compare` runs the file in onnxruntime against the
eager module and returns the largest difference relative to the largest output.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from netdsl.atomic import write_atomic

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

__all__ = ["INPUT_NAME", "OPSET", "ExportError", "compare", "export"]

#: The opset written: recent, and what onnxruntime 1.2x runs with every kernel netdsl emits.
OPSET = 18
INPUT_NAME = "input"


class ExportError(Exception):
    """torch could not export the module, or the file failed ``onnx.checker``."""


def export(module: nn.Module, input_shape: Sequence[int], out: Path, output_names: Sequence[str] = ("output",)) -> None:
    """Write ``module`` (in eval mode) to ``out`` as ONNX, batch dimension dynamic; raise :class:`ExportError`."""
    import onnx
    import torch

    module = module.eval()
    example = torch.randn(2, *input_shape)
    batch = torch.export.Dim("batch", min=1)
    chatter = io.StringIO()  # the exporter prints its progress; the command prints its own line
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(chatter), torch.no_grad():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                module,
                (example,),
                dynamo=True,
                input_names=[INPUT_NAME],
                output_names=list(output_names),
                dynamic_shapes=({0: batch},),
                opset_version=OPSET,
            )
    except Exception as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ExportError(f"torch.onnx cannot export this net: {first}") from err
    if program is None:  # pragma: no cover - the dynamo exporter always returns a program
        raise ExportError("torch.onnx returned no program")

    with contextlib.redirect_stdout(chatter):
        proto = program.model_proto  # the graph with its weights as initializers
        data = proto.SerializeToString()
    # Checked before anything is written: a model that fails the checker never replaces `out`.
    try:
        onnx.checker.check_model(data, full_check=True)
    except onnx.checker.ValidationError as err:
        raise ExportError(f"the exported file fails onnx.checker: {str(err).splitlines()[0]}") from err
    write_atomic(out, data)


def compare(path: Path, module: nn.Module, input_shape: Sequence[int], batches: Sequence[int] = (1, 3)) -> float:
    """Run ``path`` in onnxruntime and ``module`` eagerly on the same random batches; the worst relative difference.

    The difference is the largest absolute difference divided by the largest absolute eager output.
    """
    import numpy as np
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    module = module.eval()
    worst = 0.0
    generator = torch.Generator().manual_seed(0)
    for b in batches:
        x = torch.randn(b, *input_shape, generator=generator)
        with torch.no_grad():
            ref = module(x)
        refs = list(ref.values()) if isinstance(ref, dict) else list(ref) if isinstance(ref, tuple) else [ref]
        outs = session.run(None, {INPUT_NAME: x.numpy()})
        for r, o in zip(refs, outs, strict=True):
            expected = r.numpy()
            scale = float(np.abs(expected).max()) or 1.0
            worst = max(worst, float(np.abs(o - expected).max()) / scale)
    return worst
