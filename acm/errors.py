"""Errors ACM raises for bad input; the CLI turns each into one line and exit code 2.

    AcmError                  anything the user can fix in their input
    ├── FlowsError            a flows file that cannot be read or is not a flows file
    ├── RuleError             a rule file that does not parse or names unknown things
    └── ModelError            a deployment model that does not match its schema

Every error carries *where* (file, and line:column or node id when known) so
the message points at the exact place to fix.
"""

from __future__ import annotations


class AcmError(Exception):
    """Bad input; ``str(err)`` is a single line: ``where: what``."""

    def __init__(self, what: str, where: str | None = None) -> None:
        self.what = what
        self.where = where
        super().__init__(f"{where}: {what}" if where else what)


class FlowsError(AcmError):
    """A flows file is malformed, not a flows file, or wires to missing nodes."""


class RuleError(AcmError):
    """A rule file has a syntax error or refers to something unknown."""


class ModelError(AcmError):
    """A deployment model is malformed or does not match the schema."""
