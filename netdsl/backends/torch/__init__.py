"""The torch back end: schedules → ``torch.nn.Module``. Entry point: :func:`netdsl.backends.torch.compile.build`."""
