"""The catalog as a Markdown table (docs/catalog.md is generated from the declarations)."""

from __future__ import annotations

from . import MODULES, core, homeassistant
from .declare import PROVENANCES, NodeType


def _starts(declared: NodeType) -> str:
    if declared.trigger is None:
        return ""
    fixed = declared.trigger.__doc__
    return fixed if fixed in PROVENANCES else "by settings"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown() -> str:
    """docs/catalog.md: every node type ACM knows, grouped by node package."""
    lines = [
        "# Node types ACM knows",
        "",
        "Generated from the declarations in `acm/analysis/catalog/` by",
        "`python scripts/catalog_doc.py`; do not edit by hand. How the columns are",
        "used is explained in [analysis.md](analysis.md).",
        "",
        "- **starts**: the node starts messages, with this provenance (manual: a",
        "  person; automation: a schedule or sensor; external: another system;",
        "  *by settings*: see the description).",
        "- **commands**: what its targets are (device, channel, state).",
        "- **gates**: it can carry shared state that decides whether messages flow.",
        "",
    ]
    for module in MODULES:
        name = module.__name__.rsplit(".", 1)[-1]
        title = (module.__doc__ or name).strip().splitlines()[0].rstrip(".:").replace("``", "`")
        lines += [f"## {name}: {_cell(title)}", "",
                  "| node type | package | starts | commands | gates | what ACM reads |",
                  "|---|---|---|---|---|---|"]
        for declared in sorted(module.TYPES, key=lambda t: t.type.lower()):
            lines.append(
                f"| `{declared.type}` | `{declared.package}` | {_starts(declared)} | "
                f"{', '.join(declared.roles)} | {'yes' if declared.gates else ''} | "
                f"{_cell(declared.summary)} |")
        lines.append("")
    return "\n".join(lines + _targets())


def _targets() -> list[str]:
    """The tables that decide what a target is and which feature a command acts on."""
    levels = ", ".join(f"`{w}`" for w in sorted(core.COMMAND_LEVELS))
    lines = [
        "## What a target is",
        "",
        f"- **MQTT topics** are devices when a level of the topic is one of {levels} "
        "or starts with `set_` / `set-`; other topics are channels. A binding in the "
        "deployment model makes any target a device.",
        "- **Home Assistant services** of these domains are no target at all: "
        + ", ".join(f"`{d}`" for d in sorted(homeassistant.NOT_A_TARGET)) + ".",
        "- **Home Assistant entities** of these domains are shared state: "
        + ", ".join(f"`{d}`" for d in sorted(homeassistant.STATE_DOMAINS))
        + "; so are `switch.nodered_*`, the switches that enable Node-RED's exposed "
        "nodes. Entities of every other domain are devices.",
        "",
        "## Features of a device",
        "",
        "A service acts on one feature of its entity's device; services not listed act on "
        "the whole device (every `light` service, for one). `homeassistant.turn_on`, "
        "`turn_off` and `toggle` count as the entity domain's own service.",
        "",
        "| domain | feature | services |",
        "|---|---|---|",
    ]
    for domain, services in homeassistant.FEATURES.items():
        by_feature: dict[str, list[str]] = {}
        for service, feature in services.items():
            by_feature.setdefault(feature, []).append(service)
        for feature, names in by_feature.items():
            lines.append(f"| `{domain}` | {feature} | "
                         + ", ".join(f"`{n}`" for n in names) + " |")
    return lines
