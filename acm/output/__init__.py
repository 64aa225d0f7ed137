"""Output formats, one module each, chosen by name: ``render(report, "json")``."""

from __future__ import annotations

from collections.abc import Callable

from ..findings import Report
from . import json_format, markdown, sarif, text

Formatter = Callable[[Report], str]

FORMATTERS: dict[str, Formatter] = {
    "text": text.render,
    "json": json_format.render,
    "sarif": sarif.render,
    "markdown": markdown.render,
}


def render(report: Report, name: str) -> str:
    return FORMATTERS[name](report)
