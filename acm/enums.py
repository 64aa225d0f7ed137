"""Words that travel as values: a ``str`` enum that reads and writes as its plain word.

Severities, provenances, target roles and marker roles are written into JSON,
SARIF, text and flows files exactly as the words they always were; as enums
they are also checked where they are made and listed in one place each. A
member compares equal to its word (``Severity.ERROR == "error"``), hashes like it,
and prints as it (``f"{Severity.ERROR}"`` is ``error``).
"""

from __future__ import annotations

from enum import Enum

__all__ = ["TextEnum"]


class TextEnum(str, Enum):
    """A ``str`` enum whose ``str()`` and format are its value (Python 3.11's StrEnum,
    which 3.10 lacks)."""

    def __str__(self) -> str:  # "error", not "Severity.ERROR", wherever one is written
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)
