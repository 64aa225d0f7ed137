"""``acm graph --format svg``: the site picture as a standalone SVG, laid out here.

No Graphviz needed. The layout is layered and deterministic: one column per
kind (runtimes, applications, actuators, zones, left to right). Applications
are stacked by runtime then name; every other column is ordered by the mean
row of its neighbours in the column before (runtimes by their applications,
actuators by the applications driving them, zones by their actuators), each
box placed at that mean and pushed down until it no longer overlaps the box
above. Edges between columns are cubic curves; conflict edges between two
things of one column are arcs beside the column. Every text is XML-escaped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.sax.saxutils import escape

from .draw import (
    EDGE_COLOUR,
    KIND_COLOURS,
    KINDS,
    SEVERITY_COLOURS,
    Edge,
    Node,
    Picture,
)

WIDTH = 210  # a node box
HEIGHT = 46
PITCH = 64  # vertical distance between boxes of a column
GAP = 180  # horizontal distance between columns
MARGIN = 30
TOP = 84  # title and column headings above the first row
_HEADINGS = {"runtime": "Runtimes", "application": "Applications", "actuator": "Actuators",
             "zone": "Zones"}
_RADIUS = {"runtime": 3, "application": 10, "actuator": 3, "zone": HEIGHT // 2}
# Characters XML 1.0 does not allow at all (a flow may still contain them).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_text(text: str) -> str:
    """Text safe in XML character data and in double- or single-quoted attributes."""
    return escape(_NOT_XML.sub("\ufffd", text), {'"': "&quot;", "'": "&#39;"})


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    column: int

    @property
    def middle(self) -> float:
        return self.y + HEIGHT / 2


@dataclass(frozen=True)
class Layout:
    boxes: dict[str, Box]
    columns: tuple[str, ...]  # kinds that have a column, left to right
    width: float
    height: float


def _column_x(index: int) -> float:
    return MARGIN + index * (WIDTH + GAP)


def _place(order: list[str], wanted: dict[str, float], column: int,
           boxes: dict[str, Box]) -> None:
    """Each box at its wanted y (else after the previous one), pushed below the one above;
    then the column is shifted up by its mean overshoot (never above the first row)."""
    ys: list[float] = []
    for node_id in order:
        below = ys[-1] + PITCH if ys else TOP
        ys.append(max(wanted.get(node_id, below), below))
    overshoot = [y - wanted[n] for n, y in zip(order, ys, strict=True) if n in wanted]
    shift = min(sum(overshoot) / len(overshoot), ys[0] - TOP) if overshoot else 0.0
    for node_id, y in zip(order, ys, strict=True):
        boxes[node_id] = Box(_column_x(column), y - max(shift, 0.0), column)


def _neighbours(picture: Picture) -> dict[str, list[str]]:
    """Each node -> its neighbours in the column before it (a runtime -> its applications)."""
    neighbours: dict[str, list[str]] = {}
    for edge in picture.edges:
        if edge.kind == "hosts":  # runtimes are placed beside their applications
            neighbours.setdefault(edge.source, []).append(edge.target)
        elif edge.kind in ("drives", "in"):
            neighbours.setdefault(edge.target, []).append(edge.source)
    return neighbours


def _wanted(nodes: tuple[Node, ...], neighbours: dict[str, list[str]],
            boxes: dict[str, Box]) -> dict[str, float]:
    """Where each node would like to be: the mean y of its neighbours already placed."""
    wanted: dict[str, float] = {}
    for node in nodes:
        placed = [boxes[n].y for n in neighbours.get(node.id, ()) if n in boxes]
        if placed:
            wanted[node.id] = sum(placed) / len(placed)
    return wanted


def layout(picture: Picture) -> Layout:
    """Where each node goes (see the module docstring); the same picture, the same layout."""
    columns = tuple(kind for kind in KINDS if picture.of_kind(kind))
    column_of = {kind: i for i, kind in enumerate(columns)}
    position = {n.id: i for i, n in enumerate(picture.nodes)}
    runtime_rank = {n.key: i for i, n in enumerate(picture.of_kind("runtime"))}
    neighbours = _neighbours(picture)
    boxes: dict[str, Box] = {}

    def by_wanted(nodes: tuple[Node, ...], wanted: dict[str, float]) -> list[str]:
        return [n.id for n in sorted(nodes, key=lambda n: (
            n.id not in wanted, wanted.get(n.id, 0.0), position[n.id]))]

    apps = sorted(picture.of_kind("application"), key=lambda n: (
        runtime_rank.get(n.runtime or "", len(runtime_rank)), position[n.id]))
    if apps:
        _place([n.id for n in apps], {}, column_of["application"], boxes)
    for kind in ("runtime", "actuator", "zone"):
        nodes = picture.of_kind(kind)
        if nodes:
            wanted = _wanted(nodes, neighbours, boxes)
            _place(by_wanted(nodes, wanted), wanted, column_of[kind], boxes)
    bottom = max((b.y + HEIGHT for b in boxes.values()), default=TOP)
    width = _column_x(len(columns)) - GAP + MARGIN if columns else 2 * MARGIN + WIDTH
    return Layout(boxes, columns, max(width, 560.0), bottom + 60)


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _edge_path(edge: Edge, boxes: dict[str, Box], kinds: dict[str, str]) -> tuple[str, float,
                                                                                  float, str]:
    """The path of an edge, where its label goes and the label's text-anchor."""
    a, b = boxes[edge.source], boxes[edge.target]
    if a.column == b.column:
        left = kinds[edge.source] == "application"  # arcs away from the busier side
        x = a.x if left else a.x + WIDTH
        bulge = min(GAP * 0.35, 24 + 0.2 * abs(b.middle - a.middle)) * (-1 if left else 1)
        path = (f"M{_num(x)},{_num(a.middle)} C{_num(x + bulge)},{_num(a.middle)} "
                f"{_num(x + bulge)},{_num(b.middle)} {_num(x)},{_num(b.middle)}")
        return (path, x + bulge * 0.75 + (-4 if left else 4), (a.middle + b.middle) / 2,
                "end" if left else "start")
    if a.column > b.column:
        a, b = b, a
    x1, x2 = a.x + WIDTH, b.x
    mid = (x1 + x2) / 2
    path = (f"M{_num(x1)},{_num(a.middle)} C{_num(mid)},{_num(a.middle)} "
            f"{_num(mid)},{_num(b.middle)} {_num(x2)},{_num(b.middle)}")
    # Labels of edges into zones sit nearer the zone, clear of the actuators' conflict arcs.
    t = 0.6 if edge.kind == "in" else 0.5
    weights = ((1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t ** 2, t ** 3)
    lx = weights[0] * x1 + (weights[1] + weights[2]) * mid + weights[3] * x2
    ly = (weights[0] + weights[1]) * a.middle + (weights[2] + weights[3]) * b.middle
    return path, lx, ly, "middle"


@dataclass
class _Label:
    """An edge's label, placed after every edge is drawn so that labels do not overlap."""

    x: float
    y: float
    anchor: str
    text: str
    edge: Edge
    colour: str

    def span(self) -> tuple[float, float, float, float]:
        """Its box (left, top, right, bottom), from an average glyph width at 10 px."""
        width = 5.6 * len(self.text) + 4
        left = {"start": self.x, "end": self.x - width}.get(self.anchor, self.x - width / 2)
        return left, self.y - 10, left + width, self.y + 3


def _label_svg(label: _Label) -> str:
    edge = label.edge
    return (f'<text class="label label-{edge.kind}" data-source="{edge.source}" '
            f'data-target="{edge.target}" x="{_num(label.x)}" y="{_num(label.y)}" '
            f'text-anchor="{label.anchor}" font-size="10" fill="{label.colour}" stroke="#ffffff" '
            f'stroke-width="4" stroke-linejoin="round" paint-order="stroke">'
            f"{xml_text(label.text)}</text>")


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _spread(labels: list[_Label]) -> None:
    """Moves labels down or up, by one line at a time, until none overlaps a placed one."""
    placed: list[tuple[float, float, float, float]] = []
    for label in labels:
        base = label.y
        for step in (0, 1, -1, 2, -2, 3, -3, 4, -4):
            label.y = base + step * 13
            if not any(_overlap(label.span(), other) for other in placed):
                break
        else:
            label.y = base
        placed.append(label.span())


def _edge_svg(edge: Edge, boxes: dict[str, Box], kinds: dict[str, str],
              labels: list[_Label]) -> list[str]:
    """The edge's group; its label goes to ``labels`` (drawn above every edge)."""
    path, lx, ly, anchor = _edge_path(edge, boxes, kinds)
    colour = SEVERITY_COLOURS[edge.severity] if edge.severity else EDGE_COLOUR
    classes = f"edge edge-{edge.kind}" + (f" severity-{edge.severity}" if edge.severity else "")
    attrs = [f'class="{classes}"', f'data-source="{edge.source}"',
             f'data-target="{edge.target}"']
    if edge.findings:
        attrs.append(f'data-findings="{xml_text(" ".join(edge.findings))}"')
    stroke = [f'd="{path}"', 'fill="none"', f'stroke="{colour}"']
    if edge.kind == "conflict":
        stroke += ['stroke-width="3"', 'stroke-dasharray="7 4"']
    elif edge.kind == "hosts":
        stroke += ['stroke-width="1.2"', 'stroke-dasharray="2 3"']
    else:
        marker = f"acm-arrow-{edge.severity or 'plain'}"
        stroke += [f'stroke-width="{2.2 if edge.severity else 1.3}"',
                   f'marker-end="url(#{marker})"']
    out = [f"<g {' '.join(attrs)}>", f"<title>{xml_text(edge.label)}</title>",
           f"<path {' '.join(stroke)}/>"]
    out.append("</g>")
    # Conflict arcs are short: their label is the rule codes (the tooltip says the rest).
    text = " ".join(dict.fromkeys(part.split(" ")[0] for part in edge.label.split(", "))) \
        if edge.kind == "conflict" else edge.label
    if text and edge.kind != "hosts":
        ly += 3 if edge.kind == "conflict" else -4  # beside an arc; just above a curve
        labels.append(_Label(lx, ly, anchor, _clip(text, 34), edge, colour))
    return out


def _node_svg(node: Node, box: Box) -> list[str]:
    border = SEVERITY_COLOURS[node.severity] if node.severity else "#8c8c8c"
    classes = f"node node-{node.kind}" + (f" severity-{node.severity}" if node.severity else "")
    detail = node.detail if node.detail != node.label else ""
    tip = f"{node.kind}: {node.label}" + (f"\n{node.key}" if node.key != node.label else "")
    x, y = box.x, box.y
    label_y = y + (19 if detail else 28)
    out = [f'<g class="{classes}" id="acm-{node.id}" data-node="{node.id}">',
           f"<title>{xml_text(tip)}</title>",
           f'<rect x="{_num(x)}" y="{_num(y)}" width="{WIDTH}" height="{HEIGHT}" '
           f'rx="{_RADIUS[node.kind]}" fill="{KIND_COLOURS[node.kind]}" stroke="{border}" '
           f'stroke-width="{2.5 if node.severity else 1}"/>',
           f'<text x="{_num(x + WIDTH / 2)}" y="{_num(label_y)}" text-anchor="middle" '
           f'font-size="12" font-weight="bold" fill="#222222">'
           f"{xml_text(_clip(node.label, 28))}</text>"]
    if detail:
        out.append(f'<text x="{_num(x + WIDTH / 2)}" y="{_num(y + 35)}" text-anchor="middle" '
                   f'font-size="9.5" fill="#555555">{xml_text(_clip(detail, 38))}</text>')
    out.append("</g>")
    return out


def _markers() -> list[str]:
    out = ["<defs>"]
    for name, colour in [("plain", EDGE_COLOUR), *SEVERITY_COLOURS.items()]:
        out.append(f'<marker id="acm-arrow-{name}" viewBox="0 0 10 10" refX="10" refY="5" '
                   f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
                   f'<path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>')
    out.append("</defs>")
    return out


def render_svg(picture: Picture, *, standalone: bool = True) -> str:
    """The ``<svg>`` element; ``standalone`` adds the XML declaration and namespace."""
    placed = layout(picture)
    boxes = placed.boxes
    kinds = {n.id: n.kind for n in picture.nodes}
    width, height = _num(placed.width), _num(placed.height)
    out = []
    if standalone:
        out.append('<?xml version="1.0" encoding="UTF-8"?>')
    namespace = ' xmlns="http://www.w3.org/2000/svg"' if standalone else ""
    out.append(f'<svg{namespace} class="acm-graph" width="{width}" height="{height}" '
               f'viewBox="0 0 {width} {height}" role="img" '
               'font-family="Helvetica, Arial, sans-serif">')
    out.append(f"<title>{xml_text('ACM site: ' + picture.title)}</title>")
    out += _markers()
    out.append('<rect x="0" y="0" width="100%" height="100%" fill="#ffffff"/>')
    out.append(f'<text x="{MARGIN}" y="28" font-size="16" font-weight="bold" fill="#222222">'
               f"{xml_text(picture.title)}</text>")
    for index, kind in enumerate(placed.columns):
        out.append(f'<text x="{_num(_column_x(index) + WIDTH / 2)}" y="{TOP - 16}" '
                   f'text-anchor="middle" font-size="12" fill="#666666">'
                   f"{_HEADINGS[kind]}</text>")
    labels: list[_Label] = []
    out.append('<g class="edges">')
    for edge in picture.edges:
        if edge.kind != "conflict":
            out += _edge_svg(edge, boxes, kinds, labels)
    out.append("</g>")
    out.append('<g class="nodes">')
    for node in picture.nodes:
        out += _node_svg(node, boxes[node.id])
    out.append("</g>")
    out.append('<g class="conflicts">')  # above the boxes: they are the point of the picture
    for edge in picture.edges:
        if edge.kind == "conflict":
            out += _edge_svg(edge, boxes, kinds, labels)
    out.append("</g>")
    out.append('<g class="labels">')
    _spread(labels)
    out += [_label_svg(label) for label in labels]
    out.append("</g>")
    key_y = placed.height - 22
    x = float(MARGIN)
    out.append('<g class="key" font-size="11" fill="#444444">')
    for level in ("error", "warning", "info"):
        out.append(f'<path d="M{_num(x)},{_num(key_y)} h28" stroke="{SEVERITY_COLOURS[level]}" '
                   'stroke-width="3" stroke-dasharray="7 4"/>')
        out.append(f'<text x="{_num(x + 34)}" y="{_num(key_y + 4)}">{level} conflict</text>')
        x += 140
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def render(picture: Picture) -> str:
    return render_svg(picture)
