"""ACM — actuation conflict manager for Node-RED.

Library API (the CLI and the editor bridge are thin shells over it)::

    import acm
    report = acm.analyze("flows.json")
    for finding in report.findings:
        print(finding.severity, finding.message)
    print(acm.render(report, "json"))

The names below are imported on first use (PEP 562 module ``__getattr__``):
``import acm`` costs next to nothing, so a command that does not analyse
(``acm --help``, ``acm rules``) never loads the graph stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:
    from .analysis.findings import Finding, Report
    from .analysis.flows import Flows, flows_from_data, load_flows
    from .engine import analyze, analyze_flows, analyze_model
    from .errors import AcmError, FlowsError, ModelError, RuleError
    from .model import Model, load_model
    from .output import FORMATTERS, render
    from .rules.ruleset import RuleSet, load_ruleset

#: Public name -> the submodule that defines it.
_LAZY = {
    "analyze": "engine", "analyze_flows": "engine", "analyze_model": "engine",
    "AcmError": "errors", "FlowsError": "errors", "ModelError": "errors", "RuleError": "errors",
    "Finding": "analysis.findings", "Report": "analysis.findings",
    "Flows": "analysis.flows", "flows_from_data": "analysis.flows", "load_flows": "analysis.flows",
    "Model": "model", "load_model": "model",
    "FORMATTERS": "output", "render": "output",
    "RuleSet": "rules.ruleset", "load_ruleset": "rules.ruleset",
}

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'acm' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
