"""Headless subcommands of the `cnnviz` command, one module each.

A command module defines NAME, HELP, ``add_arguments(parser)`` and
``execute(args) -> int``; cnnviz/cli.py finds them here by itself. Heavy
imports (torch) belong inside ``execute`` so ``cnnviz --help`` stays fast.
"""


class CommandError(Exception):
    """A problem with the user's input: printed as one line, exit status 2."""
