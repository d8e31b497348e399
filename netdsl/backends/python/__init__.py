"""The Python-source back end. Entry point: :func:`netdsl.backends.python.codegen.emit`."""
