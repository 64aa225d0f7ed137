"""``python -m acm``: the same as the ``acm`` command."""

from .cli.commands import console

console()
