"""``acm graph --format dot``: the site picture as Graphviz DOT, one cluster per runtime.

Node ids are the picture's short ids (``a3``), never flow text; every label
is a double-quoted DOT string with quotes, backslashes and line breaks
escaped, so a node name cannot end a string or inject attributes.
"""

from __future__ import annotations

from .draw import EDGE_COLOUR, KIND_COLOURS, SEVERITY_COLOURS, Edge, Node, Picture

_SHAPE = {"runtime": "box3d", "application": "box", "actuator": "component", "zone": "ellipse"}
_STYLE = {"runtime": "filled", "application": "rounded,filled", "actuator": "filled",
          "zone": "filled"}


def quote(text: str) -> str:
    """A DOT double-quoted string showing ``text`` literally.

    Inside quotes DOT only knows ``\\"``, but labels also read ``\\n``,
    ``\\l``, ``\\N``, ``\\G`` ... as escapes: doubling every backslash keeps
    them literal. Line breaks become spaces (ours are added as ``\\n``).
    """
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    text = "".join(" " if ch in "\r\n\t\v\f" or ord(ch) < 32 or ord(ch) == 127 else ch
                   for ch in text)
    return f'"{text}"'


def _label(*lines: str) -> str:
    """Several lines of text as one DOT label (each line escaped, joined by ``\\n``)."""
    return '"' + "\\n".join(quote(line)[1:-1] for line in lines if line) + '"'


def _attrs(**attrs: str) -> str:
    return "[" + ", ".join(f"{name}={value}" for name, value in attrs.items()) + "]"


def _node(node: Node) -> str:
    attrs = {
        "label": _label(node.label, node.detail if node.detail != node.label else ""),
        "shape": _SHAPE[node.kind],
        "style": quote(_STYLE[node.kind]),
        "fillcolor": quote(KIND_COLOURS[node.kind]),
        "tooltip": quote(f"{node.kind} {node.key}"),
    }
    if node.severity:
        attrs["color"] = quote(SEVERITY_COLOURS[node.severity])
        attrs["penwidth"] = "2"
    return f"{node.id} {_attrs(**attrs)};"


def _edge(edge: Edge) -> str:
    attrs = {"label": quote(edge.label)}
    if edge.kind == "conflict":
        assert edge.severity is not None
        attrs.update(color=quote(SEVERITY_COLOURS[edge.severity]),
                     fontcolor=quote(SEVERITY_COLOURS[edge.severity]),
                     penwidth="3", style="dashed", dir="both", constraint="false",
                     tooltip=quote(" ".join(edge.findings)))
    elif edge.severity:
        attrs.update(color=quote(SEVERITY_COLOURS[edge.severity]), penwidth="2")
    else:
        attrs["color"] = quote(EDGE_COLOUR)
    if edge.kind == "hosts":
        attrs.update(label='""', arrowhead="none", style="dotted")
    return f"{edge.source} -> {edge.target} {_attrs(**attrs)};"


def render(picture: Picture) -> str:
    lines = [
        "digraph acm {",
        f"  graph [rankdir=LR, label={quote(picture.title)}, labelloc=t, fontname=Helvetica, "
        "nodesep=0.35, ranksep=1.2];",
        "  node [fontname=Helvetica, fontsize=11];",
        "  edge [fontname=Helvetica, fontsize=9];",
    ]
    clusters: dict[str, list[Node]] = {}
    loose: list[Node] = []
    for node in picture.nodes:
        if node.kind == "runtime":
            clusters.setdefault(node.key, []).insert(0, node)
        elif node.kind == "application" and node.runtime is not None:
            clusters.setdefault(node.runtime, []).append(node)
        else:
            loose.append(node)
    for index, members in enumerate(clusters.values()):
        runtime = members[0]
        lines.append(f"  subgraph cluster_{index} {{")
        title = runtime.label if runtime.kind == "runtime" else "runtime"
        lines.append(f"    graph [label={quote(title)}, style=\"rounded,dashed\", "
                     f"color={quote(EDGE_COLOUR)}];")
        lines += [f"    {_node(node)}" for node in members]
        lines.append("  }")
    lines += [f"  {_node(node)}" for node in loose]
    for kind in ("actuator", "zone"):  # keep columns as in the SVG: actuators, then zones
        same = " ".join(n.id for n in picture.of_kind(kind))
        if same:
            lines.append(f"  {{ rank=same; {same} }}")
    lines += [f"  {_edge(edge)}" for edge in picture.edges]
    lines.append("}")
    return "\n".join(lines) + "\n"
