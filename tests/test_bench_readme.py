"""benchmarks/readme.py: the README's performance figures are one `make bench` run."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from conftest import ROOT

spec = importlib.util.spec_from_file_location("bench_readme", ROOT / "benchmarks" / "readme.py")
assert spec is not None and spec.loader is not None
readme = importlib.util.module_from_spec(spec)
spec.loader.exec_module(readme)


def test_the_run_replaces_what_was_between_the_markers_and_nothing_else() -> None:
    text = f"# A\n\nprose\n\n{readme.BEGIN}\nold table\n{readme.END}\n\nmore prose\n"
    out = readme.splice(text, "| new | table |\n", "2026-12-03 07:00 UTC")
    assert out.startswith("# A\n\nprose\n\n" + readme.BEGIN + "\n")
    assert "old table" not in out and "| new | table |" in out
    assert "2026-12-03 07:00 UTC" in out
    assert out.endswith(readme.END + "\n\nmore prose\n")
    assert readme.splice(out, "| new | table |\n", "2026-12-03 07:00 UTC") == out


def test_the_runs_headings_go_one_level_down_and_paths_are_relative() -> None:
    figures = "## Start-up\n\n| `/repo/.venv/bin/acm` |\n### Node-RED 4\n"
    assert readme.shown(figures, "/repo") == "### Start-up\n\n| `.venv/bin/acm` |\n#### Node-RED 4"


def test_a_readme_without_markers_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bench:begin"):
        readme.splice("# no markers\n", "x", "now")
    target = tmp_path / "README.md"
    target.write_text("# no markers\n", encoding="utf-8")
    bench = tmp_path / "bench.md"
    bench.write_text("| x |\n", encoding="utf-8")
    assert readme.main(["--bench", str(bench), "--readme", str(target)]) == 2
    assert target.read_text(encoding="utf-8") == "# no markers\n"


def test_the_project_readme_has_the_markers() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.count(readme.BEGIN) == 1 and text.count(readme.END) == 1
    assert text.index(readme.BEGIN) < text.index(readme.END)
