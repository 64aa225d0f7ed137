"""``acm graph``: DOT, SVG and HTML drawings of a site, escaping of flow text, exit codes."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, broker, node, tab

from acm.analysis.flows import load_flows
from acm.engine import analyze_flows, analyze_model
from acm.model import load_model
from acm.output import graph_dot, graph_html, graph_svg
from acm.output.draw import SEVERITY_COLOURS, Picture, picture

SITE = ROOT / "flows" / "site" / "site.yaml"
SVG = "{http://www.w3.org/2000/svg}"
EVIL_TAB = "<script>alert(1)</script>"
EVIL_NODE = '"quotes" & ampersands \\ back\nslash'


@pytest.fixture(scope="module")
def site() -> Picture:
    model = load_model(SITE)
    return picture(analyze_model(model), model)


def evil_flows() -> list[dict[str, Any]]:
    """Two tabs (applications) switching one lamp on and off, named with markup and quotes."""
    nodes: list[dict[str, Any]] = [broker()]
    for tab_id, label, payload in (("t1", EVIL_TAB, "on"), ("t2", EVIL_NODE, "off")):
        nodes += [
            tab(tab_id, label),
            node(f"{tab_id}-in", "inject", tab_id, [[f"{tab_id}-out"]], name=EVIL_NODE,
                 payload=payload, payloadType="str", props=[{"p": "payload"}]),
            node(f"{tab_id}-out", "mqtt out", tab_id, name=f"lamp {EVIL_NODE}",
                 topic="home/lamp/set", broker="broker", qos="1", retain="false"),
        ]
    return nodes


@pytest.fixture
def evil(write_flows) -> Picture:
    path = write_flows(evil_flows())
    return picture(analyze_flows({"local": load_flows(path)}))


# --- DOT -------------------------------------------------------------------------------

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|->|[{}\[\];=,]|[A-Za-z0-9_.#]+|\s+|(.)', re.S)
_KEYWORDS = {"digraph", "graph", "node", "edge", "subgraph"}


def parse_dot(text: str) -> tuple[set[str], list[tuple[str, str, str]]]:
    """Declared node ids and (source, target, attribute text) of each edge.

    Fails on an unbalanced brace or bracket, or a character outside any token
    (which an unescaped quote in a label would produce).
    """
    tokens: list[str] = []
    for match in _TOKEN.finditer(text):
        assert match.group(1) is None, f"stray {match.group(1)!r} at {match.start()}"
        if not match.group(0).isspace():
            tokens.append(match.group(0))
    depth = {"{": 0, "[": 0}
    closing = {"}": "{", "]": "["}
    for token in tokens:
        if token in depth:
            depth[token] += 1
        elif token in closing:
            depth[closing[token]] -= 1
            assert depth[closing[token]] >= 0, "closed more than opened"
    assert depth == {"{": 0, "[": 0}
    declared: set[str] = set()
    edges: list[tuple[str, str, str]] = []
    for i, token in enumerate(tokens):
        if token == "->":
            end = tokens.index("]", i) if i + 2 < len(tokens) and tokens[i + 2] == "[" else i + 1
            edges.append((tokens[i - 1], tokens[i + 1], " ".join(tokens[i + 2:end + 1])))
        elif (token == "[" and i > 0 and tokens[i - 1] not in _KEYWORDS
              and (i < 2 or tokens[i - 2] != "->")):
            declared.add(tokens[i - 1])
    return declared, edges


def test_dot_is_structurally_sound(site: Picture) -> None:
    text = graph_dot.render(site)
    declared, edges = parse_dot(text)
    assert edges
    for source, target, _ in edges:
        assert source in declared and target in declared, (source, target)
    assert declared == {n.id for n in site.nodes}
    assert text.count("subgraph cluster_") == 2  # hub and gateway


def test_dot_has_the_error_conflict_edge(site: Picture) -> None:
    _, edges = parse_dot(graph_dot.render(site))
    error = f'color = "{SEVERITY_COLOURS["error"]}"'
    conflicts = [e for e in edges if "style = dashed" in e[2] and error in e[2]]
    assert conflicts, "no conflict edge in the error colour"
    labels = {n.id: n.label for n in site.nodes}
    pairs = {frozenset((labels[s], labels[t])) for s, t, _ in conflicts}
    assert frozenset(("Comfort", "Night mode")) in pairs  # the office heater: on vs off


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed")
def test_dot_is_accepted_by_graphviz(site: Picture, evil: Picture) -> None:
    for drawing in (site, evil):
        done = subprocess.run(["dot", "-Tsvg"], input=graph_dot.render(drawing), text=True,
                              capture_output=True, check=False)
        assert done.returncode == 0, done.stderr


def test_dot_escapes_flow_text(evil: Picture) -> None:
    text = graph_dot.render(evil)
    parse_dot(text)
    assert '\\"quotes\\" & ampersands \\\\ back slash' in text
    assert EVIL_TAB in text  # inside a quoted string, < and > are plain text
    for line in text.splitlines():  # every quote inside a label is escaped
        assert not re.search(r'[^\\=\[ ]"quotes', line), line


# --- SVG -------------------------------------------------------------------------------

def svg_texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def test_svg_is_well_formed_and_names_everything(site: Picture) -> None:
    root = ET.fromstring(graph_svg.render(site))
    assert root.tag == f"{SVG}svg"
    texts = svg_texts(root)
    model = load_model(SITE)
    report = analyze_model(model)
    names = [r.name or r.id for r in model.runtimes] + [z.name for z in model.zones]
    names += [a.name for a in report.applications.values()]
    names += [a.name for a in report.actuators]
    assert {n.kind for n in site.nodes} == {"runtime", "application", "actuator", "zone"}
    for name in names:
        assert name in texts, name


def test_svg_highlights_conflict_edges(site: Picture) -> None:
    root = ET.fromstring(graph_svg.render(site))
    colours = {}
    for group in root.iter(f"{SVG}g"):
        if "edge-conflict" in group.get("class", "").split():
            path = group.find(f"{SVG}path")
            assert path is not None and path.get("stroke-dasharray")
            colours[(group.get("data-source"), group.get("data-target"))] = path.get("stroke")
    assert SEVERITY_COLOURS["error"] in colours.values()
    assert SEVERITY_COLOURS["warning"] in colours.values()
    assert len(colours) == sum(1 for e in site.edges if e.kind == "conflict")


def test_svg_layout_is_layered_and_deterministic(site: Picture) -> None:
    placed = graph_svg.layout(site)
    assert placed.columns == ("runtime", "application", "actuator", "zone")
    xs = {n.kind: placed.boxes[n.id].x for n in site.nodes}
    assert xs["runtime"] < xs["application"] < xs["actuator"] < xs["zone"]
    for kind in placed.columns:  # no two boxes of a column overlap
        ys = sorted(placed.boxes[n.id].y for n in site.of_kind(kind))
        assert all(b - a >= graph_svg.PITCH for a, b in zip(ys, ys[1:], strict=False))
    model = load_model(SITE)
    again = picture(analyze_model(model), model)
    assert graph_svg.render(again) == graph_svg.render(site)


def test_svg_escapes_flow_text(evil: Picture) -> None:
    text = graph_svg.render(evil)
    root = ET.fromstring(text)  # would fail on a raw < or &
    assert "<script" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert EVIL_TAB in svg_texts(root)
    assert "&quot;quotes&quot; &amp; ampersands" in text
    assert not root.findall(f".//{SVG}script")


# --- HTML ------------------------------------------------------------------------------

def test_html_is_self_contained(site: Picture) -> None:
    text = graph_html.render(site)
    assert text.startswith("<!DOCTYPE html>")
    assert '<svg class="acm-graph"' in text and "</svg>" in text
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", text, re.I)
    assert not re.search(r"@import|url\(\s*['\"]?(?:https?:)?//", text, re.I)
    assert "default-src 'none'" in text
    for conflict in site.conflicts:  # the findings table
        assert f'data-finding="{conflict.id}"' in text
    svg = text[text.index("<svg"):text.index("</svg>") + len("</svg>")]
    ET.fromstring(svg.replace("<svg ", f'<svg xmlns="{SVG[1:-1]}" ', 1))


def test_html_escapes_flow_text(evil: Picture) -> None:
    text = graph_html.render(evil)
    assert EVIL_TAB not in text
    assert text.count("<script>") == 1  # ours, at the end
    script = text[text.index("<script>"):text.index("</script>")]
    assert "quotes" not in script and "alert" not in script
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&quot;quotes&quot; &amp; ampersands" in text


# --- CLI -------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt, start", [("dot", "digraph"), ("svg", "<?xml"),
                                        ("html", "<!DOCTYPE")])
def test_cli_draws_a_model(run_acm, tmp_path: Path, fmt: str, start: str) -> None:
    out = tmp_path / f"site.{fmt}"
    result = run_acm("graph", str(SITE), "--format", fmt, "-o", str(out))
    assert result.code == 0, result.err
    assert out.read_text(encoding="utf-8").startswith(start)


def test_cli_draws_a_flows_file_on_stdout(run_acm, write_flows) -> None:
    result = run_acm("graph", str(write_flows(evil_flows())))
    assert result.code == 0, result.err
    assert result.out.startswith("digraph")
    assert '"local' in result.out  # the one runtime of a flows file


def test_cli_format_from_output_extension(run_acm, tmp_path: Path) -> None:
    out = tmp_path / "site.html"
    assert run_acm("graph", str(SITE), "-o", str(out)).code == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("name", ["missing.yaml", "missing.json"])
def test_cli_missing_file(run_acm, tmp_path: Path, name: str) -> None:
    result = run_acm("graph", str(tmp_path / name))
    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1 and "not found" in result.err


def test_cli_flows_read_as_model(run_acm, write_flows) -> None:
    result = run_acm("graph", str(write_flows(evil_flows())), "--model")
    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1


def test_cli_unknown_format(run_acm) -> None:
    result = run_acm("graph", str(SITE), "--format", "png")
    assert result.code == 2
    assert "png" in result.err


def test_cli_help_has_examples(run_acm) -> None:
    result = run_acm("graph", "--help")
    assert result.code == 0
    assert "acm graph site.yaml" in result.out


def test_runtime_urls_lose_their_credentials(tmp_path: Path, run_acm) -> None:
    site = tmp_path / "site"
    shutil.copytree(ROOT / "flows" / "site", site)
    model = site / "site.yaml"
    # Credentials in the URL (and so none under credentials:, which would be refused).
    text = model.read_text().replace("http://127.0.0.1:1880", "http://admin:hunter2@127.0.0.1:1880")
    model.write_text(text.replace("credentials: {token_env: ACM_HUB_TOKEN}", ""))
    for fmt in ("dot", "svg", "html"):
        result = run_acm("graph", str(model), "-f", fmt)
        assert result.code == 0, result.err
        assert "hunter2" not in result.out
        assert "127.0.0.1:1880" in result.out


def _label_boxes(svg: str) -> list[tuple[str, tuple[float, float, float, float]]]:
    ns = "{http://www.w3.org/2000/svg}"
    boxes = []
    for text in ET.fromstring(svg).iter(f"{ns}text"):
        if "label" not in (text.get("class") or "").split():
            continue
        label = graph_svg._Label(float(text.get("x", 0)), float(text.get("y", 0)),
                                 text.get("text-anchor", "middle"), text.text or "",
                                 None, "")  # type: ignore[arg-type]
        boxes.append((label.text, label.span()))
    return boxes


def _overlapping(svg: str) -> list[tuple[str, str]]:
    boxes = _label_boxes(svg)
    return [(a, b) for i, (a, ra) in enumerate(boxes) for b, rb in boxes[i + 1:]
            if graph_svg._overlap(ra, rb)]


def test_svg_edge_labels_do_not_overlap(site: Picture, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _label_boxes(graph_svg.render(site)), "the site picture has edge labels"
    assert _overlapping(graph_svg.render(site)) == []
    # control: without spreading, this picture's labels do collide (the test can fail)
    monkeypatch.setattr(graph_svg, "_spread", lambda labels: None)
    assert _overlapping(graph_svg.render(site)), "the control picture has no collisions"


def test_html_drawing_fits_the_window(site: Picture) -> None:
    text = graph_html.render(site)
    assert ".drawing svg{display:block;max-width:100%;height:auto}" in text
    assert re.search(r'<svg class="acm-graph" width="[\d.]+" height="[\d.]+" viewBox="0 0 ', text)
