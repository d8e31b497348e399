"""The two ways a training run fails that are the user's business, not a netdsl bug."""

from __future__ import annotations


class TrainingError(Exception):
    """A run that cannot start or cannot go on: missing data, a mismatch, a bad loss (exit code 1)."""


class ConfigError(TrainingError):
    """A mistake in the options or the ``--config`` file (exit code 2, like other usage errors)."""
