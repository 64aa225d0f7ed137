"""The ``acm`` command: :mod:`.commands` (the click commands), :mod:`.serve` (editor worker).

``acm.cli:main`` is the console entry point.
"""

from .commands import main

__all__ = ["main"]
