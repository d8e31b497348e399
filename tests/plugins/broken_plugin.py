"""A plugin that fails on import, as one with a missing compiled extension would."""

raise RuntimeError("cannot find the fused kernels for this platform")
