"""``acm serve --stdio``: one long-lived analyzer that answers JSON lines (the editor's worker).

The Node-RED bridge used to start a Python per click, and start-up and imports
were three quarters of every answer. A worker pays them once, then runs the
same click commands as ``acm`` does, in this process, one request at a time::

    -> {"id": 1, "op": "analyze", "args": ["analyze", "-", "--format", "json"], "input": "[...]"}
    <- {"id": 1, "code": 0, "stdout": "{...}", "stderr": ""}

``args`` are the command line after ``acm``; ``input`` is what a fresh process
would read on standard input; the answer carries the exit code and what a fresh
process would print, byte for byte but for the time an analysis took (the
command's streams are swapped for in-memory ones with the encodings of this
process's own). ``op`` names the command the request may run, so a worker that
the editor talks to runs only analyze, resolve (``plan`` and ``resolve``) and
strategies, never deploy or watch.

The first line the worker prints is ``{"protocol": "acm.serve/1", "ready":
true, ...}``. A worker that finds no request waiting warms up while it waits
(one small analysis and plan: imports, rule grammar, built-in rules); one that
finds a request answers it first. It never dies of a request: a line that is
not such a request gets ``code`` 2 and one line on stderr, an unexpected error
``code`` 3 and one line, as from the CLI. With ``--max-requests N`` it answers
N lines, marks the last answer ``"last": true`` and exits 0, so whoever runs it
can replace it before its memory grows; it also exits at the end of its input.
"""

from __future__ import annotations

import gc
import io
import json
import math
import select
import sys
import traceback
from collections.abc import Callable
from typing import IO, Any

PROTOCOL = "acm.serve/1"

#: Which command each operation may run (the first of ``args``).
OPERATIONS = {"analyze": "analyze", "plan": "resolve", "resolve": "resolve",
              "strategies": "strategies"}

#: A small site run once before the worker says it is ready: the rule grammar,
#: the built-in rules, the graph, propagation and the JSON renderer are then warm.
WARM_FLOWS = json.dumps([
    {"id": "warm-tab-a", "type": "tab", "label": "A"},
    {"id": "warm-tab-b", "type": "tab", "label": "B"},
    {"id": "warm-in-a", "type": "inject", "z": "warm-tab-a", "repeat": "60", "payload": "on",
     "wires": [["warm-out-a"]]},
    {"id": "warm-in-b", "type": "inject", "z": "warm-tab-b", "repeat": "60", "payload": "off",
     "wires": [["warm-out-b"]]},
    {"id": "warm-out-a", "type": "mqtt out", "z": "warm-tab-a", "topic": "warm/lamp/set",
     "broker": "warm-broker", "wires": []},
    {"id": "warm-out-b", "type": "mqtt out", "z": "warm-tab-b", "topic": "warm/lamp/set",
     "broker": "warm-broker", "wires": []},
    {"id": "warm-broker", "type": "mqtt-broker", "broker": "localhost", "port": "1883"},
])
WARM_REQUESTS = (
    ["analyze", "-", "--format", "json", "--fail-on", "never"],
    ["resolve", "-", "--plan"],
)


class BadRequest(Exception):
    """A line that is not a request this worker can run (``request_id``: its id, if read)."""

    def __init__(self, message: str, request_id: Any = None) -> None:
        super().__init__(message)
        self.request_id = request_id


def serve_stdio(max_requests: int = 0, stdin: IO[bytes] | None = None,
                stdout: IO[bytes] | None = None) -> int:
    """Answer request lines from ``stdin`` until its end (or ``max_requests``); exit code."""
    from .commands import main  # the commands, exactly as `acm` runs them

    source = stdin if stdin is not None else sys.stdin.buffer
    sink = stdout if stdout is not None else sys.stdout.buffer
    # The commands run with the streams swapped for in-memory ones: remember how this
    # process's real streams encode, since a fresh `acm` would have used those.
    streams = _Streams.like(sys.stdin, sys.stdout, sys.stderr)
    _write(sink, {"protocol": PROTOCOL, "ready": True, "version": _version(),
                  "max_requests": max_requests})
    answered = 0
    warm = False
    while True:
        if not warm and not _waiting(source):
            # Started ahead of the next request (a successor after --max-requests): warm
            # up now. A request already waiting is answered first and warms what it uses.
            warm_up(main, streams)
            warm = True
        try:
            line = source.readline()
        except KeyboardInterrupt:
            return 130
        if not line:
            return 0  # the bridge closed our input: stop
        if not line.strip():
            continue
        try:
            answer = handle(line, main, streams)
        except KeyboardInterrupt:
            return 130
        except BaseException as exc:  # noqa: BLE001 - the worker must outlive any request
            answer = internal_error(None, exc)
        answered += 1
        last = 0 < max_requests <= answered
        if last:
            answer["last"] = True
        try:
            _write(sink, answer)
        except (BrokenPipeError, KeyboardInterrupt):
            return 0  # nobody reads our answers any more
        if last:
            return 0
        # What a request left behind is collected now, between requests, while the
        # bridge is reading the answer; the warm modules were frozen out of the scans.
        gc.collect()
        if not warm:
            gc.freeze()  # the first request loaded the modules it needs
            warm = True


def handle(line: bytes, main: Callable[[list[str]], int], streams: _Streams) -> dict[str, Any]:
    """One request line -> its answer (never raises for a bad line)."""
    try:
        request = _parse(line)
    except BadRequest as exc:
        return {"id": exc.request_id, "code": 2, "stdout": "",
                "stderr": f"acm: serve: error: {exc}\n"}
    try:
        code, out, err = run_command(main, request["args"], request["input"], streams)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - the worker must outlive any request
        return internal_error(request["id"], exc)
    return {"id": request["id"], "code": code, "stdout": out, "stderr": err}


def internal_error(request_id: Any, exc: BaseException) -> dict[str, Any]:
    """The answer to a request that failed in the worker itself (a bug in ACM)."""
    return {"id": request_id, "code": 3, "stdout": "",
            "stderr": f"acm: serve: internal error ({_one_line(exc)})\n"}


def _parse(line: bytes) -> dict[str, Any]:
    """One request line -> ``{id, args, input}``; a :class:`BadRequest` saying what is wrong."""
    request = _load_request(line)
    request_id = _request_id(request)
    args = request.get("args")
    text = request.get("input", "")
    _check_command(request.get("op"), args, request_id)
    if isinstance(request_id, float) and not math.isfinite(request_id):
        raise BadRequest("'id' must be a finite number", None)
    if not isinstance(text, str):
        raise BadRequest("'input' must be a string", request_id)
    return {"id": request_id, "args": args, "input": text}


def _load_request(line: bytes) -> dict[str, Any]:
    """The JSON object a request line holds."""
    try:
        request = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"a request is one JSON object per line ({_one_line(exc)})") from None
    if not isinstance(request, dict):
        raise BadRequest("a request is a JSON object {id, op, args, input}")
    return request


def _request_id(request: dict[str, Any]) -> Any:
    """The request's ``id``: null, a string or a number (not a boolean)."""
    request_id = request.get("id")
    if not (request_id is None or isinstance(request_id, (str, int, float))) \
            or isinstance(request_id, bool):
        raise BadRequest("'id' must be a string or a number")
    return request_id


def _check_command(op: Any, args: Any, request_id: Any) -> None:
    """Refuse a command line the operation ``op`` may not run in a worker."""
    if not isinstance(op, str) or op not in OPERATIONS:
        raise BadRequest(f"'op' must be one of {', '.join(sorted(OPERATIONS))}", request_id)
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise BadRequest("'args' must be a list of strings", request_id)
    if not args or args[0] != OPERATIONS[op]:
        raise BadRequest(f"op {op} runs `acm {OPERATIONS[op]} ...`: 'args' must start "
                         f"with {OPERATIONS[op]!r}", request_id)
    if "--debug" in args:
        raise BadRequest("--debug is not available in a worker", request_id)
    written = _writes_a_file(args)
    if written:
        raise BadRequest(f"{written} is not available in a worker: it answers on its output "
                         "only", request_id)


#: Options that make a command write a file (a worker answers on its output only).
_WRITING = ("--output", "--out-dir", "--write-baseline", "--write-findings")


def _writes_a_file(args: list[str]) -> str | None:
    """The option in ``args`` that would write a file, if any (``-o -`` is the output)."""
    for index, arg in enumerate(args):
        following = args[index + 1] if index + 1 < len(args) else ""
        if arg.startswith("--"):
            name, equals, value = arg.partition("=")
            if name not in _WRITING:
                continue
            target = value if equals else following
        elif arg.startswith("-o"):
            name, target = "-o", arg[2:] or following
        else:
            continue
        if target != "-":
            return name
    return None


class _Streams:
    """The standard streams a command runs with: in memory, encoded as a fresh ``acm``
    process would encode its own, and made once for the worker's life (click keeps
    every stream it writes to in a cache that never lets go of it)."""

    def __init__(self, stdin: tuple[str, str], stdout: tuple[str, str],
                 stderr: tuple[str, str]) -> None:
        self.codecs = stdin, stdout, stderr
        self._make()

    @classmethod
    def like(cls, stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> _Streams:
        def codec(stream: IO[str], errors: str) -> tuple[str, str]:
            return (getattr(stream, "encoding", None) or "utf-8",
                    getattr(stream, "errors", None) or errors)

        return cls(codec(stdin, "strict"), codec(stdout, "strict"),
                   codec(stderr, "backslashreplace"))

    def _make(self) -> None:
        (in_enc, in_err), (out_enc, out_err), (err_enc, err_err) = self.codecs
        self.stdin = io.TextIOWrapper(io.BytesIO(), encoding=in_enc, errors=in_err)
        self.stdout = io.TextIOWrapper(io.BytesIO(), encoding=out_enc, errors=out_err)
        self.stderr = io.TextIOWrapper(io.BytesIO(), encoding=err_enc, errors=err_err,
                                       line_buffering=True)

    def reset(self, data: bytes) -> None:
        """Empty output streams and ``data`` to read, for the next command."""
        if self.stdin.closed or self.stdout.closed or self.stderr.closed:
            self._make()  # a command closed one: start over
        raw = self.stdin.buffer
        raw.seek(0)
        raw.truncate()
        raw.write(data)
        self.stdin.seek(0)  # also resets the decoder and what it had read ahead
        for stream in (self.stdout, self.stderr):
            stream.buffer.seek(0)
            stream.buffer.truncate()

    def output(self) -> tuple[str, str]:
        """What the command printed; Node reads a child's output as UTF-8 (an invalid
        byte as U+FFFD), and so does this."""
        texts = []
        for stream in (self.stdout, self.stderr):
            try:
                stream.flush()
            except (ValueError, UnicodeError):
                pass
            buffer = stream.buffer
            texts.append(buffer.getvalue().decode("utf-8", "replace")
                         if isinstance(buffer, io.BytesIO) and not buffer.closed else "")
        if not self.stdin.closed:
            self.stdin.buffer.truncate(0)  # the input is not needed any more
        return texts[0], texts[1]


def run_command(main: Callable[[list[str]], int], args: list[str], text: str,
                streams: _Streams) -> tuple[int, str, str]:
    """Run ``acm ARGS`` with ``text`` on standard input; (exit code, stdout, stderr)."""
    # Node writes a string to a pipe as UTF-8, a lone surrogate as U+FFFD.
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        data = text.encode("utf-8", "replace")
    streams.reset(data)
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = streams.stdin, streams.stdout, streams.stderr
    try:
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if exc.code is not None and not isinstance(exc.code, int):
                print(exc.code, file=sys.stderr)
        except KeyboardInterrupt:
            raise
        except BaseException:  # noqa: BLE001 - what an uncaught exception does to a process
            # Only with ACM_DEBUG=1, where main() lets exceptions through: Python's own
            # answer to an uncaught exception is the traceback and exit code 1.
            traceback.print_exc(file=sys.stderr)
            code = 1
        out, err = streams.output()
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
    return int(code), out, err


def warm_up(main: Callable[[list[str]], int], streams: _Streams) -> None:
    """Build what the next request would otherwise build, then exempt it from the GC."""
    for args in WARM_REQUESTS:
        try:
            run_command(main, list(args), WARM_FLOWS, streams)
        except Exception:  # noqa: BLE001, S110 - warming is an optimisation, never a failure
            pass
    # The modules, rules and grammar stay for the worker's life: move them out of the
    # collector's generations so that the collections between requests do not scan them.
    gc.collect()
    gc.freeze()


def _waiting(source: IO[bytes]) -> bool:
    """Whether a request can be read from ``source`` without waiting (False if unknown)."""
    try:
        readable, _, _ = select.select([source], [], [], 0)
    except (OSError, ValueError, TypeError, io.UnsupportedOperation):
        return False  # not a pipe (a test's BytesIO, Windows): warm up first
    return bool(readable)


def _write(sink: IO[bytes], doc: dict[str, Any]) -> None:
    # ensure_ascii: the line is plain ASCII whatever the output holds (a lone surrogate too)
    sink.write(json.dumps(doc).encode("ascii") + b"\n")
    sink.flush()


def _version() -> str:
    from ..version import __version__

    return __version__


def _one_line(exc: BaseException) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text[:300]
