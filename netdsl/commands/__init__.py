"""One module per ``netdsl`` subcommand; :mod:`netdsl.cli` only parses arguments and dispatches."""
