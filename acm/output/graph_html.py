"""``acm graph --format html``: one self-contained page: the SVG inline, a legend, the findings.

Nothing is fetched: styles and the small hover script are inline, and a
Content-Security-Policy allows only those two, by hash. The script holds no
flow text; it only reads the ``data-*`` ids of the drawing. Every text from
the flows is XML-escaped in the DOM.
"""

from __future__ import annotations

import base64
import hashlib

from ..version import __version__
from .draw import EDGE_COLOUR, KIND_COLOURS, SEVERITY_COLOURS, Conflict, Picture
from .graph_svg import render_svg, xml_text

_KIND_NAMES = {"runtime": "Runtime (Node-RED instance)", "application": "Application",
               "actuator": "Actuator", "zone": "Zone"}

# Hovering a box or a table row brightens the edges that belong to it.
_SCRIPT = """(function () {
  var svg = document.querySelector("svg.acm-graph");
  if (!svg) { return; }
  var edges = svg.querySelectorAll(".edge");
  function mark(test) {
    for (var i = 0; i < edges.length; i++) {
      var on = test !== null && test(edges[i]);
      edges[i].classList.toggle("lit", on);
      edges[i].classList.toggle("dim", test !== null && !on);
    }
  }
  function hover(element, test) {
    element.addEventListener("mouseenter", function () { mark(test); });
    element.addEventListener("mouseleave", function () { mark(null); });
  }
  svg.querySelectorAll(".node").forEach(function (node) {
    var id = node.getAttribute("data-node");
    hover(node, function (e) {
      return e.getAttribute("data-source") === id || e.getAttribute("data-target") === id;
    });
  });
  document.querySelectorAll("tr[data-finding]").forEach(function (row) {
    var id = row.getAttribute("data-finding");
    hover(row, function (e) {
      return (" " + (e.getAttribute("data-findings") || "") + " ").indexOf(" " + id + " ") >= 0;
    });
  });
})();"""


def _style() -> str:
    rules = [
        "body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#222}",
        "h1{font-size:20px;margin:0 0 4px}",
        "h2{font-size:16px;margin:24px 0 8px}",
        ".summary{color:#555;margin:0 0 16px}",
        ".drawing{overflow:auto;border:1px solid #ddd;border-radius:4px}",
        # the drawing fits the window's width (its viewBox keeps the proportions)
        ".drawing svg{display:block;max-width:100%;height:auto}",
        ".legend{display:flex;flex-wrap:wrap;gap:8px 24px;margin:12px 0;font-size:13px}",
        ".legend span{display:inline-flex;align-items:center;gap:6px}",
        ".swatch{display:inline-block;width:18px;height:12px;border:1px solid #8c8c8c;"
        "border-radius:2px}",
        ".line{display:inline-block;width:28px;height:0;border-top:3px solid}",
        ".line.dashed{border-top-style:dashed}",
        ".line.dotted{border-top-width:2px;border-top-style:dotted}",
        "table{border-collapse:collapse;font-size:13px;width:100%}",
        "th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}",
        "th{background:#f4f4f4}",
        "tr[data-finding]:hover{background:#fafad2}",
        ".sev{font-weight:bold}",
        ".edge{transition:opacity .15s}",
        ".edge.dim{opacity:.12}",
        ".edge.lit path{stroke-width:4}",
        "footer{margin-top:24px;color:#888;font-size:12px}",
    ]
    for kind, colour in KIND_COLOURS.items():
        rules.append(f".kind-{kind}{{background:{colour}}}")
    for level, colour in SEVERITY_COLOURS.items():
        rules.append(f".sev-{level}{{color:{colour}}}")
        rules.append(f".line.sev-{level}{{border-top-color:{colour}}}")
    rules.append(f".line.plain{{border-top-color:{EDGE_COLOUR}}}")
    return "\n".join(rules)


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _legend() -> list[str]:
    out = ['<div class="legend">']
    for kind, name in _KIND_NAMES.items():
        out.append(f'<span><i class="swatch kind-{kind}"></i>{name}</span>')
    out.append('<span><i class="line dotted plain"></i>hosts</span>')
    out.append('<span><i class="line plain"></i>drives (commands) / in zone (effects)</span>')
    for level in SEVERITY_COLOURS:
        out.append(f'<span><i class="line dashed sev-{level}"></i>{level} conflict</span>')
    out.append("</div>")
    return out


def _row(conflict: Conflict) -> str:
    cells = [
        f'<td class="sev sev-{conflict.severity}">{conflict.severity}</td>',
        f"<td>{xml_text(conflict.code)}</td>",
        f"<td>{xml_text(conflict.rule)}</td>",
        f"<td>{'<br>'.join(xml_text(a) for a in conflict.actuators) or '&#8212;'}</td>",
        f"<td>{xml_text(', '.join(conflict.applications)) or '&#8212;'}</td>",
        f"<td>{xml_text(conflict.message)}</td>",
    ]
    return f'<tr data-finding="{xml_text(conflict.id)}">{"".join(cells)}</tr>'


def render(picture: Picture) -> str:
    style = _style()
    counts = {level: sum(1 for c in picture.conflicts if c.severity == level)
              for level in SEVERITY_COLOURS}
    total = len(picture.conflicts)
    summary = f"{total} conflict{'' if total == 1 else 's'}"
    parts = [f"{n} {level}" for level, n in counts.items() if n]
    if parts:
        summary += f" ({', '.join(parts)})"
    summary += (f" among {len(picture.of_kind('actuator'))} actuators and "
                f"{len(picture.of_kind('application'))} applications on "
                f"{len(picture.of_kind('runtime'))} runtime(s).")
    policy = (f"default-src 'none'; style-src {_hash(style)}; script-src {_hash(_SCRIPT)}; "
              "img-src data:; base-uri 'none'; form-action 'none'")
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{xml_text('ACM: ' + picture.title)}</title>",
        f"<style>{style}</style>",
        "</head>",
        "<body>",
        f"<h1>{xml_text(picture.title)}</h1>",
        f'<p class="summary">{xml_text(summary)}</p>',
        *_legend(),
        '<div class="drawing">',
        render_svg(picture, standalone=False).rstrip("\n"),
        "</div>",
        "<h2>Conflicts</h2>",
    ]
    if picture.conflicts:
        out += ["<table>",
                "<thead><tr><th>Severity</th><th>Code</th><th>Rule</th><th>Actuators</th>"
                "<th>Applications</th><th>Finding</th></tr></thead>",
                "<tbody>", *(_row(c) for c in picture.conflicts), "</tbody>", "</table>"]
    else:
        out.append("<p>No actuation conflicts found.</p>")
    out += [f"<footer>Drawn by acm {xml_text(__version__)}.</footer>",
            f"<script>{_SCRIPT}</script>",
            "</body>",
            "</html>"]
    return "\n".join(out) + "\n"
