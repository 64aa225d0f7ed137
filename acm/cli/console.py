"""What commands print and write: text that always encodes, reports to a file or stdout."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

import click

from ..errors import AcmError
from ..files import printable, terminal_safe, write_atomic


def echo(message: str = "", err: bool = False, nl: bool = True) -> None:
    """click.echo for text that may hold anything from flows, rules or policies: a lone
    surrogate (valid JSON, ``"\\ud800"``) is printed as its escape instead of failing."""
    click.echo(printable(message), err=err, nl=nl)


def write_output(text: str | Iterable[str], output: str) -> None:
    """Write a report to ``output`` (``-`` is standard output): one text, or pieces
    written one after the other (all or nothing to a file, as ever)."""
    if output == "-":
        for piece in [text] if isinstance(text, str) else text:
            echo(piece, nl=False)
        return
    try:
        write_atomic(output, text)
    except OSError as exc:
        raise AcmError(f"cannot write {output} ({exc.strerror}); it is unchanged",
                       output) from None


def one_line(text: str) -> str:
    """An error message as one terminal-safe line (no newlines, no control characters)."""
    return terminal_safe(" ".join(textwrap.dedent(text).split()))
