"""The ``acm`` command: :mod:`.commands` (the click commands), :mod:`.serve` (editor worker).

``acm.cli:console`` is the console entry point; ``acm.cli:main`` runs the command
line and returns its exit code (for callers in Python).
"""

from .commands import console, main

__all__ = ["console", "main"]
