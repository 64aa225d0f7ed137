#!/usr/bin/env python3
"""Write docs/catalog.md from the catalog's declarations (tests check it is up to date)."""

from pathlib import Path

from acm.analysis.catalog.table import markdown

if __name__ == "__main__":
    target = Path(__file__).resolve().parent.parent / "docs" / "catalog.md"
    target.write_text(markdown() + "\n", encoding="utf-8")
    print(f"wrote {target}")
