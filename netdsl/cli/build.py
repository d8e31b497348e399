"""``netdsl build SPEC``: compile a spec and save it as a state_dict, TorchScript or standalone Python.

Outputs are written atomically: a failed build (spec error, failed
verification, a crash while saving) leaves any previous output untouched.

``--optimize inference`` saves a frozen, inference-only TorchScript module
(:mod:`netdsl.backends.torch.optimize`, ``portable=True``: BatchNorms folded, dropout gone,
weights as constants; it runs anywhere ``torch.jit.load`` does).
``--format`` then defaults to torchscript, and asking for state_dict or python
with it is a usage error, since neither can hold the folded, frozen graph.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from netdsl.atomic import save_atomic, write_atomic
from netdsl.cli.common import UsageError, parse_input, parse_overrides, report
from netdsl.cli.options import spec_options
from netdsl.errors import NetdslError
from netdsl.pipeline import Analysis, analyze

DESCRIPTION = (
    "Compile a checked spec into a torch.nn.Module whose state_dict keys follow the spec's names, and save it."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("-o", "--output", metavar="OUT", help="output file (default: SPEC name + format suffix)")
    p.add_argument(
        "--format",
        choices=list(FORMATS),
        help="state_dict (.pt, the default), torchscript (.pt via torch.jit.script; the default with --optimize "
        "inference), python (standalone source) or onnx (.onnx, dynamic batch; --verify runs it in onnxruntime)",
    )
    p.add_argument(
        "--weights",
        metavar="FILE",
        help="load this state_dict (strict) before writing: a plain state_dict, a `netdsl train` checkpoint, "
        "or torchvision's .pth; keys that do not fit are reported at their spec line",
    )
    p.add_argument("--seed", type=int, help="seed the initialisation: the same seed gives bit-identical weights")
    p.add_argument(
        "--init",
        choices=["default", "kaiming", "xavier"],
        default="default",
        help="weight initialisation policy (default: PyTorch's own)",
    )
    p.add_argument(
        "--verify",
        action="store_true",
        help="run the module once and compare every node's shape with the static inference",
    )
    p.add_argument(
        "--device",
        default="cpu",
        help="device to build on; 'meta' builds (and --verify runs) without allocating, and writes no weights file",
    )
    p.add_argument(
        "--optimize",
        choices=["none", "inference"],
        default="none",
        help="inference: fold BatchNorm into convs, drop dropout, freeze the weights into an inference-only "
        "TorchScript module (saved as torchscript)",
    )
    p.add_argument(
        "--no-inplace",
        dest="inplace",
        action="store_false",
        help="keep every activation and add out of place (by default they overwrite inputs nothing else reads, "
        "like torchvision's ReLU(inplace=True); forward hooks then see overwritten values)",
    )
    spec_options(p)


if TYPE_CHECKING:  # pragma: no cover
    from torch import nn


def run(args: argparse.Namespace) -> int:
    args.format = _output_format(args)
    analysis = analyze(args.spec, parse_overrides(args.overrides), parse_input(args.input))
    if not analysis.ok:
        report(analysis.diagnostics, analysis.sources, args)
        return 1
    report(analysis.warnings, analysis.sources, args)
    out = Path(args.output or Path(args.spec).stem + FORMATS[args.format].suffix)
    try:
        return _build(args, analysis, out)
    except NetdslError as err:
        report(list(err.diagnostics), err.sources or analysis.sources, args)
        return 1
    except OSError as err:
        print(f"netdsl build: error: cannot write {out}: {err}", file=sys.stderr)
        return 1


def _output_format(args: argparse.Namespace) -> str:
    """``--format``, defaulting to torchscript for ``--optimize inference`` and refusing formats it cannot fill."""
    optimized = getattr(args, "optimize", "none") == "inference"
    fmt: str | None = args.format
    if not optimized:
        return fmt or "state_dict"
    if fmt in ("state_dict", "python"):
        raise UsageError(
            f"--optimize inference produces a frozen TorchScript module, which --format {fmt} cannot hold; "
            "use --format torchscript (the default with --optimize inference)"
        )
    if args.device == "meta":
        raise UsageError("--optimize inference runs the model, so it needs weights: it cannot use --device meta")
    return fmt or "torchscript"


def _build(args: argparse.Namespace, analysis: Analysis, out: Path) -> int:
    from netdsl.backends.torch.compile import build
    from netdsl.backends.torch.verify import first_cause, verify
    from netdsl.units import fmt_bytes

    assert analysis.net is not None and analysis.shapes is not None
    notes = []
    module = None
    if FORMATS[args.format].needs_module or args.verify or args.weights is not None:
        try:
            # Optimised after --verify, which hooks the spec's own modules.
            module = build(analysis, seed=args.seed, init=args.init, device=args.device, inplace=args.inplace)
        except ValueError as err:  # a bad --device or an --optimize mode this build does not offer
            raise UsageError(str(err)) from None
    if args.weights is not None and module is not None:
        from netdsl.backends.torch.weights import load_weights

        notes.append(f"loaded {load_weights(module, args.weights, analysis)} tensors from {args.weights}")
    if args.verify and module is not None:
        cause = first_cause(verify(module, analysis))
        if cause is not None:
            report([cause], analysis.sources, args)
            print(
                f"{args.spec}: verification failed: run-time shapes disagree with the static shapes; nothing written",
                file=sys.stderr,
            )
            return 1
        notes.append(f"verified {len(analysis.shapes.nodes)} modules")
    if args.optimize == "inference" and args.format == "onnx":
        # The optimised module is a frozen TorchScript/oneDNN graph, which torch.onnx cannot export;
        # onnxruntime folds BatchNorm and fuses on its own when it loads the file.
        notes.append("ONNX holds the eval model: the optimised TorchScript build does not export (onnxruntime fuses)")
    elif args.optimize == "inference" and module is not None:
        from netdsl.backends.torch.optimize import example_input, optimize_for_inference

        example = example_input(analysis.shapes.input_shape, device=args.device)
        optimized = optimize_for_inference(module, example, portable=True)
        module = optimized.module
        notes.append(f"optimised for inference: {optimized.describe()}")
    written: Path | None = out
    if args.device == "meta" and args.format != "python":
        written = None  # a weightless file would load as silent garbage: write nothing
        notes.append("built on the meta device: no weights, nothing written")
    elif not FORMATS[args.format].store(module, analysis, args, out, notes):
        return 1
    where = f" → {written} ({args.format}, {fmt_bytes(written.stat().st_size)})" if written else ""
    extra = f"; {'; '.join(notes)}" if notes else ""
    print(f"{args.spec}: net {analysis.net.name}, {analysis.shapes.total.params:,} params{where}{extra}")
    return 0


def _write_python(
    module: nn.Module | None, analysis: Analysis, args: argparse.Namespace, out: Path, notes: list[str]
) -> bool:
    from netdsl.backends.python.codegen import CodegenError, emit

    try:
        write_atomic(out, emit(analysis, inplace=args.inplace))
    except CodegenError as err:
        print(f"netdsl build: error: cannot emit Python: {err}; use --format torchscript", file=sys.stderr)
        return False
    return True


def _write_state_dict(
    module: nn.Module | None, analysis: Analysis, args: argparse.Namespace, out: Path, notes: list[str]
) -> bool:
    import torch

    assert module is not None
    state = module.state_dict()
    save_atomic(out, lambda tmp: torch.save(state, tmp))
    return True


def _write_torchscript(
    module: nn.Module | None, analysis: Analysis, args: argparse.Namespace, out: Path, notes: list[str]
) -> bool:
    assert module is not None
    return _save_torchscript(module, out)


@dataclass(frozen=True)
class Format:
    """An output format of ``netdsl build``: its default suffix and its writer (False when it reported a failure)."""

    suffix: str
    store: Callable[[nn.Module | None, Analysis, argparse.Namespace, Path, list[str]], bool]
    needs_module: bool = True  # the source writer needs no built module (unless --verify)


def _write_onnx(
    module: nn.Module | None, analysis: Analysis, args: argparse.Namespace, out: Path, notes: list[str]
) -> bool:
    from netdsl.backends.onnx import OPSET, ExportError, compare, export

    assert module is not None and analysis.shapes is not None
    shape = analysis.shapes.input_shape
    try:
        export(module, shape, out)
    except ExportError as err:
        print(f"netdsl build: error: {err}; --format torchscript or state_dict still work", file=sys.stderr)
        return False
    notes.append(f"opset {OPSET}, dynamic batch, checked by onnx.checker")
    if args.verify:
        diff = compare(out, module, shape)
        if not diff <= ONNX_TOLERANCE:
            out.unlink(missing_ok=True)
            print(
                f"{args.spec}: onnxruntime differs from the eager module by {diff:.2e} (relative; limit "
                f"{ONNX_TOLERANCE:.0e}) at batch 1 and 3; nothing written",
                file=sys.stderr,
            )
            return False
        notes.append(f"onnxruntime agrees with eager to {diff:.1e} (relative, batches 1 and 3)")
    return True


#: ``--verify`` of an ONNX file: the largest |onnxruntime − eager| over the largest |eager| output.
ONNX_TOLERANCE = 1e-4

#: Output format → writer (a new format is one writer plus one row here).
FORMATS: dict[str, Format] = {
    "state_dict": Format(".pt", _write_state_dict),
    "torchscript": Format(".pt", _write_torchscript),
    "python": Format(".py", _write_python, needs_module=False),
    "onnx": Format(".onnx", _write_onnx),
}


def _save_torchscript(module: nn.Module, out: Path) -> bool:
    import torch

    with warnings.catch_warnings():
        # The user asked for TorchScript by name; its deprecation notice is noise here.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        try:
            scripted = module if isinstance(module, torch.jit.ScriptModule) else torch.jit.script(module)
        except Exception as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            print(
                f"netdsl build: error: TorchScript cannot compile this net: {first}; use --format state_dict or python",
                file=sys.stderr,
            )
            return False
        save_atomic(out, lambda tmp: torch.jit.save(scripted, str(tmp)))
    return True
