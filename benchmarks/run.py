"""Benchmark ``acm analyze`` against plain ``json.loads`` on synthetic sites.

For each size (default 1k, 10k and 100k nodes) the script generates a site
with ``generate_site.generate`` into ``benchmarks/out/`` (git-ignored), then
measures in the same run:

* ``json.loads`` of the file text (best of N, in a fresh interpreter);
* ``python -m acm analyze FILE --format json --fail-on never`` in a fresh
  subprocess per repetition (stdout discarded): best-of-N wall time and the
  peak RSS of that child alone (``os.wait4`` rusage taken by a small launcher
  process, so neither earlier runs nor this process's memory leak into it);
* the fixed start-up cost of the same interpreter importing the CLI
  (``python -c "import acm.cli"``), best of N.

It prints a Markdown table to stdout; progress goes to stderr. ``ratio`` is
(analyze wall time - start-up) / json.loads time: how many json.loads' worth
of work the analysis itself costs.

Usage::

    python benchmarks/run.py [--sizes 1000,10000] [--repeat 3] [--python PY]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from generate_site import generate  # noqa: E402


@dataclass
class Child:
    wall: float  # seconds
    maxrss_kib: int
    returncode: int
    stderr: str


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# The peak RSS of a child read by the parent's wait4 is not clean: Linux carries the
# high-water mark of the address space that was replaced at exec, i.e. a copy of this
# (large, after generating 100k nodes) benchmark process. So each measurement goes
# through a tiny launcher interpreter that starts the command, times it and reports
# the command's own wait4 rusage; its floor is a bare interpreter's RSS.
LAUNCHER = r"""
import json, os, signal, subprocess, sys, time
cmd, timeout = json.loads(sys.argv[1]), float(sys.argv[2])
start = time.perf_counter()
proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
signal.signal(signal.SIGALRM, lambda *_: proc.kill())
signal.setitimer(signal.ITIMER_REAL, timeout)
_, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - start
signal.setitimer(signal.ITIMER_REAL, 0)
proc.returncode = os.waitstatus_to_exitcode(status)
rss = usage.ru_maxrss // 1024 if sys.platform == "darwin" else usage.ru_maxrss
print(json.dumps({"wall": wall, "maxrss_kib": rss, "rc": proc.returncode}))
"""


def run_child(cmd: list[str], timeout: float) -> Child:
    """Run cmd (stdout discarded) in a fresh process: wall time and its own peak RSS."""
    with tempfile.TemporaryFile() as err:
        done = subprocess.run(
            [sys.executable, "-c", LAUNCHER, json.dumps(cmd), str(timeout)],
            cwd=REPO, stdout=subprocess.PIPE, stderr=err, check=False)
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    try:
        res = json.loads(done.stdout)
    except ValueError:
        return Child(0.0, 0, done.returncode or 1, text + done.stdout.decode(errors="replace"))
    return Child(res["wall"], res["maxrss_kib"], res["rc"], text)


def best_child(cmd: list[str], repeat: int, timeout: float) -> Child:
    runs = []
    for _ in range(repeat):
        child = run_child(cmd, timeout)
        if child.returncode != 0:
            return child
        runs.append(child)
    best = min(runs, key=lambda c: c.wall)
    best.maxrss_kib = max(c.maxrss_kib for c in runs)
    return best


LOADS = r"""
import json, sys, time
text = open(sys.argv[1], encoding="utf-8").read()
best, count = float("inf"), 0
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    data = json.loads(text)
    best = min(best, time.perf_counter() - start)
    count = len(data)
    del data
print(best, count)
"""


def time_json_loads(path: Path, repeat: int) -> tuple[float, int]:
    """Best-of-N json.loads of the file text, in a fresh interpreter (a clean heap, as
    acm analyze gets), with the garbage collector on as usual."""
    done = subprocess.run([sys.executable, "-c", LOADS, str(path), str(repeat)],
                          stdout=subprocess.PIPE, check=True, text=True)
    best, count = done.stdout.split()
    return float(best), int(count)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000,100000",
                    help="comma-separated node counts (default: 1000,10000,100000)")
    ap.add_argument("--repeat", type=int, default=3, help="repetitions; best is kept")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter that runs acm (default: this one)")
    ap.add_argument("--out-dir", default=str(HERE / "out"),
                    help="where generated sites go (default: benchmarks/out, git-ignored)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per acm run")
    args = ap.parse_args(argv)
    try:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        ap.error(f"--sizes must be comma-separated integers, got {args.sizes!r}")
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    # Is acm importable by that interpreter (from the repo root)?
    log(f"checking that {args.python} can import acm.cli ...")
    startup = best_child([args.python, "-c", "import acm.cli"], args.repeat, 120)
    have_acm = startup.returncode == 0
    if not have_acm:
        log("error: `import acm.cli` failed with " + args.python + "; "
            "install the package (pip install -e .) or pass --python. stderr:\n"
            + startup.stderr.strip()[-2000:])
    else:
        log(f"  start-up (python -c 'import acm.cli'): {startup.wall:.3f}s, "
            f"{startup.maxrss_kib / 1024:.1f} MiB")

    rows = []
    failed = False
    for n in sizes:
        path = out_dir / f"site-{n}-s{args.seed}.json"
        log(f"[{n}] generating {path} ...")
        t0 = time.perf_counter()
        nodes = generate(n, args.seed)
        text = json.dumps(nodes, indent=4, ensure_ascii=False) + "\n"
        del nodes
        path.write_text(text, encoding="utf-8")
        log(f"[{n}]   {len(text.encode()) / 1e6:.1f} MB in {time.perf_counter() - t0:.1f}s")
        loads, count = time_json_loads(path, args.repeat)
        size_mb = path.stat().st_size / 1e6
        log(f"[{n}]   json.loads best of {args.repeat}: {loads:.4f}s ({count} nodes)")
        row = {"nodes": count, "mb": size_mb, "loads": loads, "analyze": None,
               "net": None, "ratio": None, "rss": None}
        if have_acm:
            cmd = [args.python, "-m", "acm", "analyze", str(path), "--format", "json",
                   "--fail-on", "never"]
            log(f"[{n}]   acm analyze x{args.repeat} ...")
            child = best_child(cmd, args.repeat, args.timeout)
            if child.returncode != 0:
                failed = True
                log(f"[{n}]   error: acm analyze exited {child.returncode}; stderr:\n"
                    + child.stderr.strip()[-2000:])
            else:
                net = max(child.wall - startup.wall, 0.0)
                row.update(analyze=child.wall, net=net, ratio=net / loads if loads else None,
                           rss=child.maxrss_kib / 1024)
                log(f"[{n}]   acm analyze best: {child.wall:.3f}s "
                    f"(net {net:.3f}s), peak RSS {child.maxrss_kib / 1024:.1f} MiB")
        rows.append(row)

    def fmt(v: float | None, spec: str) -> str:
        return "n/a" if v is None else format(v, spec)

    print(f"Python {sys.version.split()[0]} ({args.python}), best of {args.repeat}; "
          f"seed {args.seed}.")
    if have_acm:
        print(f"Start-up (`python -c \"import acm.cli\"`): {startup.wall:.3f} s, "
              f"peak RSS {startup.maxrss_kib / 1024:.1f} MiB; "
              "'net' = analyze - start-up; ratio = net / json.loads.")
    print()
    print("| nodes | file MB | json.loads s | acm analyze s | net analyze s | ratio "
          "| peak RSS MiB |")
    print("|------:|--------:|-------------:|--------------:|--------------:|------:"
          "|-------------:|")
    for r in rows:
        print(f"| {r['nodes']} | {r['mb']:.1f} | {r['loads']:.4f} | "
              f"{fmt(r['analyze'], '.3f')} | {fmt(r['net'], '.3f')} | "
              f"{fmt(r['ratio'], '.1f')} | {fmt(r['rss'], '.1f')} |")
    if not have_acm:
        print("\nacm is not importable: analyze columns are n/a (see stderr).")
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
