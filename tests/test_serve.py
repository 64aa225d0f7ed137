"""``acm serve --stdio``, the editor's long-lived analyzer: its answers are those of a fresh
``acm`` process, and no line can end it.

A worker process answers the same requests as fresh ``acm`` processes (the bundled
flows, real flows from the corpus, plan, resolve, strategies, bad input); then bad
lines, an internal error (code 3, one line) and many requests are checked in this
interpreter through :func:`acm.cli.serve.serve_stdio`. The bridge's side of the protocol
(restart after a crash, after N requests, on a timeout) is tested in
``nodered-bridge/test/worker.test.js``; how fast it is lives in ``benchmarks/``.
"""

from __future__ import annotations

import gc
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CORPUS, ROOT

import acm.cli.serve
import acm.engine
from acm.cli.serve import PROTOCOL, serve_stdio

ANALYZE = ["analyze", "-", "--format", "json", "--fail-on", "never"]
# The one thing that differs between two runs of the same analysis: how long it took.
SECONDS = re.compile(r'"seconds": [0-9.e-]+')


def _python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def fresh(args: list[str], text: str) -> tuple[int, str, str]:
    """``python -I -m acm ARGS`` in a new process, as the bridge used to run it."""
    proc = subprocess.run([_python(), "-I", "-m", "acm", *args], input=text.encode("utf-8"),
                          capture_output=True, cwd=ROOT / "nodered-bridge", timeout=120,
                          env=dict(os.environ))
    return (proc.returncode, proc.stdout.decode("utf-8", "replace"),
            proc.stderr.decode("utf-8", "replace"))


class Worker:
    """A real ``acm serve --stdio`` process."""

    def __init__(self, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [_python(), "-I", "-m", "acm", "serve", "--stdio", *extra],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=ROOT / "nodered-bridge", env=dict(os.environ))
        self.hello = self.read()
        self.ids = iter(range(1, 1_000_000))

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"the worker ended: {self.stderr()}"
        doc: dict[str, Any] = json.loads(line)
        return doc

    def send(self, raw: bytes) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(raw + b"\n")
        self.proc.stdin.flush()
        return self.read()

    def ask(self, op: str, args: list[str], text: str = "") -> dict[str, Any]:
        request_id = next(self.ids)
        answer = self.send(json.dumps({"id": request_id, "op": op, "args": args,
                                       "input": text}).encode("utf-8"))
        assert answer["id"] == request_id
        return answer

    def stderr(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return ""
        return self.proc.stderr.read().decode("utf-8", "replace")

    def close(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    w = Worker()
    yield w
    assert w.close() == 0


def same_as_fresh(worker: Worker, op: str, args: list[str], text: str) -> dict[str, Any]:
    code, out, err = fresh(args, text)
    answer = worker.ask(op, args, text)
    assert (answer["code"], SECONDS.sub("", answer["stdout"]), answer["stderr"]) == \
        (code, SECONDS.sub("", out), err)
    return answer


def test_the_first_line_says_the_worker_is_ready(worker: Worker) -> None:
    assert worker.hello["protocol"] == PROTOCOL
    assert worker.hello["ready"] is True
    assert worker.hello["version"] == acm.__version__


BUNDLED = ["building", "home", "quiet"]


@pytest.mark.parametrize("name", BUNDLED)
def test_analyze_answers_as_a_fresh_process_bundled(worker: Worker, name: str) -> None:
    text = (ROOT / "flows" / name / "flows.json").read_text(encoding="utf-8")
    answer = same_as_fresh(worker, "analyze", ANALYZE, text)
    assert json.loads(answer["stdout"])["schema"] == "acm.findings/1"


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    files = sorted(CORPUS.glob("*.json"), key=lambda p: p.stat().st_size)
    return [files[0], files[len(files) // 2], files[-1]] if len(files) >= 3 else files


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.stem[:40])
def test_analyze_answers_as_a_fresh_process_corpus(worker: Worker, path: Path) -> None:
    same_as_fresh(worker, "analyze", ANALYZE, path.read_text(encoding="utf-8-sig"))


def test_plan_resolve_strategies_and_text_answer_as_a_fresh_process(worker: Worker) -> None:
    text = (ROOT / "flows" / "building" / "flows.json").read_text(encoding="utf-8")
    plan = same_as_fresh(worker, "plan", ["resolve", "-", "--plan"], text)
    conflict = json.loads(plan["stdout"])["planned"][0]["conflict"]
    resolved = same_as_fresh(worker, "resolve", ["resolve", "-", "--only", conflict,
                                                 "--strategy", "dwell", "--set", "min=30s",
                                                 "-o", "-"], text)
    assert resolved["stderr"], "the plan lines go to stderr"
    same_as_fresh(worker, "strategies", ["strategies", "--format", "json"], "")
    same_as_fresh(worker, "analyze", ["analyze", "-"], text)  # text report, exit 1


@pytest.mark.parametrize(("args", "text"), [
    (ANALYZE, "{not json"),  # bad flows: exit 2, one line
    (ANALYZE, "[]\r\n\r\n  x"),  # positions counted as a process reads its input
    ([*ANALYZE, "--rules", "/nonexistent/extra.acm"], "[]"),
    (["analyze", "-", "--format", "nope"], "[]"),  # usage: click's message
    (["analyze", "--help"], ""),
    (["resolve", "-", "--only", "X", "--strategy", "dwell", "--set", "min=soon", "-o", "-"],
     "[]"),
])
def test_errors_and_usage_answer_as_a_fresh_process(worker: Worker, args: list[str],
                                                     text: str) -> None:
    op = "analyze" if args[0] == "analyze" else "resolve"
    same_as_fresh(worker, op, args, text)


def test_a_non_ascii_and_surrogate_input_answers_as_a_fresh_process(worker: Worker) -> None:
    text = json.dumps([{"id": "t1", "type": "tab", "label": "Küche ☀ \ud800"},
                       {"id": "n1", "type": "inject", "z": "t1", "name": "\U0001F600",
                        "wires": [[]]}], ensure_ascii=False)
    # a lone surrogate as the bridge sends it: JSON.stringify escapes it
    text = text.replace("\ud800", "\\ud800")
    same_as_fresh(worker, "analyze", ANALYZE, text)
    same_as_fresh(worker, "analyze", ["analyze", "-"], text)


def test_a_worker_replaced_after_n_requests_marks_its_last_answer() -> None:
    w = Worker("--max-requests", "2")
    assert w.hello["max_requests"] == 2
    first = w.ask("strategies", ["strategies", "--format", "json"])
    second = w.ask("strategies", ["strategies", "--format", "json"])
    assert "last" not in first
    assert second["last"] is True
    assert w.proc.wait(timeout=30) == 0


# ------------------------------------------------------------------ in this interpreter


def serve_lines(lines: list[bytes], max_requests: int = 0) -> tuple[int, list[dict[str, Any]]]:
    """Run serve_stdio here on ``lines``; its exit code and every line it printed."""
    out = io.BytesIO()
    frozen = gc.get_freeze_count()
    try:
        code = serve_stdio(max_requests, stdin=io.BytesIO(b"".join(line + b"\n" for line in lines)),
                           stdout=out)
    finally:
        if gc.get_freeze_count() > frozen:
            gc.unfreeze()  # the worker freezes what is warm: not this test process's objects
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def request(request_id: Any, op: str, args: list[str], text: str = "") -> bytes:
    return json.dumps({"id": request_id, "op": op, "args": args, "input": text}).encode()


STRATEGIES = request("s", "strategies", ["strategies", "--format", "json"])


@pytest.mark.parametrize(("line", "expected_id", "message"), [
    (b"not json", None, "a request is one JSON object per line"),
    (b"\xff\xfe{}", None, "a request is one JSON object per line"),
    (b"[1, 2]", None, "a request is a JSON object"),
    (b'{"id": [1], "op": "analyze", "args": ["analyze"]}', None, "'id' must be"),
    (b'{"id": true, "op": "analyze", "args": ["analyze"]}', None, "'id' must be"),
    (b'{"id": 7, "op": "deploy", "args": ["deploy"]}', 7, "'op' must be one of"),
    (b'{"id": 7, "op": "analyze", "args": "analyze -"}', 7, "'args' must be a list"),
    (b'{"id": 7, "op": "analyze", "args": ["watch", "x.yaml"]}', 7, "must start with 'analyze'"),
    (b'{"id": 7, "op": "plan", "args": []}', 7, "must start with 'resolve'"),
    (b'{"id": 7, "op": "analyze", "args": ["analyze", "-", "--debug"]}', 7, "--debug"),
    (b'{"id": "x", "op": "analyze", "args": ["analyze", "-"], "input": 3}', "x",
     "'input' must be a string"),
    (b"[" * 100_000 + b"]" * 100_000, None, "a request is one JSON object per line"),
    # a worker answers on its output only: it never writes a file for a request
    (b'{"id": 8, "op": "resolve", "args": ["resolve", "-", "-o", "/tmp/acm-x"]}', 8,
     "-o is not available in a worker"),
    (b'{"id": 8, "op": "analyze", "args": ["analyze", "-", "-o/tmp/acm-x"]}', 8,
     "-o is not available in a worker"),
    (b'{"id": 8, "op": "analyze", "args": ["analyze", "-", "--output=/tmp/acm-x"]}', 8,
     "--output is not available"),
    (b'{"id": 8, "op": "analyze", "args": ["analyze", "-", "--write-baseline", "b.json"]}', 8,
     "--write-baseline is not available"),
    (b'{"id": NaN, "op": "analyze", "args": ["analyze", "-"]}', None,
     "'id' must be a finite number"),
])
def test_a_bad_line_gets_code_2_and_one_line_and_the_worker_goes_on(
        line: bytes, expected_id: Any, message: str) -> None:
    code, printed = serve_lines([line, STRATEGIES])
    assert code == 0
    hello, bad, good = printed
    assert hello["ready"] is True
    assert bad["id"] == expected_id
    assert bad["code"] == 2
    assert bad["stdout"] == ""
    assert bad["stderr"].startswith("acm: serve: error: ")
    assert message in bad["stderr"]
    assert bad["stderr"].count("\n") == 1 and bad["stderr"].endswith("\n")
    assert (good["id"], good["code"]) == ("s", 0)


def test_an_internal_error_in_a_command_is_code_3_and_one_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug\nover two lines")

    monkeypatch.setattr(acm.engine, "inspect", broken)
    code, printed = serve_lines([request(1, "analyze", ANALYZE, "[]"), STRATEGIES])
    assert code == 0
    failed, good = printed[1], printed[2]
    assert failed["code"] == 3
    assert failed["stderr"].startswith("acm: internal error (RuntimeError: a bug over two lines)")
    assert failed["stderr"].count("\n") == 1
    assert good["code"] == 0


def test_an_internal_error_in_the_worker_itself_is_code_3_and_one_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = acm.cli.serve.run_command
    calls = iter(range(100))

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if next(calls) == 2:  # after the two warm-up runs: the first request
            raise MemoryError("no room")
        return real(*args, **kwargs)

    monkeypatch.setattr(acm.cli.serve, "run_command", flaky)
    code, printed = serve_lines([request(1, "analyze", ANALYZE, "[]"), STRATEGIES])
    assert code == 0
    assert (printed[1]["id"], printed[1]["code"]) == (1, 3)
    assert printed[1]["stderr"] == "acm: serve: internal error (MemoryError: no room)\n"
    assert printed[2]["code"] == 0


def test_many_requests_one_worker_and_gc_as_it_was() -> None:
    flows = (ROOT / "flows" / "building" / "flows.json").read_text(encoding="utf-8")
    lines = []
    for i in range(60):
        lines.append(request(i, "analyze", ANALYZE, flows))
        lines.append(b"garbage" if i % 10 == 0 else b"   ")
    collecting = gc.isenabled()
    code, printed = serve_lines(lines)
    assert gc.isenabled() == collecting
    assert code == 0
    answers = [p for p in printed[1:] if p["id"] is not None]
    assert [a["id"] for a in answers] == list(range(60))
    assert all(a["code"] == 0 for a in answers)
    first = SECONDS.sub("", answers[0]["stdout"])
    assert all(SECONDS.sub("", a["stdout"]) == first for a in answers)
    assert sum(1 for p in printed[1:] if p["id"] is None) == 6  # the garbage lines


def test_max_requests_stops_after_n_answers_even_with_more_input() -> None:
    code, printed = serve_lines([STRATEGIES, b"garbage", STRATEGIES, STRATEGIES], max_requests=2)
    assert code == 0
    assert len(printed) == 3
    assert printed[2]["last"] is True
    assert "last" not in printed[1]


def test_the_command_streams_are_restored_after_each_request() -> None:
    before = sys.stdin, sys.stdout, sys.stderr
    serve_lines([request(1, "analyze", ANALYZE, "{bad")])
    assert (sys.stdin, sys.stdout, sys.stderr) == before


def test_serve_needs_stdio(run_acm: Any) -> None:
    result = run_acm("serve")
    assert result.code == 2
    assert "--stdio" in result.err


def test_memory_does_not_grow_with_requests() -> None:
    """Each request's streams and output are let go (click caches every stream it writes
    to for good, so the worker gives it the same ones every time)."""
    import tracemalloc

    from acm.cli import main
    from acm.cli.serve import _Streams, run_command

    flows = (ROOT / "flows" / "building" / "flows.json").read_text(encoding="utf-8")
    streams = _Streams.like(sys.stdin, sys.stdout, sys.stderr)
    for _ in range(3):
        _, out, _ = run_command(main, ANALYZE, flows, streams)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(30):
            run_command(main, ANALYZE, flows, streams)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 5 * len(out), f"{grown} bytes more after 30 requests of {len(out)} bytes"
