"""The resolution strategies, declared once: ``acm/data/strategies.json``.

Each strategy has a name, a one-line summary, its resolver template, the
conflict kinds it resolves, the actuators a policy binds, and its options
(type, default, unit, one-line help); each conflict kind has the default
strategy ``acm resolve`` uses when no policy matches. The policy checker,
``acm resolve``, ``acm strategies`` (and through it the editor's Resolve
form), the docs tables and the tests all read this one declaration.
Adding a strategy is a template file plus an entry in the manifest.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

SCHEMA = "acm.strategies/1"
MANIFEST = "strategies.json"

#: Option types: what a policy writes, and what the resolver gets in ACM_RESOLVER.
TYPES: Mapping[str, str] = {
    "duration": "a number with ms, s, m or h (30s, 15m); milliseconds in the resolver",
    "word": "a bare word from the option's list",
    "text": "a quoted string",
    "value": "a string, a number, true/false or none",
    "texts": "one or more quoted strings, comma-separated",
    "applications": "one or more application names or ids, comma-separated; ids in the resolver",
    "bool": "true or false",
    "actuator": "one of the conflict's actuators (key, model id or name); its key in the resolver",
}
UNITS: Mapping[str, str] = {"duration": "ms"}
#: Conflict kinds a strategy may resolve (the kinds of the built-in rules that ACM rewires).
KINDS = ("direct", "override", "indirect", "cross-runtime")


@dataclass(frozen=True)
class Option:
    """One option of a strategy (``kind`` is one of :data:`TYPES`)."""

    kind: str
    required: bool = False
    words: tuple[str, ...] = ()
    default: Any = None
    name: str = ""
    help: str = ""
    example: str | None = None

    @property
    def unit(self) -> str | None:
        return UNITS.get(self.kind)


@dataclass(frozen=True)
class Strategy:
    name: str
    summary: str
    template: str  # file name in acm/data/resolvers/
    resolves: tuple[str, ...]  # conflict kinds
    bindings: tuple[str, ...]  # the actuators a policy binds: ("a",) or ("guard", "target")
    options: Mapping[str, Option]
    derived: Mapping[str, str]  # configuration ACM adds itself (name -> what it is)


@dataclass(frozen=True)
class Default:
    """What ``acm resolve`` does for a conflict kind that no policy matches."""

    kind: str
    strategy: str | None  # None: not resolved without a policy
    options: Mapping[str, Any]  # complete: every option of the strategy
    why: str
    resolve_info: bool  # info-level findings of this kind are resolved when asked for by id


@dataclass(frozen=True)
class Manifest:
    strategies: Mapping[str, Strategy]
    defaults: Mapping[str, Default]

    def resolving(self, kind: str) -> list[Strategy]:
        return [s for s in self.strategies.values() if kind in s.resolves]


class ManifestError(ValueError):
    """The manifest shipped with ACM is inconsistent (a bug in ACM, caught by the tests)."""


#: What a default of each type may be (besides null); values as the resolver gets them.
_DEFAULT_OK: Mapping[str, Any] = {
    "duration": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
    "bool": lambda v: isinstance(v, bool),
    "text": lambda v: isinstance(v, str),
    "texts": lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
    "applications": lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
    "actuator": lambda v: isinstance(v, str),
}


def _option(strategy: str, data: Mapping[str, Any]) -> Option:
    where = f"{strategy}.{data.get('name')}"
    kind = data.get("type")
    if kind not in TYPES:
        raise ManifestError(f"{where}: unknown type {kind!r}")
    words = tuple(data.get("words") or ())
    if (kind == "word") != bool(words):
        raise ManifestError(f"{where}: a word option, and only a word option, lists words")
    required = bool(data.get("required", False))
    default = data.get("default")
    if required and default is not None:
        raise ManifestError(f"{where}: a required option has no default")
    if kind == "word" and default is not None and default not in words:
        raise ManifestError(f"{where}: default {default!r} is not one of its words")
    if default is not None and not _DEFAULT_OK.get(str(kind), lambda v: True)(default):
        raise ManifestError(f"{where}: default {default!r} is no {kind}")
    if not data.get("help"):
        raise ManifestError(f"{where}: no help")
    return Option(str(kind), required, words, default, str(data["name"]), str(data["help"]),
                  data.get("example"))


def _strategy(data: Mapping[str, Any]) -> Strategy:
    """One strategy of the manifest, checked part by part."""
    name = _strategy_name(data)
    resolves = tuple(data.get("resolves") or ())
    unknown = [k for k in resolves if k not in KINDS]
    if not resolves or unknown:
        raise ManifestError(f"{name}: resolves {list(resolves)} (known kinds: {', '.join(KINDS)})")
    bindings = tuple(data.get("bindings") or ())
    if len(bindings) not in (1, 2):
        raise ManifestError(f"{name}: a policy binds one actuator or two (guard, target)")
    options = _options(name, data)
    derived = dict(data.get("derived") or {})
    both = sorted(set(derived) & set(options))
    if both:
        raise ManifestError(f"{name}: {both} both option and derived")
    template = _template(name, data)
    return Strategy(name, str(data.get("summary") or ""), template, resolves,
                    bindings, options, derived)


def _strategy_name(data: Mapping[str, Any]) -> str:
    """A strategy's name: lower-case letters, digits and '-'."""
    name = str(data.get("name") or "")
    if not name or not name.replace("-", "").isalnum() or not name.islower():
        raise ManifestError(f"strategy name {name!r}: lower-case letters, digits and '-' only")
    return name


def _options(strategy: str, data: Mapping[str, Any]) -> dict[str, Option]:
    """A strategy's options by name, in declaration order, each declared once."""
    options: dict[str, Option] = {}
    for item in data.get("options") or ():
        option = _option(strategy, item)
        if option.name in options:
            raise ManifestError(f"{strategy}: option {option.name!r} declared twice")
        options[option.name] = option
    return options


def _template(strategy: str, data: Mapping[str, Any]) -> str:
    """A strategy's template: the name of a file in acm/data/resolvers/."""
    template = str(data.get("template") or "")
    if not template.endswith(".js") or "/" in template \
            or not resources.files("acm.data").joinpath("resolvers", template).is_file():
        raise ManifestError(f"{strategy}: no template acm/data/resolvers/{data.get('template')}")
    return template


def _default(kind: str, data: Mapping[str, Any],
             strategies: Mapping[str, Strategy]) -> Default:
    chosen = data.get("default")
    why = str(data.get("why") or "")
    resolve_info = bool(data.get("resolve_info", False))
    if chosen is None:
        return Default(kind, None, {}, why, resolve_info)
    strategy = strategies.get(chosen.get("strategy"))
    if strategy is None or kind not in strategy.resolves:
        raise ManifestError(f"default for {kind}: {chosen.get('strategy')!r} does not resolve it")
    given = dict(chosen.get("options") or {})
    unknown = sorted(set(given) - set(strategy.options))
    missing = [n for n, o in strategy.options.items() if o.required and n not in given]
    if unknown or missing:
        raise ManifestError(f"default for {kind}: unknown options {unknown}, missing {missing}")
    options = {n: given.get(n, o.default) for n, o in strategy.options.items()}
    return Default(kind, strategy.name, options, why, resolve_info)


def parse(data: Mapping[str, Any]) -> Manifest:
    """Check and read a manifest document (the JSON of ``acm/data/strategies.json``)."""
    if data.get("schema") != SCHEMA:
        raise ManifestError(f"schema {data.get('schema')!r}, expected {SCHEMA}")
    strategies: dict[str, Strategy] = {}
    for item in data.get("strategies") or ():
        strategy = _strategy(item)
        if strategy.name in strategies:
            raise ManifestError(f"strategy {strategy.name!r} declared twice")
        strategies[strategy.name] = strategy
    kinds = data.get("kinds") or {}
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ManifestError(f"kinds {unknown} (known: {', '.join(KINDS)})")
    defaults = {kind: _default(kind, kinds[kind], strategies) for kind in KINDS if kind in kinds}
    return Manifest(strategies, defaults)


@lru_cache(maxsize=1)
def manifest() -> Manifest:
    """The strategies shipped with ACM (read and checked once)."""
    text = resources.files("acm.data").joinpath(MANIFEST).read_text(encoding="utf-8")
    return parse(json.loads(text))


def strategy(name: str) -> Strategy | None:
    return manifest().strategies.get(name)


def resolves(name: str, kind: str) -> bool:
    """Whether strategy ``name`` (a known one) resolves conflicts of ``kind``."""
    found = strategy(name)
    return found is not None and kind in found.resolves


def document() -> dict[str, Any]:
    """``acm strategies --format json`` (what the editor's Resolve form is built from)."""
    found = manifest()
    return {
        "schema": SCHEMA,
        "strategies": [
            {"name": s.name, "summary": s.summary, "template": s.template,
             "resolves": list(s.resolves), "bindings": list(s.bindings),
             "derived": dict(s.derived),
             "options": [
                 {"name": o.name, "type": o.kind, "required": o.required,
                  "default": o.default, "help": o.help,
                  **({"words": list(o.words)} if o.words else {}),
                  **({"unit": o.unit} if o.unit else {}),
                  **({"example": o.example} if o.example is not None else {})}
                 for o in s.options.values()]}
            for s in found.strategies.values()
        ],
        "kinds": {
            d.kind: {"default": None if d.strategy is None
                     else {"strategy": d.strategy, "options": dict(d.options)},
                     "why": d.why, "resolve_info": d.resolve_info}
            for d in found.defaults.values()
        },
    }


# ---------------------------------------------------------------------------
# words for people: ``acm strategies`` and the docs


def duration_text(ms: Any) -> str:
    """``60000`` -> ``1m``; ``1500`` -> ``1500ms``: as a policy writes it."""
    if not isinstance(ms, int) or isinstance(ms, bool) or ms <= 0:
        return str(ms)
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def value_text(option: Option, value: Any) -> str:
    """An option value as a policy writes it (``none`` for unset)."""
    if value is None:
        return "none"
    if option.kind == "duration":
        return duration_text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if option.kind == "word":
        return str(value)
    if isinstance(value, list):
        return ", ".join(json.dumps(v, ensure_ascii=False) for v in value)
    return json.dumps(value, ensure_ascii=False)


def options_text(name: str, options: Mapping[str, Any]) -> str:
    """``hold 1h, release "auto", resume latest``: set options (unset ones left out)."""
    found = manifest().strategies[name]
    return ", ".join(f"{key} {value_text(found.options[key], value)}"
                     for key, value in options.items()
                     if key in found.options and value is not None)


def kind_text(option: Option) -> str:
    if option.kind == "word":
        return "word: " + ", ".join(f"`{w}`" for w in option.words)
    return {"texts": "names", "applications": "applications"}.get(option.kind, option.kind)


def text(width: int = 88) -> str:
    """``acm strategies``: every strategy with its options, and the defaults."""
    found = manifest()

    def wrap(words: str, indent: int) -> list[str]:
        return textwrap.wrap(words, width, initial_indent=" " * indent,
                             subsequent_indent=" " * indent)

    lines: list[str] = []
    for s in found.strategies.values():
        binds = ", ".join(f"actuator {b}" for b in s.bindings)
        lines.append(f"{s.name}: resolves {', '.join(s.resolves)} conflicts "
                     f"(policy: for {binds})")
        lines += wrap(s.summary, 4)
        for o in s.options.values():
            kind = o.kind + (": " + " | ".join(o.words) if o.words else "")
            state = "required" if o.required else f"default {value_text(o, o.default)}"
            lines.append(f"    {o.name:14}{kind}; {state}")
            lines += wrap(o.help, 18)
        lines.append("")
    lines.append("When no policy matches (docs/resolve.md):")
    for d in found.defaults.values():
        chosen = "not resolved" if d.strategy is None else \
            f"{d.strategy} {options_text(d.strategy, d.options)}".strip()
        lines.append(f"    {d.kind:14}{chosen}")
        lines += wrap(d.why, 18)
    return "\n".join(lines) + "\n"


def policy_tables() -> str:
    """docs/resolve.md: per strategy, the options a policy accepts."""
    out: list[str] = []
    for s in manifest().strategies.values():
        out.append(f"**{s.name}** — [semantics](strategies.md#{s.name}); resolves "
                   + ", ".join(f"`{k}`" for k in s.resolves)
                   + ("; binds `guard, target`" if len(s.bindings) == 2 else ""))
        out.append("")
        out.append("| option | kind | required | default | meaning in short |")
        out.append("|---|---|---|---|---|")
        for o in s.options.values():
            default = "—" if o.required else f"`{value_text(o, o.default)}`"
            out.append(f"| `{o.name}` | {kind_text(o)} | {'yes' if o.required else 'no'} "
                       f"| {default} | {o.help} |")
        out.append("")
    return "\n".join(out).rstrip("\n")


def defaults_table() -> str:
    """docs/resolve.md: the default per conflict kind."""
    out = ["| conflict kind | default |", "|---|---|"]
    for d in manifest().defaults.values():
        chosen = "not resolved without a policy" if d.strategy is None else \
            f"`{d.strategy}` with `{options_text(d.strategy, d.options)}`"
        out.append(f"| `{d.kind}` | {chosen}: {d.why} |")
    return "\n".join(out)


def config_block(name: str) -> str:
    """docs/strategies.md: what one strategy's resolver reads in ``ACM_RESOLVER`` options."""
    s = manifest().strategies[name]
    out = ["Resolves " + ", ".join(f"`{k}`" for k in s.resolves) + " conflicts. Options"
           " (`options` in `ACM_RESOLVER`):", "",
           "| option | type | default | meaning |", "|---|---|---|---|"]
    for o in s.options.values():
        default = "required" if o.required else \
            "set by ACM" if o.kind == "actuator" else f"`{json.dumps(o.default)}`"
        kind = {"duration": "milliseconds", "applications": "application ids",
                "texts": "list of strings", "actuator": "actuator key",
                "word": " \\| ".join(f'`"{w}"`' for w in o.words)}.get(o.kind, o.kind)
        out.append(f"| `{o.name}` | {kind} | {default} | {o.help} |")
    for key, what in s.derived.items():
        out.append(f"| `{key}` | set by ACM | — | {what} |")
    return "\n".join(out)


def render_docs(text_in: str) -> str:
    """``text_in`` with every generated region (``<!-- acm:strategies NAME -->`` ...
    ``<!-- /acm:strategies -->``) rewritten from the manifest."""
    out: list[str] = []
    lines = text_in.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        i += 1
        if not line.startswith("<!-- acm:strategies ") or not line.endswith(" -->"):
            continue
        what = line[len("<!-- acm:strategies "):-len(" -->")].strip()
        end = next((j for j in range(i, len(lines)) if lines[j] == "<!-- /acm:strategies -->"),
                   None)
        if end is None:
            raise ManifestError(f"generated region '{what}' has no end marker")
        out.append(_region(what))
        out.append(lines[end])
        i = end + 1
    return "\n".join(out)


def _region(what: str) -> str:
    if what == "policy-options":
        return policy_tables()
    if what == "defaults":
        return defaults_table()
    if what.startswith("config "):
        return config_block(what[len("config "):])
    raise ManifestError(f"unknown generated region '{what}'")
