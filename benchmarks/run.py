"""Benchmark ``acm``'s start-up and ``acm analyze`` against ``json.load`` of the same file.

Everything is measured in the same run, each command in a fresh process
(best of N; the peak RSS is the largest of the N), so the ratios hold on a
shared machine even when the seconds do not:

* **start-up**: ``acm --help`` against ``python -c "import click"`` (target:
  at most 2x), and ``acm analyze`` of the largest real flows file found in
  the corpus (``../shared/corpus/flows``, by node count; or ``--corpus``)
  against ``json.load`` of it (target: at most 0.35 s wall on an idle machine);
* **editor click** (``editor.py``): ``POST /acm/analyze`` of that file on a real
  Node-RED 4 with the plugin, its long-lived worker against a process per click
  (target: under 150 ms median after the first click);
* **scaling**: for each size (default 1k, 10k, 100k and 300k nodes) a synthetic
  site from ``generate_site.generate`` (written to ``benchmarks/out/``,
  git-ignored), ``acm analyze FILE --format json`` against
  ``python -c "json.load(...)"`` of the same file: CPU time (user + system) and
  peak RSS of each process, and their ratios (targets at 100k nodes: CPU at
  most 4x, peak RSS at most 2x; CPU per node about constant from size to size,
  i.e. linear).

Each measurement goes through a small launcher process that starts the
command and reads its own ``wait4`` rusage (see ``LAUNCHER``). Child
processes run without ``PYTHONDONTWRITEBYTECODE``: an installed package has
its bytecode compiled, so start-up is measured as users get it (the warm-up
run writes the ``.pyc`` files).

It prints Markdown tables to stdout; progress goes to stderr.

Usage::

    python benchmarks/run.py [--sizes 1000,10000,100000,300000] [--repeat 5] [--python PY]
"""

from __future__ import annotations

import argparse
import json
import os
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

#: Targets of issue 14 (items 1 and 3), printed beside the figures.
HELP_RATIO_TARGET = 2.0  # acm --help / import click, wall
ANALYZE_WALL_TARGET = 0.35  # s, acm analyze of the largest real flows file, idle machine
CPU_RATIO_TARGET = 4.0  # acm analyze / json.load, CPU, at 100k nodes
RSS_RATIO_TARGET = 2.0  # acm analyze / json.load, peak RSS, at 100k nodes


@dataclass
class Child:
    wall: float  # seconds
    cpu: float  # seconds, user + system
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
print(json.dumps({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
                  "maxrss_kib": rss, "rc": proc.returncode}))
"""

#: The environment of measured processes (see the module docstring).
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_child(cmd: list[str], timeout: float) -> Child:
    """Run cmd (stdout discarded) in a fresh process: wall and CPU time, its own peak RSS."""
    with tempfile.TemporaryFile() as err:
        done = subprocess.run(
            [sys.executable, "-c", LAUNCHER, json.dumps(cmd), str(timeout)],
            cwd=REPO, stdout=subprocess.PIPE, stderr=err, check=False, env=CHILD_ENV)
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    try:
        res = json.loads(done.stdout)
    except ValueError:
        return Child(0.0, 0.0, 0, done.returncode or 1,
                     text + done.stdout.decode(errors="replace"))
    return Child(res["wall"], res["cpu"], res["maxrss_kib"], res["rc"], text)


def interleaved(cmds: dict[str, list[str]], repeat: int, timeout: float,
                ok: tuple[int, ...] = (0,)) -> dict[str, Child]:
    """Best of ``repeat`` for each command, taking turns, so a burst of load elsewhere
    on the machine hits all of them alike."""
    runs: dict[str, list[Child]] = {name: [] for name in cmds}
    for _ in range(repeat):
        for name, cmd in cmds.items():
            child = run_child(cmd, timeout)
            if child.returncode not in ok:
                return {name: child}
            runs[name].append(child)
    out = {}
    for name, found in runs.items():
        best = min(found, key=lambda c: c.wall)
        out[name] = Child(best.wall, min(c.cpu for c in found),
                          max(c.maxrss_kib for c in found), best.returncode, best.stderr)
    return out


def acm_command(python: str) -> list[str]:
    """How users start acm: the console script beside the interpreter, else ``-m acm``."""
    script = Path(python).parent / "acm"
    return [str(script)] if script.is_file() and os.access(script, os.X_OK) \
        else [python, "-m", "acm"]


def json_load_command(python: str, path: Path) -> list[str]:
    return [python, "-c", "import json, sys\nwith open(sys.argv[1], encoding='utf-8') as f:"
            "\n    json.load(f)", str(path)]


def node_count(path: Path) -> int:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return -1
    if isinstance(data, dict):
        data = data.get("flows", data.get("nodes", []))
    return len(data) if isinstance(data, list) else -1


def largest_flows(folder: Path) -> tuple[Path, int] | None:
    found = [(node_count(p), p) for p in sorted(folder.glob("*.json"))]
    found = [(n, p) for n, p in found if n > 0]
    if not found:
        return None
    count, path = max(found, key=lambda item: item[0])
    return path, count


def verdict(value: float, target: float) -> str:
    return "met" if value <= target else "NOT met"


def startup(args: argparse.Namespace, acm: list[str]) -> bool:
    """The start-up section; False when something failed."""
    py = args.python
    log("start-up: import click, acm --help, acm --version ...")
    found = interleaved({
        "click": [py, "-c", "import click"],
        "help": [*acm, "--help"],
        "version": [*acm, "--version"],
    }, args.repeat_startup, 120)
    if any(c.returncode != 0 for c in found.values()):
        bad = next(n for n, c in found.items() if c.returncode != 0)
        log(f"error: {bad} exited {found[bad].returncode}:\n{found[bad].stderr[-2000:]}")
        return False
    print(f"## Start-up (best of {args.repeat_startup}, each in a fresh process)\n")
    print("| command | wall s | CPU s | peak RSS MiB | vs `import click` (wall) |")
    print("|---|---:|---:|---:|---:|")
    click_wall = found["click"].wall
    for name, label in (("click", "`python -c 'import click'`"), ("help", "`acm --help`"),
                        ("version", "`acm --version`")):
        c = found[name]
        print(f"| {label} | {c.wall:.3f} | {c.cpu:.3f} | {c.maxrss_kib / 1024:.1f} | "
              f"{c.wall / click_wall:.2f}x |")
    ratio = found["help"].wall / click_wall
    print(f"\n`acm --help` = {ratio:.2f}x `import click` (target <= {HELP_RATIO_TARGET:g}x: "
          f"{verdict(ratio, HELP_RATIO_TARGET)}).\n")

    corpus = Path(args.corpus)
    chosen = largest_flows(corpus) if corpus.is_dir() else None
    if chosen is None:
        print(f"(No real flows under {corpus}: `acm analyze` start-up not measured.)\n")
        return True
    path, count = chosen
    log(f"start-up: acm analyze {path.name} ({count} nodes) and json.load of it ...")
    found = interleaved({
        "load": json_load_command(py, path),
        "analyze": [*acm, "analyze", str(path), "--format", "json", "--fail-on", "never"],
    }, args.repeat_startup, 120)
    if any(c.returncode != 0 for c in found.values()):
        bad = next(n for n, c in found.items() if c.returncode != 0)
        log(f"error: {bad} exited {found[bad].returncode}:\n{found[bad].stderr[-2000:]}")
        return False
    load, analyze = found["load"], found["analyze"]
    print(f"`acm analyze` of the largest real flows file, {path.name} ({count} nodes):\n")
    print("| command | wall s | CPU s | peak RSS MiB |")
    print("|---|---:|---:|---:|")
    print(f"| `json.load` (fresh process) | {load.wall:.3f} | {load.cpu:.3f} | "
          f"{load.maxrss_kib / 1024:.1f} |")
    print(f"| `acm analyze --format json` | {analyze.wall:.3f} | {analyze.cpu:.3f} | "
          f"{analyze.maxrss_kib / 1024:.1f} |")
    print(f"\n`acm analyze`: {analyze.wall:.3f} s wall (target <= {ANALYZE_WALL_TARGET} s on "
          f"an idle machine: {verdict(analyze.wall, ANALYZE_WALL_TARGET)}; load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs now).\n")
    return True


def scaling(args: argparse.Namespace, acm: list[str], sizes: list[int], fixed: float) -> bool:
    """The scaling section; False when something failed. ``fixed``: CPU seconds of
    ``acm analyze`` on a flows file of a few nodes (start-up, rule loading)."""
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    failed = False
    for n in sizes:
        path = out_dir / f"site-{n}-s{args.seed}.json"
        log(f"[{n}] generating {path} ...")
        t0 = time.perf_counter()
        nodes = generate(n, args.seed)
        text = json.dumps(nodes, indent=4, ensure_ascii=False) + "\n"
        count = len(nodes)
        del nodes
        path.write_text(text, encoding="utf-8")
        del text
        log(f"[{n}]   {path.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - t0:.1f}s")
        log(f"[{n}]   json.load and acm analyze, x{args.repeat} each ...")
        found = interleaved({
            "load": json_load_command(args.python, path),
            "analyze": [*acm, "analyze", str(path), "--format", "json", "--fail-on", "never"],
        }, args.repeat, args.timeout)
        if any(c.returncode != 0 for c in found.values()):
            bad = next(n for n, c in found.items() if c.returncode != 0)
            log(f"[{n}]   error: {bad} exited {found[bad].returncode}; stderr:\n"
                + found[bad].stderr.strip()[-2000:])
            failed = True
            continue
        load, analyze = found["load"], found["analyze"]
        log(f"[{n}]   json.load {load.cpu:.3f}s CPU, {load.maxrss_kib / 1024:.0f} MiB; "
            f"acm analyze {analyze.cpu:.3f}s CPU, {analyze.maxrss_kib / 1024:.0f} MiB")
        rows.append({"nodes": count, "mb": path.stat().st_size / 1e6, "load": load,
                     "analyze": analyze})
    print(f"## Scaling: `acm analyze FILE --format json` against `json.load` of FILE "
          f"(best of {args.repeat}, fresh processes)\n")
    print("| nodes | file MB | json.load CPU s | acm CPU s | CPU ratio | acm wall s "
          "| json.load RSS MiB | acm RSS MiB | RSS ratio | acm net CPU µs/node |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        load, analyze = r["load"], r["analyze"]
        print(f"| {r['nodes']} | {r['mb']:.1f} | {load.cpu:.3f} | {analyze.cpu:.3f} | "
              f"{analyze.cpu / load.cpu:.2f} | {analyze.wall:.3f} | "
              f"{load.maxrss_kib / 1024:.1f} | {analyze.maxrss_kib / 1024:.1f} | "
              f"{analyze.maxrss_kib / load.maxrss_kib:.2f} | "
              f"{1e6 * max(analyze.cpu - fixed, 0.0) / r['nodes']:.1f} |")
    print(f"\nnet = acm CPU - {fixed:.3f} s, the CPU of `acm analyze` on a flows file of a "
          "few nodes (start-up and the built-in rules).")
    large = [r for r in rows if r["nodes"] >= 100_000]
    if large:
        r = large[0]
        cpu = r["analyze"].cpu / r["load"].cpu
        rss = r["analyze"].maxrss_kib / r["load"].maxrss_kib
        print(f"\nAt {r['nodes']} nodes: CPU {cpu:.2f}x json.load (target <= "
              f"{CPU_RATIO_TARGET:g}x: {verdict(cpu, CPU_RATIO_TARGET)}), peak RSS {rss:.2f}x "
              f"(target <= {RSS_RATIO_TARGET:g}x: {verdict(rss, RSS_RATIO_TARGET)}).")
    if len(rows) >= 2:
        a, b = rows[-2], rows[-1]
        net_a, net_b = a["analyze"].cpu - fixed, b["analyze"].cpu - fixed
        print(f"From {a['nodes']} to {b['nodes']} nodes ({b['nodes'] / a['nodes']:.1f}x) "
              f"acm's CPU time grows {b['analyze'].cpu / a['analyze'].cpu:.2f}x "
              f"(net of start-up {net_b / net_a:.2f}x; linear: "
              f"{b['nodes'] / a['nodes']:.2f}x; json.load of the same files on this "
              f"machine: {b['load'].cpu / a['load'].cpu:.2f}x).")
    print()
    return not failed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000,100000,300000",
                    help="comma-separated node counts (default: 1000,10000,100000,300000)")
    ap.add_argument("--repeat", type=int, default=5,
                    help="repetitions of each analysis, taking turns; best is kept (default: 5)")
    ap.add_argument("--repeat-startup", type=int, default=7,
                    help="repetitions of the start-up measurements (default: 7)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter that runs acm (default: this one)")
    ap.add_argument("--corpus", default=str(REPO.parent / "shared" / "corpus" / "flows"),
                    help="folder of real flows files; the largest is the start-up case")
    ap.add_argument("--out-dir", default=str(HERE / "out"),
                    help="where generated sites go (default: benchmarks/out, git-ignored)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per acm run")
    ap.add_argument("--no-startup", action="store_true", help="skip the start-up section")
    ap.add_argument("--clicks", type=int, default=20,
                    help="editor clicks measured after the first (default 20; 0 skips the "
                    "editor-click section, benchmarks/editor.py)")
    args = ap.parse_args(argv)
    try:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        ap.error(f"--sizes must be comma-separated integers, got {args.sizes!r}")

    log(f"checking that {args.python} can run acm ...")
    acm = acm_command(args.python)
    small = [*acm, "analyze", str(REPO / "flows" / "quiet" / "flows.json"), "--format", "json",
             "--fail-on", "never"]
    warm = run_child(small, 120)  # also writes the .pyc files
    if warm.returncode != 0:
        log("error: acm failed with " + args.python + "; install the package "
            "(pip install -e .) or pass --python. stderr:\n" + warm.stderr.strip()[-2000:])
        return 2
    fixed = min(run_child(small, 120).cpu for _ in range(args.repeat_startup))
    print(f"Python {sys.version.split()[0]} ({args.python}); `{' '.join(acm)}`; "
          f"{os.cpu_count()} CPUs; load average at the start "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}.\n")
    ok = True
    if not args.no_startup:
        ok = startup(args, acm) and ok
    if args.clicks > 0:
        from editor import editor_click  # needs tests/nodered.py and requests

        ok = editor_click(args.python, Path(args.corpus), args.clicks) and ok
    if sizes:
        ok = scaling(args, acm, sizes, fixed) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
