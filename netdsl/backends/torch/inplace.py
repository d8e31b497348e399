"""Compile pass: run activations and residual adds in place where that is safe.

Hand-written PyTorch saves memory traffic by overwriting tensors nobody needs any
more: torchvision's ResNet uses ``nn.ReLU(inplace=True)`` and ``out += identity``.
A spec author should not have to reason about aliasing to get the same speed, so
the compiler decides, per call, from the dataflow it already has in a
:class:`netdsl.backends.torch.compile.Plan`:

a call may overwrite its first input ``v`` when

1. its layer kind has an in-place form (``LayerKind.inplace``),
2. ``v`` was produced by a layer of the same scope whose backward never reads its
   own output (``LayerKind.output_free``: convolutions, linear, batch norm, add,
   concat), so autograd has not saved ``v``, and
3. nothing else reads ``v``: no other call, not the scope's output, not a capture
   (captures are already resolved to value numbers in the plan).

The scope's input (value 0) is never overwritten: its producer and its other
readers live outside the scope. Gradients are the same as without the pass (a
test compares them for every shipped spec). One visible difference, shared with
torchvision: a forward hook on a layer whose output is overwritten later sees
the overwritten values once the forward pass has finished.
"""

from __future__ import annotations

from collections import Counter

from netdsl.backends.torch.plan import Plan
from netdsl.layers import REGISTRY


def make_inplace(plan: Plan) -> int:
    """Swap in the in-place form of every call of ``plan`` (and nested plans) that may overwrite its input.

    Returns the number of calls made in place.
    """
    count = 0
    for p in plan.walk():
        readers = Counter(arg for op in p.ops for arg in op.args)
        readers[p.output] += 1
        for op in p.ops:
            kind = REGISTRY.get(op.kind) if op.kind else None
            if kind is None or kind.inplace is None or not op.args:
                continue
            value = op.args[0]
            if value == 0 or readers[value] != 1:
                continue
            producer = p.ops[value - 1]
            producer_kind = REGISTRY.get(producer.kind) if producer.kind else None
            if producer_kind is None or not producer_kind.output_free:
                continue
            module = p.children[op.target]
            if isinstance(module, Plan):  # a layer call always holds a built module
                continue
            p.children[op.target] = kind.inplace(module)
            count += 1
    return count
