"""The ``acm`` command: the click group, the commands it holds, and the exit codes.

Exit codes: 0 nothing at or above ``--fail-on``; 1 conflicts at or above it;
2 bad input or usage (one line on stderr naming where and what); 3 a bug in ACM.

The commands live one module per group (:mod:`.analyze`, :mod:`.resolve`,
:mod:`.deploy`, :mod:`.graph`, :mod:`.strategies`) and hand their work to the
library. Each imports the library modules it uses when it runs: ``acm --help``
loads click and this package only, and no command but those that build a flow
graph pays for networkx (tests/test_startup.py checks it).
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Sequence

import click

from ..errors import AcmError
from ..version import __version__
from . import lifetime
from .analyze import analyze, check, model, rules_command
from .console import echo, one_line
from .deploy import deploy_command, monitor_command, watch_command
from .graph import graph_command
from .resolve import apply, resolve, revert
from .strategies import strategies_command


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 88})
@click.version_option(__version__, prog_name="acm")
def cli() -> None:
    """ACM finds actuation conflicts in Node-RED flows.

    Two flows conflict when automations of different applications (by
    default: different tabs) command the same device (one MQTT command
    topic, one Home Assistant entity, one GPIO pin ...).

    Exit codes: 0 no conflict at or above --fail-on, 1 conflicts found,
    2 bad input or usage (one line on stderr says where and what),
    3 internal error (a bug in ACM: one line; --debug or ACM_DEBUG=1 shows
    the traceback).

    \b
    Examples:
      acm analyze flows.json                 conflicts as text, exit 1 on errors
      acm analyze flows.json --format json   the findings contract (acm.findings/1)
      acm analyze --model site.yaml          every runtime of a site together
      acm model check site.yaml              validate a deployment model
      acm rules --explain direct             what a rule checks and why
    """


for _command in (analyze, check, model, rules_command, resolve, apply, revert, deploy_command,
                 watch_command, monitor_command, graph_command, strategies_command):
    cli.add_command(_command)


@cli.command("serve")
@click.option("--stdio", is_flag=True,
              help="Read requests from standard input, one JSON object per line, and "
              "answer each on standard output (the only transport).")
@click.option("--max-requests", type=click.IntRange(min=0), default=0, show_default=True,
              metavar="N", help="Exit after answering N requests (0: no limit), so whoever "
              "runs the worker replaces it before its memory grows.")
def serve_command(stdio: bool, max_requests: int) -> int:
    """Run as a long-lived analyzer for the Node-RED editor (the bridge's worker).

    Each request line {"id", "op", "args", "input"} runs `acm ARGS` (analyze,
    resolve or strategies) with INPUT on standard input, in this process,
    and is answered with one line {"id", "code", "stdout", "stderr"}: the
    exit code and output of a fresh `acm` run. Imports and the built-in
    rules are loaded once. Exits at the end of its input. Protocol:
    nodered-bridge/README.md.

    \b
    Exit codes: 0 input ended (or --max-requests answered), 2 usage.

    \b
    Example:
      echo '{"id": 1, "op": "strategies", "args": ["strategies", "--format", "json"]}' \\
          | acm serve --stdio
    """
    if not stdio:
        raise click.UsageError("give --stdio (the only transport)")
    from .serve import serve_stdio

    # Between requests a worker collects cycles like any long-lived process; each
    # request still runs with the collector paused, as a CLI run does (see main()).
    gc.enable()
    return serve_stdio(max_requests)


def console() -> None:
    """The ``acm`` console entry point: :func:`main`, then the end of the process.

    A run that kept its large data (:mod:`.lifetime`) ends with ``os._exit`` once
    standard output and error are flushed, without freeing it object by object;
    when a flush fails (a closed pipe), the exit is Python's own, which reports it.
    """
    try:
        code = main(keep=True)
    except BaseException:  # --debug: the traceback, after a plain exit's cleanup
        lifetime.release()
        raise
    if lifetime.kept():
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):
            lifetime.release()  # the collector is still off: freed by reference counts
        else:
            os._exit(code)
    sys.exit(code)


def main(argv: Sequence[str] | None = None, *, keep: bool = False) -> int:
    """Run the CLI and return its exit code (never raises for bad input).

    An unexpected exception is a bug in ACM, not a finding: exit 3 with one
    line, the traceback only with ``--debug`` (anywhere on the command line)
    or ``ACM_DEBUG=1``. What the command kept for the end of the process
    (:mod:`.lifetime`) is released on return unless ``keep`` (:func:`console`).
    """
    args = list(argv) if argv is not None else sys.argv[1:]
    debug = "--debug" in args or os.environ.get("ACM_DEBUG", "") not in ("", "0")
    args = [a for a in args if a != "--debug"]
    # No cyclic garbage collection for the run (restored after): a command loads,
    # analyses and renders data that is acyclic and alive until the end, and the
    # collector's passes over it cost more than the analysis itself on a large
    # site (reference counting frees everything as usual). `acm watch`, which
    # runs for days, turns it back on.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _run(args)
    except Exception as exc:  # noqa: BLE001 - the last line of defence, by design
        if debug:
            raise
        what = one_line(f"{type(exc).__name__}: {exc}")[:300]
        echo(f"acm: internal error ({what}); this is a bug in ACM: please report it "
             "with the input, run with --debug for the traceback", err=True)
        return 3
    finally:
        if not keep:
            lifetime.release()  # freed while the collector is still off
        if collecting and not (keep and lifetime.kept()):
            gc.enable()  # (not for data kept to the end: it would be walked at exit)
        else:
            gc.disable()  # as it was, even after watch turned it on


def _run(args: list[str]) -> int:
    try:
        result = cli.main(args=args, prog_name="acm", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return 2 if isinstance(exc, click.UsageError) else int(exc.exit_code) or 2
    except click.exceptions.Abort:
        echo("acm: interrupted", err=True)
        return 130
    except AcmError as exc:
        echo(f"acm: error: {one_line(str(exc))}", err=True)
        return 2
    return int(result or 0)

