"""Training and evaluation of a spec on a data set: ``netdsl train`` and ``netdsl evaluate``.

The modules, from the bottom up:

- :mod:`~netdsl.training.config`: the options, their defaults and the TOML file (no torch);
- :mod:`~netdsl.training.datasets` (and :mod:`~netdsl.training.signs` for the h5 files),
  :mod:`~netdsl.training.transforms`: data sets by name, their statistics, the train/validation
  split, the spec-driven transforms;
- :mod:`~netdsl.training.prepare`: the spec checked against the data, the model, the loaders;
- :mod:`~netdsl.training.distributed`: torchrun's environment, the process group, reductions;
- :mod:`~netdsl.training.optim`: optimizer and learning-rate schedule;
- :mod:`~netdsl.training.engine`: one epoch of training or evaluation;
- :mod:`~netdsl.training.checkpoint`: ``last.pt``/``best.pt`` with RNG states, written atomically;
- :mod:`~netdsl.training.progress`, :mod:`~netdsl.training.records`, :mod:`~netdsl.training.plots`:
  what a person sees and what the run directory keeps;
- :mod:`~netdsl.training.run`: a whole run, with resume, Ctrl-C and bad losses;
- :mod:`~netdsl.training.evaluation`: ``netdsl evaluate``;
- :mod:`~netdsl.training.api`: :func:`netdsl.train`.

Importing this package imports nothing heavy; torch comes in with the modules that need it.
"""
