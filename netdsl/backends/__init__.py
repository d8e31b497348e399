"""Back ends: consumers of the shape pass's schedules (never of the IR's dataflow).

* :mod:`netdsl.backends.torch`: ``torch.nn.Module`` (fx GraphModules, Sequentials),
  in-place pass, initialisation, inference optimisation, run-time verification;
* :mod:`netdsl.backends.python`: standalone PyTorch source;
* :mod:`netdsl.backends.graphviz`: diagrams.

Only back ends import torch (and graphviz).
"""
