"""Options several commands share: rule files, policies, --fail-on, --strategy."""

from __future__ import annotations

import click

#: acm.analysis.findings.SEVERITIES from the highest, then "never" (written out: importing
#: acm.analysis.findings would load the analysis for --help; a test keeps the two in step).
FAIL_ON = ["error", "warning", "info", "never"]

RULES_OPTION = click.option(
    "--rules", "rule_files", multiple=True, type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Rule file in the ACM rule language; adds rules or overrides built-in ones. "
    "Repeatable.",
)


class StrategyChoice(click.Choice[str]):
    """``--strategy``: the names of acm.rewrite.policy.STRATEGIES, read when first needed.

    (The list comes from the strategy manifest through the rule-language
    modules, which ``acm --help`` should not load.)
    """

    def __init__(self) -> None:
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        from ..rewrite.policy import STRATEGIES

        return tuple(sorted(STRATEGIES))

    @choices.setter
    def choices(self, value: object) -> None:
        pass  # always read from the manifest


POLICY_OPTION = click.option(
    "--policy", "policy_files", multiple=True, type=click.Path(dir_okay=False), metavar="FILE",
    help="Policy file (ACM rule language): which strategy resolves which actuators. "
    "Repeatable; the first matching policy wins. Without one, defaults apply (docs/resolve.md).",
)

NATIVE_OPTION = click.option(
    "--native/--function-nodes", "native", default=None,
    help="Write each resolver as nodered-bridge's acm-resolver node (about twice the "
    "throughput; every runtime the flows run on needs node-red-acm-bridge) or as a "
    "function node (runs on a stock Node-RED). Default: what the flows have, else "
    "function nodes.",
)
