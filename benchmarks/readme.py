"""Put the figures of one `make bench` run into README.md.

`make bench` writes what benchmarks/run.py and benchmarks/resolvers.py print
(Markdown: start-up, editor click, scaling, resolvers, each with its targets)
to benchmarks/out/bench.md; this script copies that file, as it is, between
the markers ``<!-- bench:begin -->`` and ``<!-- bench:end -->`` of README.md,
with the date of the run (headings one level down, paths relative to the
repository). So the README's performance figures always come from
one run, and from the last one.

Run: ``python benchmarks/readme.py [--bench FILE] [--readme FILE]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"


def shown(figures: str, root: str) -> str:
    """The run's Markdown as a part of README's Performance section: its headings one
    level down, and paths inside the repository relative to it."""
    lines = []
    for line in figures.strip().splitlines():
        if line.startswith("#"):
            line = "#" + line
        lines.append(line.replace(root.rstrip("/") + "/", ""))
    return "\n".join(lines)


def splice(readme: str, figures: str, when: str) -> str:
    """``readme`` with ``figures`` between the markers (a ValueError if they are missing)."""
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README has no {BEGIN} ... {END} section")
    body = (f"{BEGIN}\n<!-- written by benchmarks/readme.py from the `make bench` run of "
            f"{when}; do not edit by hand -->\n\n{figures.strip()}\n\n")
    return readme[:start] + body + readme[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", default=str(HERE / "out" / "bench.md"))
    parser.add_argument("--readme", default=str(HERE.parent / "README.md"))
    args = parser.parse_args(argv)
    bench, readme = Path(args.bench), Path(args.readme)
    try:
        figures = bench.read_text(encoding="utf-8")
        when = datetime.fromtimestamp(bench.stat().st_mtime, timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC")
        text = splice(readme.read_text(encoding="utf-8"),
                      shown(figures, str(readme.resolve().parent)), when)
    except (OSError, ValueError) as exc:
        print(f"readme.py: {exc}", file=sys.stderr)
        return 2
    # write atomically: a failed write leaves the README as it was
    fd, tmp = tempfile.mkstemp(dir=readme.parent, prefix=".README.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, readme)
    print(f"readme.py: {readme} now shows the run of {when}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
