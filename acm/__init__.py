"""ACM — actuation conflict manager for Node-RED.

Library API (the CLI and the editor bridge are thin shells over it)::

    import acm
    report = acm.analyze("flows.json")
    for finding in report.findings:
        print(finding.severity, finding.message)
    print(acm.render(report, "json"))
"""

from __future__ import annotations

__version__ = "0.1.0"

from .engine import analyze, analyze_flows, analyze_model
from .errors import AcmError, FlowsError, ModelError, RuleError
from .findings import Finding, Report
from .flows import Flows, flows_from_data, load_flows
from .model import Model, load_model
from .output import FORMATTERS, render
from .rules import RuleSet, load_ruleset

__all__ = [
    "AcmError",
    "FORMATTERS",
    "Finding",
    "Flows",
    "FlowsError",
    "ModelError",
    "Report",
    "RuleError",
    "RuleSet",
    "__version__",
    "analyze",
    "analyze_flows",
    "analyze_model",
    "flows_from_data",
    "load_flows",
    "load_model",
    "Model",
    "load_ruleset",
    "render",
]
