"""No function in acm/ above a cyclomatic complexity of 15, as radon counts it.

radon counts more than ruff's mccabe (each extra operand of ``and``/``or``, each
``if`` of a comprehension, each ``except``), so this check is the stricter of
the two; `make lint` runs both. A function may stay above 15 only with its
reason at its ``def`` line, where ruff reads it too::

    def _rule(rule, value):  # noqa: C901 - one branch per operator of the switch node

Run: ``python scripts/complexity.py [--max N] [paths...]`` (default ``acm``); it
prints each function above the limit without a reason and exits 1 if there is one.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from radon.complexity import cc_visit

#: ``# noqa: C901`` followed by a reason of at least a few words (a TODO is no reason).
ARGUED = re.compile(r"#\s*noqa:\s*C901\s*[-:]\s*(?!TODO)\S+(\s+\S+){2,}")


def blocks(path: Path) -> list[tuple[str, int, int]]:
    """``(name, line, complexity)`` of every function, method and closure in ``path``."""
    found: set[tuple[str, int, int]] = set()
    pending = list(cc_visit(path.read_text(encoding="utf-8")))
    while pending:
        block = pending.pop()
        if hasattr(block, "complexity") and not hasattr(block, "methods"):  # not a class
            found.add((block.fullname, block.lineno, block.complexity))
        pending += getattr(block, "methods", []) + getattr(block, "closures", [])
    return sorted(found, key=lambda item: item[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", default=["acm"])
    parser.add_argument("--max", type=int, default=15, help="highest complexity allowed")
    parser.add_argument("--list", action="store_true",
                        help="also list the argued exceptions")
    args = parser.parse_args(argv)
    files = sorted(f for p in map(Path, args.paths)
                   for f in ([p] if p.is_file() else p.rglob("*.py")))
    bad = argued = 0
    for file in files:
        lines = file.read_text(encoding="utf-8").splitlines()
        for name, line, complexity in blocks(file):
            if complexity <= args.max:
                continue
            reason = ARGUED.search(lines[line - 1])
            if reason is None:
                bad += 1
                print(f"{file}:{line}: {name} has complexity {complexity} (> {args.max}): "
                      "split it, or argue it with '# noqa: C901 - <why>' on its def line")
            else:
                argued += 1
                if args.list:
                    print(f"{file}:{line}: {name} ({complexity}) {reason.group(0)}")
    print(f"complexity: {bad} function(s) above {args.max} without a reason, "
          f"{argued} argued", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
