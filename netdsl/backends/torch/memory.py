"""The compiler's memory guard: refuse, before allocating, a model whose weights would not fit."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from netdsl.errors import Diagnostic, NetdslError
from netdsl.pipeline import Analysis
from netdsl.units import fmt_bytes

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["BYTES_PER_ELEMENT", "available_memory", "check_memory", "fmt_bytes"]

#: Bytes per parameter/buffer element the memory guard assumes (float32).
BYTES_PER_ELEMENT = 4


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (MemAvailable), or None if unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(analysis: Analysis, device: torch.device | None = None, available: int | None = None) -> None:
    """Refuse, before allocating anything, a model whose parameters and buffers exceed free memory."""
    assert analysis.net is not None and analysis.shapes is not None
    total = analysis.shapes.total
    need = (total.params + total.buffers) * BYTES_PER_ELEMENT
    if available is None:
        available = available_memory()
        if device is not None and device.type == "cuda":
            import torch  # only for a CUDA build, which already imported it

            free = torch.cuda.mem_get_info(device)[0]
            available = free if available is None else min(available, free)
    if available is not None and need > available:
        raise NetdslError(
            [
                Diagnostic(
                    "E501",
                    f"the model needs {fmt_bytes(need)} of parameters; {fmt_bytes(available)} available",
                    analysis.net.span,
                    hint="use --device meta (device='meta') to build without allocating",
                )
            ],
            analysis.sources,
        )
