"""Entry point of the standalone build: the same as the `cnnviz` command."""

import multiprocessing
import sys

from cnnviz.cli import main

if __name__ == "__main__":
    # Worker processes (e.g. torch data loading) re-enter through here when frozen.
    multiprocessing.freeze_support()
    sys.exit(main())
