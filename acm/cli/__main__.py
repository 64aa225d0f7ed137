"""``python -m acm.cli``: the same as the ``acm`` command."""

import sys

from .commands import main

sys.exit(main())
