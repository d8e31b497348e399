"""Weight initialisation policies applied after a net is built.

``default`` keeps what each ``torch.nn`` module's constructor drew (PyTorch's own
scheme). The named policies re-draw weights in one pass over the modules, the
way torchvision's model constructors do:

* ``kaiming``: torchvision's ResNet convention: ``kaiming_normal_`` (fan_out,
  relu) for convolutions, normalisation weight 1 and bias 0, linear weights
  ``normal(0, 0.01)`` and zero biases;
* ``xavier``: ``xavier_uniform_`` for convolution and linear weights, zero biases.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

POLICIES: tuple[str, ...] = ("default", "kaiming", "xavier")


def initialise(module: nn.Module, policy: str = "default") -> None:
    """Re-initialise ``module``'s weights in place with the named policy (see the module docstring)."""
    import torch
    from torch import nn

    if policy not in POLICIES:
        raise ValueError(f"init must be one of {', '.join(POLICIES)}, got {policy!r}")
    if policy == "default":
        return
    convs = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
    norms = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)
    with torch.no_grad():
        for m in module.modules():
            weight, bias = getattr(m, "weight", None), getattr(m, "bias", None)
            if isinstance(m, convs):
                if policy == "kaiming":
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                else:
                    nn.init.xavier_uniform_(m.weight)
            elif isinstance(m, nn.Linear):
                if policy == "kaiming":
                    nn.init.normal_(m.weight, 0, 0.01)
                else:
                    nn.init.xavier_uniform_(m.weight)
            elif isinstance(m, norms) and policy == "kaiming":
                if isinstance(weight, torch.Tensor):
                    nn.init.ones_(weight)
            else:
                continue
            if isinstance(bias, torch.Tensor):
                nn.init.zeros_(bias)
