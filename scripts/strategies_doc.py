#!/usr/bin/env python3
"""Rewrite the generated parts of docs/strategies.md and docs/resolve.md from the strategy
manifest (acm/data/strategies.json); tests check they are up to date.

The generated parts sit between ``<!-- acm:strategies WHAT -->`` and
``<!-- /acm:strategies -->``; the prose around them is written by hand.
"""

from pathlib import Path

from acm.rewrite.strategies import render_docs

DOCS = ("strategies.md", "resolve.md")

if __name__ == "__main__":
    folder = Path(__file__).resolve().parent.parent / "docs"
    for name in DOCS:
        target = folder / name
        text = target.read_text(encoding="utf-8")
        new = render_docs(text)
        if new != text:
            target.write_text(new, encoding="utf-8")
            print(f"wrote {target}")
        else:
            print(f"{target} is up to date")
