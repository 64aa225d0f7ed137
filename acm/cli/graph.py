"""``acm graph``: the site as a picture (DOT, SVG or HTML)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click

from .console import write_output
from .options import RULES_OPTION

GRAPH_FORMATS = {".dot": "dot", ".gv": "dot", ".svg": "svg", ".html": "html", ".htm": "html"}


@click.command("graph")
@click.argument("source", metavar="MODEL_OR_FLOWS",
                type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--model", "as_model", is_flag=True,
              help="Read MODEL_OR_FLOWS as a deployment model (the default for .yaml and "
              ".yml files; anything else is read as a flows file, on runtime 'local').")
@RULES_OPTION
@click.option("--format", "-f", "fmt", type=click.Choice(["dot", "svg", "html"]),
              help="dot (Graphviz), svg (standalone, no Graphviz needed) or html (one "
              "self-contained page with a legend and the conflicts). Default: from the "
              "--output file's extension, else dot.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, allow_dash=True), default="-",
              help="Write the drawing to FILE instead of standard output.")
def graph_command(source: str, as_model: bool, rule_files: Sequence[str], fmt: str | None,
                  output: str) -> int:
    """Draw a site: runtimes, applications, actuators, zones and the conflicts between them.

    Runtimes host applications, applications drive actuators (edges labelled
    with the commands), actuators sit in zones (labelled with their effects);
    conflicts are dashed edges between the applications (direct,
    cross-runtime) or the actuators (indirect) involved, coloured by
    severity. Exit 0 once drawn, 2 on bad input or usage.

    \b
    Examples:
      acm graph site.yaml -o site.html             one self-contained page
      acm graph site.yaml -f svg -o site.svg       a picture, no Graphviz needed
      acm graph flows.json | dot -Tpng > flows.png Graphviz DOT on standard output
    """
    from ..analysis.flows import load_flows
    from ..engine import analyze_flows, analyze_model
    from ..output import graph_dot, graph_html, graph_svg
    from ..output.draw import picture
    from ..rules.ruleset import load_ruleset

    if fmt is None:
        fmt = GRAPH_FORMATS.get(Path(output).suffix.lower(), "dot") if output != "-" else "dot"
    ruleset = load_ruleset(rule_files)
    if as_model or (source != "-" and Path(source).suffix.lower() in (".yaml", ".yml")):
        if source == "-":
            raise click.UsageError("--model needs a model file, not standard input")
        from ..model import load_model

        site = load_model(source)
        report = analyze_model(site, ruleset)
        drawing = picture(report, site)
    else:
        if source == "-":
            loaded = load_flows("<stdin>", text=sys.stdin.read())
        else:
            loaded = load_flows(source)
        drawing = picture(analyze_flows({"local": loaded}, ruleset))
    renderers = {"dot": graph_dot.render, "svg": graph_svg.render, "html": graph_html.render}
    write_output(renderers[fmt](drawing), output)
    return 0
