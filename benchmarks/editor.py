"""Benchmark the editor's Analyze click: ``POST /acm/analyze`` on a real Node-RED with the plugin.

The flows are those of the largest real flows file in the corpus (by node count,
as in ``run.py``'s start-up section), sent as the editor sends them. Two Node-RED
4 instances (tests/nodered.py: loopback port, throw-away user dir, the plugin
linked into its ``node_modules``) answer the same clicks:

* **worker** (the default, ``acm.worker: true``): the first click starts the
  long-lived analyzer (``acm serve --stdio``), the following ones reuse it;
* **process per click** (``acm.worker: false``): each click starts ``python -I
  -m acm analyze -``, as the bridge did before.

It prints the first click, then the median and p90 of the next ``--clicks``
clicks of each, and whether the worker's median meets issue 14's target
(under 150 ms). Run alone or as a section of ``run.py`` (``make bench``).

Usage::

    python benchmarks/editor.py [--clicks 20] [--python PY] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BRIDGE = REPO / "nodered-bridge"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests"))

from nodered import NodeRed, missing  # noqa: E402
from run import largest_flows, log  # noqa: E402

#: Issue 14, item 2: the editor's Analyze answers within this, median after the first click.
CLICK_TARGET_MS = 150.0


class PluginNodeRed(NodeRed):
    """Node-RED 4 with the plugin linked into its user dir and an ``acm`` settings block."""

    def __init__(self, acm: dict[str, Any]) -> None:
        super().__init__("4")
        self.acm = acm

    def _settings(self) -> dict[str, Any]:
        return {**super()._settings(), "acm": self.acm}

    def _write_settings(self) -> None:
        super()._write_settings()
        assert self.user_dir is not None
        modules = self.user_dir / "node_modules"
        modules.mkdir(exist_ok=True)
        link = modules / "node-red-acm-bridge"
        if not link.exists():
            os.symlink(BRIDGE, link)  # what `npm install <folder>` makes


def editor_nodes(path: Path) -> list[dict[str, Any]]:
    """The flows as the editor holds them: node objects with an id and a type."""
    data = json.loads(path.read_text(encoding="utf-8-sig"))
    if isinstance(data, dict):
        data = data.get("flows", data.get("nodes", []))
    return [n for n in data if isinstance(n, dict) and isinstance(n.get("id"), str)
            and isinstance(n.get("type"), str)]


def clicks(nodered: NodeRed, body: bytes, count: int) -> list[float]:
    """``1 + count`` POST /acm/analyze, one after the other: their wall times in ms."""
    times = []
    with requests.Session() as session:
        for _ in range(1 + count):
            started = time.perf_counter()
            response = session.post(f"{nodered.url}/acm/analyze", data=body, timeout=120,
                                    headers={"Content-Type": "application/json"})
            times.append(1000 * (time.perf_counter() - started))
            if response.status_code != 200:
                raise RuntimeError(f"POST /acm/analyze: {response.status_code} "
                                   f"{response.text[:300]}")
            if response.json().get("schema") != "acm.findings/1":
                raise RuntimeError("POST /acm/analyze did not answer acm.findings/1")
    return times


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def editor_click(python: str, corpus: Path, count: int) -> bool:
    """The editor-click section (Markdown on stdout); False when something failed."""
    reason = missing("4")
    chosen = largest_flows(corpus) if corpus.is_dir() else None
    if reason or chosen is None:
        why = reason or f"no real flows under {corpus}"
        print(f"## Editor click\n\n(Not measured: {why}.)\n")
        return True
    path, count_nodes = chosen
    nodes = editor_nodes(path)
    body = json.dumps({"flows": nodes}).encode("utf-8")
    # The stock limits; a time limit well above any click, so a slow machine shows its figure.
    results = {}
    for mode, worker in (("worker", True), ("process", False)):
        log(f"editor click: Node-RED 4 with the plugin, acm.worker {str(worker).lower()}, "
            f"{path.name} ({len(nodes)} nodes), 1 + {count} clicks ...")
        try:
            with PluginNodeRed({"python": python, "worker": worker, "timeout": 120000}) as red:
                results[mode] = clicks(red, body, count)
        except (RuntimeError, requests.RequestException) as exc:
            log(f"error: editor click ({mode}): {exc}")
            return False
    print(f"## Editor click: `POST /acm/analyze` on Node-RED 4 with the plugin\n\n"
          f"The flows of {path.name} ({count_nodes} nodes in the file, {len(nodes)} sent), "
          f"{count} clicks after the first, one at a time.\n")
    print("| analyzer | first click ms | median ms (after the first) | p90 ms | best ms |")
    print("|---|---:|---:|---:|---:|")
    labels = {"worker": "long-lived worker (`acm serve --stdio`, default)",
              "process": "a process per click (`acm.worker: false`)"}
    for mode, times in results.items():
        rest = times[1:]
        print(f"| {labels[mode]} | {times[0]:.0f} | {statistics.median(rest):.0f} | "
              f"{p90(rest):.0f} | {min(rest):.0f} |")
    median = statistics.median(results["worker"][1:])
    before = statistics.median(results["process"][1:])
    verdict = "met" if median < CLICK_TARGET_MS else "NOT met"
    print(f"\nAnalyze with the worker: {median:.0f} ms median after the first click "
          f"(target < {CLICK_TARGET_MS:.0f} ms: {verdict}), {before / median:.1f}x faster than "
          f"a process per click ({before:.0f} ms); load average {os.getloadavg()[0]:.2f} on "
          f"{os.cpu_count()} CPUs now.\n")
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clicks", type=int, default=20, help="clicks after the first (default 20)")
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter with acm installed (default: this one)")
    ap.add_argument("--corpus", default=str(REPO.parent / "shared" / "corpus" / "flows"),
                    help="folder of real flows files; the largest is sent")
    args = ap.parse_args(argv)
    return 0 if editor_click(args.python, Path(args.corpus), args.clicks) else 1


if __name__ == "__main__":
    sys.exit(main())
