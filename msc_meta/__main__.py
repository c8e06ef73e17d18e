"""``python -m msc_meta``: the ``msc-meta`` command."""

import sys

from .cli import main

sys.exit(main())
