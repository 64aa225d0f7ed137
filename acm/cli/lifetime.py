"""How a run of the ``acm`` command ends: without freeing what it analysed, one object
at a time, just before the process ends anyway.

A large site is millions of small objects (the parsed flows, the graph, the
propagation); freeing them one by one costs some 7 % of ``acm analyze`` on a
100k-node site and buys nothing when the process exits next. So a command
hands its large data to :func:`keep_until_exit`, and the console entry point
(:func:`acm.cli.commands.console`) ends the process with ``os._exit`` once
standard output and error are flushed: the operating system takes the memory
back at once. Called as a library (``acm.cli.main()``), the data is released
when ``main`` returns, as usual.

Only commands that are done when they return keep data (analyze): nothing runs
after them (no thread, no ``atexit`` work of ACM's), and every file they write is
closed (atomically replaced) before they return.
"""

from __future__ import annotations

_KEPT: list[object] = []


def keep_until_exit(*objects: object) -> None:
    """Hold ``objects`` until the process ends (or :func:`release`)."""
    _KEPT.extend(objects)


def kept() -> bool:
    """Whether the run holds data that a plain exit would free object by object."""
    return bool(_KEPT)


def release() -> None:
    """Let go of what the run kept (a library caller's run, or an exit that must be plain)."""
    _KEPT.clear()
