"""Benchmark ``acm resolve`` on flows with N direct conflicts.

The flows have two tabs (two applications). On each, N ``inject -> mqtt out``
pairs are laid out one below the other, 40 px apart; pair ``i`` on both tabs
publishes to topic ``i``, so every topic is one direct conflict: N conflicts,
each resolved with a tag per wire, a link pair from the second tab and a
resolver beside its actuator node, which the layout has to fit in between the
existing rows.

For each N (default 100, 300 and 1,000) the script writes the flows into
``benchmarks/out/`` (git-ignored), checks with ``acm analyze`` that they hold
N conflicts, then times ``python -m acm resolve FILE -o OUT`` in a fresh
subprocess (best of N repetitions, start-up included; start-up alone is
printed too). It prints a Markdown table to stdout; progress goes to stderr.

Usage::

    python benchmarks/resolve.py [--conflicts 100,300,1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import REPO, Child, interleaved, log  # noqa: E402

Node = dict[str, Any]


def best_child(cmd: list[str], repeat: int, timeout: float) -> Child:
    """The best of ``repeat`` fresh runs of ``cmd`` (run.py measures them)."""
    return interleaved({"cmd": cmd}, repeat, timeout)["cmd"]


def conflicting_flows(n: int) -> list[Node]:
    """Two tabs; pair ``i`` on each publishes to ``bench/<i>/set``: N direct conflicts."""
    nodes: list[Node] = [
        {"id": "broker", "type": "mqtt-broker", "broker": "mqtt.local", "port": "1883"}]
    for tab, payload in (("motion", "on"), ("schedule", "off")):
        nodes.append({"id": tab, "type": "tab", "label": tab.capitalize()})
        for i in range(n):
            y = 60 + 40 * i
            nodes.append({"id": f"{tab}-in-{i}", "type": "inject", "z": tab,
                          "crontab": "00 07 * * *", "payload": payload,
                          "payloadType": "str", "x": 150, "y": y,
                          "wires": [[f"{tab}-out-{i}"]]})
            nodes.append({"id": f"{tab}-out-{i}", "type": "mqtt out", "z": tab,
                          "broker": "broker", "topic": f"bench/{i}/set", "x": 600, "y": y,
                          "wires": []})
    return nodes


def count_conflicts(python: str, path: Path) -> int:
    done = subprocess.run([python, "-m", "acm", "analyze", str(path), "--format", "json",
                           "--fail-on", "never"], cwd=REPO, stdout=subprocess.PIPE,
                          check=True, text=True)
    findings = json.loads(done.stdout)["conflicts"]
    return sum(1 for f in findings if f["kind"] == "direct" and f["severity"] != "info")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--conflicts", default="100,300,1000",
                    help="comma-separated conflict counts (default: 100,300,1000)")
    ap.add_argument("--repeat", type=int, default=3, help="repetitions; best is kept")
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter that runs acm (default: this one)")
    ap.add_argument("--out-dir", default=str(HERE / "out"),
                    help="where generated flows go (default: benchmarks/out, git-ignored)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per acm run")
    args = ap.parse_args(argv)
    try:
        sizes = [int(s.replace("_", "")) for s in args.conflicts.split(",") if s.strip()]
    except ValueError:
        ap.error(f"--conflicts must be comma-separated integers, got {args.conflicts!r}")
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    startup = best_child([args.python, "-c", "import acm.cli"], args.repeat, 120)
    if startup.returncode != 0:
        log("error: `import acm.cli` failed with " + args.python + ":\n"
            + startup.stderr.strip()[-2000:])
        return 2
    rows = []
    failed = False
    for n in sizes:
        path = out_dir / f"conflicts-{n}.json"
        path.write_text(json.dumps(conflicting_flows(n), indent=4) + "\n", encoding="utf-8")
        found = count_conflicts(args.python, path)
        log(f"[{n}] {path}: {found} conflicts; acm resolve x{args.repeat} ...")
        cmd = [args.python, "-m", "acm", "resolve", str(path),
               "-o", str(out_dir / f"conflicts-{n}.resolved.json")]
        child = best_child(cmd, args.repeat, args.timeout)
        if child.returncode != 0:
            failed = True
            log(f"[{n}]   error: acm resolve exited {child.returncode}; stderr:\n"
                + child.stderr.strip()[-2000:])
            rows.append((n, found, None))
            continue
        log(f"[{n}]   best {child.wall:.3f}s")
        rows.append((n, found, child.wall))

    print(f"Python {sys.version.split()[0]} ({args.python}), best of {args.repeat}; "
          f"start-up (`python -c \"import acm.cli\"`) {startup.wall:.3f} s.")
    print()
    print("| conflicts | found by analyze | acm resolve s | net s |")
    print("|----------:|-----------------:|--------------:|------:|")
    for n, found, wall in rows:
        shown = "n/a" if wall is None else f"{wall:.3f} | {max(wall - startup.wall, 0):.3f}"
        print(f"| {n} | {found} | {shown}" + (" | n/a |" if wall is None else " |"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
