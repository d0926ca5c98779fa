"""``python -m ophost.worker``: see :mod:`ophost.worker`."""

import sys

from ophost.worker._main import main

sys.exit(main())
