"""``python -m acm``: the same as the ``acm`` command."""

import sys

from .cli import main

sys.exit(main())
