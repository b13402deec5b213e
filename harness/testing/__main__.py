"""``python -m phasebench.testing [PLUGIN ...]``: see :func:`phasebench.testing.cli.main`."""

import sys

from phasebench.testing.cli import main

if __name__ == "__main__":
    sys.exit(main())
