"""``python -m workbench`` is the ``workbench`` command."""

import multiprocessing
import sys

from workbench.cli.main import main

if __name__ == "__main__":
    # a frozen bundle starts the online view's child process (spawn) through this
    multiprocessing.freeze_support()
    sys.exit(main())
