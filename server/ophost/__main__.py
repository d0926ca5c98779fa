"""``python -m ophost``: the ``ophost`` command (see :mod:`ophost.cli`)."""

import sys

from ophost.cli import main

if __name__ == "__main__":
    sys.exit(main())
