"""``acm strategies``: the resolution strategies and their options."""

from __future__ import annotations

import json

import click

from .console import echo


@click.command("strategies")
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: the manifest as the editor's Resolve form reads "
              "it (\"schema\": \"acm.strategies/1\").")
def strategies_command(fmt: str) -> int:
    """List the resolution strategies, their options and the default per conflict kind.

    One declaration (acm/data/strategies.json) serves the policy checker,
    `acm resolve`, the editor's Resolve form and the docs.

    \b
    Exit codes: 0 listed.

    \b
    Examples:
      acm strategies
      acm strategies --format json
    """
    from ..rewrite import strategies

    if fmt == "json":
        echo(json.dumps(strategies.document(), indent=2, ensure_ascii=False))
    else:
        echo(strategies.text(), nl=False)
    return 0
