"""Output formats, one module each, chosen by name: ``render(report, "json")``.

Only the chosen format's module is imported (the CLI lists the names without
loading any of them).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..analysis.findings import Report

Formatter = Callable[["Report"], str]

#: Format name -> the module of this package whose ``render`` writes it.
MODULES: dict[str, str] = {
    "text": "text",
    "json": "json_format",
    "sarif": "sarif",
    "markdown": "markdown",
}

#: The format names, in the order ``--format`` lists them.
FORMATS: tuple[str, ...] = tuple(MODULES)

if TYPE_CHECKING:
    #: Format name -> formatter, for every format (built on first use: see __getattr__).
    FORMATTERS: dict[str, Formatter]


def _module(name: str) -> Any:
    """The module of format ``name`` (KeyError for an unknown name)."""
    return importlib.import_module(f".{MODULES[name]}", __name__)


def formatter(name: str) -> Formatter:
    """The ``render`` function of format ``name`` (KeyError for an unknown name)."""
    found: Formatter = _module(name).render
    return found


def render(report: Report, name: str) -> str:
    return formatter(name)(report)


def render_pieces(report: Report, name: str) -> Iterator[str]:
    """The text of :func:`render` in pieces, for writing as they come: a format whose
    module has ``pieces`` (json) never holds a large report's whole text at once."""
    module = _module(name)
    if hasattr(module, "pieces"):
        yield from module.pieces(report)
    else:
        yield module.render(report)


def __getattr__(name: str) -> Any:
    if name == "FORMATTERS":  # every format: loads them all, so only on request
        table = {format_name: formatter(format_name) for format_name in FORMATS}
        globals()["FORMATTERS"] = table
        return table
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
