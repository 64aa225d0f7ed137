"""Writing files without losing what was there: atomic replace, and text that always encodes.

A report, a baseline or resolved flows written with ``-o`` onto the file they
were read from must not leave an empty file when the write fails half way
(a full disk, an encoding error): the text is written to a temporary file in
the same folder, flushed to disk, then renamed over the target in one step.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path


def encode(text: str) -> bytes:
    """UTF-8, with lone surrogates (valid in JSON input: ``"\\ud800"``) written as JSON escapes."""
    return text.encode("utf-8", errors="backslashreplace")


def printable(text: str) -> str:
    """``text`` that any UTF-8 stream can take (lone surrogates as escapes)."""
    return encode(text).decode("utf-8")


_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7f] if c != 0x0a}
_CONTROL.update({c: f"\\x{c:02x}" for c in range(0x80, 0xa0)})


def terminal_safe(text: str) -> str:
    """Text for a terminal: control characters from flows (escape sequences that could
    move the cursor or retitle the window) are shown as ``\\x1b`` instead; newlines stay."""
    return text.translate(_CONTROL)


def write_atomic(path: str | Path, text: str | Iterable[str]) -> None:
    """Replace ``path`` with ``text`` (or its pieces, one after the other) in one step; on
    any failure, even while the pieces are made, the old file is intact.

    Raises OSError as the failing call did; the temporary file is removed.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                         dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            for piece in [text] if isinstance(text, str) else text:
                out.write(encode(piece))
            out.flush()
            os.fsync(out.fileno())
        try:
            mode = target.stat().st_mode & 0o7777  # keep an existing file's permissions
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
