"""``python -m acm``: the same as the ``acm`` command."""

import sys

from .cli.commands import main

sys.exit(main())
