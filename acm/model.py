"""The deployment model (YAML, version 1): load, validate against its schema, resolve.

The schema (``acm/data/model.schema.json``) checks the shape; this module then
checks what a schema cannot (unique ids, references between sections, flows
files that exist, application tabs that exist) and turns the document into
plain frozen records. Every error names the file, the line, the path in the
document (``actuators[3].effects.temperature``) and what was expected.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from .analysis.catalog.core import redact_url
from .analysis.flows import Flows, load_flows
from .analysis.keys import gpio_key, ha_key, http_key, mqtt_key
from .errors import ModelError

if TYPE_CHECKING:
    import jsonschema


@dataclass(frozen=True)
class Runtime:
    id: str
    flows: Path
    url: str | None = None
    name: str | None = None
    credentials: Mapping[str, str] = field(default_factory=dict)
    tls: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Broker:
    id: str
    host: str
    port: int = 1883
    aliases: tuple[str, ...] = ()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class ApplicationDef:
    id: str
    name: str
    tabs: tuple[str, ...]  # as written: tab ids or labels, optionally "runtime/tab"
    path: str  # where in the document, for errors
    where: tuple[str, ...] = ()  # "file:line" of each tab entry, for errors
    provenance: str | None = None  # manual, automation or external: overrides the catalog


@dataclass(frozen=True)
class Zone:
    id: str
    name: str
    properties: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelActuator:
    id: str
    key: str
    name: str
    zone: str | None
    effects: Mapping[str, str]  # property -> increase | decrease
    binding: Mapping[str, Any]
    # property -> the effect's ``guard`` where declared: true, this actuator guards the
    # other in an interlock on that property by default; false, it does not
    guards: Mapping[str, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class Sensor:
    """A sensor the model places: what it measures, where, and the key it is read by.

    The key is spelt as actuator keys are (``mqtt:<host:port>/<topic>``,
    ``ha:<entity_id>``), so a flow's trigger listening to it can be found.
    """

    id: str
    key: str
    name: str
    zone: str | None
    measures: tuple[str, ...]
    binding: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Model:
    path: Path
    name: str
    runtimes: tuple[Runtime, ...]
    brokers: tuple[Broker, ...]
    applications: tuple[ApplicationDef, ...]
    zones: tuple[Zone, ...]
    actuators: tuple[ModelActuator, ...]
    sensors: tuple[Sensor, ...] = ()
    resolution_runtime: str | None = None  # hosts cross-runtime resolvers
    triggers: Mapping[str, str] = field(default_factory=dict)  # node id or name -> provenance
    # "ha-area:office" (and ha-device:, ha-floor:, ha-label:) -> the entity ids it holds
    ha_members: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    resolution_broker: str | None = None  # carries cross-runtime interlocks' guard states

    def runtime(self, runtime_id: str) -> Runtime | None:
        return next((r for r in self.runtimes if r.id == runtime_id), None)

    def runtime_of_flows(self, flows: str | Path) -> Runtime:
        """The runtime whose flows file is ``flows``; a ModelError naming the file if none."""
        wanted = Path(flows).resolve()
        found = next((r for r in self.runtimes if r.flows.resolve() == wanted), None)
        if found is None:
            files = ", ".join(str(r.flows) for r in self.runtimes) or "none"
            raise ModelError(f"is not a flows file of model {self.path} (its flows: {files})",
                             str(flows))
        return found

    def runtime_at(self, url: str) -> Runtime:
        """The runtime whose editor is at ``url``; a ModelError if none is."""
        found = next((r for r in self.runtimes
                      if r.url and r.url.rstrip("/") == url.rstrip("/")), None)
        if found is None:
            raise ModelError(f"no runtime of model {self.path} has url {without_userinfo(url)}")
        return found

    def load_flows(self) -> dict[str, Flows]:
        """Every runtime's flows, keyed by runtime id."""
        return {r.id: load_flows(r.flows) for r in self.runtimes}

    def broker_aliases(self) -> dict[str, str]:
        """Every host:port spelling of a broker -> its canonical host:port."""
        out: dict[str, str] = {}
        for broker in self.brokers:
            for alias in broker.aliases:
                out[alias if ":" in alias else f"{alias}:{broker.port}"] = broker.address
        return out


def has_userinfo(url: str) -> bool:
    """Whether ``url`` carries a ``user:password@``, which requests sends as Basic auth."""
    try:
        return "@" in urlsplit(url).netloc
    except ValueError:  # not a URL at all: the request will say so
        return False


def without_userinfo(url: str) -> str:
    """``url`` without any ``user:password@`` in it: fit to print."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    text = (resources.files("acm.data") / "model.schema.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _path_text(parts: Sequence[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def _line_of(root: yaml.Node | None, parts: Sequence[Any]) -> int | None:
    """1-based line of the YAML node at ``parts`` (or its nearest parent)."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for part in parts:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) \
                and part < len(node.value):
            nxt = node.value[part]
        else:
            nxt = None
        if nxt is None:
            break
        node = nxt
        line = node.start_mark.line + 1
    return line


def _where(path: Path, root: yaml.Node | None, parts: Sequence[Any]) -> str:
    line = _line_of(root, parts)
    return f"{path}:{line}" if line else str(path)


def _describe(error: jsonschema.ValidationError) -> str:
    """A schema error in words a user can act on."""
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        return _unknown_fields(error, error.instance)
    value = _shown(error)
    if error.validator in ("oneOf", "anyOf") and error.context:
        alternatives = _alternatives(error, value)
        if alternatives is not None:
            return alternatives
    said = _keyword_message(error, value)
    if said is not None:
        return said
    if value != repr(error.instance):  # a secret, or too long to repeat
        return f"{value} does not satisfy '{error.validator}'"
    message = str(error.message)
    return message if len(message) <= 200 else message[:200] + "…"


def _unknown_fields(error: jsonschema.ValidationError, instance: dict[Any, Any]) -> str:
    """An ``additionalProperties`` error on the mapping ``instance``: the fields not
    allowed, and those that are."""
    schema_part = error.schema if isinstance(error.schema, dict) else {}
    known = set(schema_part.get("properties", {}))
    extensions = "^x-" in schema_part.get("patternProperties", {})
    extra = sorted(k for k in instance if k not in known
                   and not (extensions and str(k).startswith("x-")))
    allowed = ", ".join(sorted(known)) + (" (or x-* extensions)" if extensions else "")
    return f"unknown field(s) {', '.join(repr(k) for k in extra)}; expected: {allowed}"


def _alternatives(error: jsonschema.ValidationError, value: str) -> str | None:
    """A oneOf/anyOf error by what each alternative expects ("one of: increase | decrease,
    or a mapping"); None unless every alternative can be said."""
    wants = [_expected(sub) for sub in error.context or () if not sub.relative_path]
    said = [w for w in wants if w]
    if said and len(said) == len(wants):
        return f"{value} is not allowed; expected " + ", or ".join(dict.fromkeys(said))
    return None


#: The message of an error of each keyword that names one expected value or form.
_KEYWORD_MESSAGES = {
    "const": "{value} is not allowed; expected {wanted!r}",
    "pattern": "{value} does not match the expected form {wanted}",
    "type": "{value} is not of type {wanted}",
}


def _keyword_message(error: jsonschema.ValidationError, value: str) -> str | None:
    """An ``enum``, ``const``, ``pattern`` or ``type`` error in words; None for others."""
    if error.validator == "enum":
        allowed = " | ".join(str(v) for v in list(error.validator_value))  # type: ignore[arg-type]
        return f"{value} is not allowed; expected one of: {allowed}"
    template = _KEYWORD_MESSAGES.get(str(error.validator))
    if template is None:
        return None
    return template.format(value=value, wanted=error.validator_value)


_TYPE_WORDS = {"object": "a mapping", "array": "a list", "string": "a text",
               "boolean": "true or false", "integer": "a whole number", "number": "a number"}


def _expected(error: jsonschema.ValidationError) -> str | None:
    """What one alternative of a oneOf/anyOf expects, in words; None if it cannot be said."""
    if error.validator == "enum":
        return "one of: " + " | ".join(str(v) for v in list(error.validator_value))  # type: ignore[arg-type]
    if error.validator == "type":
        fields = error.schema.get("properties") if isinstance(error.schema, dict) else None
        words = _TYPE_WORDS.get(str(error.validator_value))
        return f"{words} of {', '.join(fields)}" if words and fields else words
    return None


_SECRET_NAMES = ("_env", "token", "password", "secret", "key")


def _shown(error: jsonschema.ValidationError) -> str:
    """The offending value for a message: never a would-be secret, never a whole document."""
    last = error.absolute_path[-1] if error.absolute_path else ""
    if isinstance(last, str) and last.lower().endswith(_SECRET_NAMES):
        return "the value (not shown: it may be a secret)"
    text = repr(error.instance)
    return text if len(text) <= 80 else text[:77] + "..."


MAX_MODEL_NODES = 100_000  # a real site's model has hundreds of YAML nodes


def _check_size(root: yaml.Node | None, path: Path) -> None:
    """Refuse a model whose aliases expand into more nodes than any site needs.

    A "billion laughs" document is a few hundred bytes that expand, alias by
    alias, into billions of nodes; counting the expanded size on the composed
    tree (each node's size once, shared aliases multiplied) costs only the
    size of the text.
    """
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)] if root is not None else []
    while stack:  # post-order without recursion: documents can be nested deep
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        if done or not children:
            sizes[id(node)] = min(1 + sum(sizes.get(id(c), 0) for c in children),
                                  MAX_MODEL_NODES + 1)
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    if root is not None and sizes.get(id(root), 0) > MAX_MODEL_NODES:
        raise ModelError(f"the model expands to more than {MAX_MODEL_NODES} YAML nodes "
                         "(aliases repeated over and over?)", str(path))


_STR_TAG = "tag:yaml.org,2002:str"


def _check_scalars(root: yaml.Node | None, path: Path) -> None:
    """Refuse, at its line, a mapping key that is not text and a value that does not fit
    its tag (``name: !!int abc``).

    Keys: every key in a model is a name; YAML reads ``1``, ``yes``, ``~`` or a date
    as a number, boolean, null or date. Tags: PyYAML raises ValueError and others,
    not a YAMLError, when an explicit tag does not fit its text.
    """
    constructor = yaml.constructor.SafeConstructor()
    seen: set[int] = set()
    # (node, whether its keys must be text: not inside an x-* extension, which is the user's)
    stack: list[tuple[yaml.Node, bool]] = [(root, True)] if root is not None else []
    while stack:  # by identity and without recursion: aliases share nodes, nesting is deep
        node, names = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            stack.extend(_mapping_children(node, names, path))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, names) for item in node.value)
        elif isinstance(node, yaml.ScalarNode) and node.tag != _STR_TAG:
            _check_tagged(constructor, node, path)


def _mapping_children(node: yaml.MappingNode, names: bool,
                      path: Path) -> list[tuple[yaml.Node, bool]]:
    """The keys and values of a mapping to check next, once its keys are known to be
    text where they must be (``names``); values under an ``x-*`` key are the user's."""
    children: list[tuple[yaml.Node, bool]] = []
    for key, value in node.value:
        text = isinstance(key, yaml.ScalarNode) and key.tag == _STR_TAG
        if names and not text:
            line = key.start_mark.line + 1
            what = (f"key {key.value!r} is not text: quote it"
                    if isinstance(key, yaml.ScalarNode) else "a key must be a name")
            raise ModelError(what, f"{path}:{line}")
        children.append((key, False))
        children.append((value, names and not str(key.value).startswith("x-")))
    return children


def _check_tagged(constructor: yaml.constructor.SafeConstructor, node: yaml.ScalarNode,
                  path: Path) -> None:
    """Refuse, at its line, an explicitly tagged scalar whose text does not fit its tag."""
    try:
        constructor.construct_object(node, deep=True)
    except yaml.YAMLError:
        raise  # reported by load_model like any YAML error
    except (ValueError, KeyError, AttributeError, TypeError, OverflowError):
        line = node.start_mark.line + 1
        tag = node.tag.rpartition(":")[2]
        raise ModelError(f"malformed YAML: {node.value!r} is not a valid {tag}",
                         f"{path}:{line}") from None


def load_model(path: str | Path) -> Model:
    """Load and fully validate a deployment model."""
    model_path = Path(path)
    try:
        text = model_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelError("model file not found", str(model_path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read model ({exc})", str(model_path)) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        _check_size(root, model_path)  # before aliases are expanded into data
        _check_scalars(root, model_path)
        data = yaml.safe_load(text)
    except RecursionError:
        raise ModelError("YAML nested too deeply to be a model", str(model_path)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{model_path}:{mark.line + 1}:{mark.column + 1}" if mark else str(model_path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ModelError(f"malformed YAML: {problem}", where) from None
    if not isinstance(data, dict):
        raise ModelError("a model is a YAML mapping with at least 'version: 1'", str(model_path))
    import jsonschema  # imported when a model is read: it costs start-up time otherwise

    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: (list(e.absolute_path), e.message))
    if errors:
        error = jsonschema.exceptions.best_match(errors)
        # best_match prefers the shallowest error; the deepest is the one to fix
        deepest = max(errors, key=lambda e: len(e.absolute_path))
        if len(deepest.absolute_path) > len(error.absolute_path):
            error = deepest
        parts = list(error.absolute_path)
        raise ModelError(f"{_path_text(parts)}: {_describe(error)}",
                         _where(model_path, root, parts))
    return _resolve(model_path, root, data)


def _resolve(path: Path, root: yaml.Node | None, data: dict[str, Any]) -> Model:
    """The model a schema-valid document describes, once what the schema cannot say holds:
    ids are unique, references name what exists, files exist inside the model's folder.

    The checks run section by section, in the order the tests and users rely on for
    which error a document with several is reported with.
    """
    doc = _Document(path, root, data)
    runtimes = doc.runtimes()
    brokers = doc.brokers()
    applications = doc.applications()
    zones = doc.zones()
    by_broker = {b.id: b for b in brokers}
    actuators = doc.actuators(by_broker)
    sensors = doc.sensors(by_broker)
    host, via = doc.resolution()
    triggers = {t["node"]: t["provenance"] for t in data.get("triggers") or []}
    members = doc.ha_members()
    return Model(path, data.get("name") or path.stem, tuple(runtimes), brokers, applications,
                 zones, tuple(actuators), tuple(sensors), host, triggers,
                 members, resolution_broker=via)


class _Document:
    """A schema-valid model document, checked section by section (see :func:`_resolve`)."""

    def __init__(self, path: Path, root: yaml.Node | None, data: dict[str, Any]) -> None:
        self.path, self.root, self.data = path, root, data
        self.base = path.parent
        self.folder = self.base.resolve()
        self.runtime_ids = self.unique("runtimes")
        self.broker_ids = self.unique("brokers")
        self.unique("applications")
        self.zone_ids = self.unique("zones")
        self.unique("actuators")

    def fail(self, parts: list[Any], what: str) -> ModelError:
        return ModelError(f"{_path_text(parts)}: {what}", _where(self.path, self.root, parts))

    def unique(self, section: str) -> set[str]:
        seen: set[str] = set()
        for i, item in enumerate(self.data.get(section) or []):
            if item["id"] in seen:
                raise self.fail([section, i, "id"], f"duplicate id {item['id']!r}")
            seen.add(item["id"])
        return seen

    def inside(self, parts: list[Any], hint: str) -> None:
        """The path at ``parts`` stays in the model's folder, symlinks followed.

        A model may come from someone else: its token file is sent to its url,
        its flows are deployed there. Paths given on the command line are not
        checked: the user chose them.
        """
        value: Any = self.data
        for part in parts:
            value = value[part]
        try:
            target = (self.base / value).resolve()
        except (OSError, ValueError, RuntimeError):  # RuntimeError: a symlink loop
            raise self.fail(parts, f"{value!r} is not a usable path") from None
        if not target.is_relative_to(self.folder):
            raise self.fail(parts, f"{value!r} is outside the model's folder {self.folder}; "
                            f"{hint}")

    def runtimes(self) -> list[Runtime]:
        runtimes = []
        for i, item in enumerate(self.data.get("runtimes") or []):
            self.inside(["runtimes", i, "flows"], "keep the flows file in that folder or below it")
            creds, tls = item.get("credentials") or {}, item.get("tls") or {}
            if "token_file" in creds:
                self.inside(["runtimes", i, "credentials", "token_file"],
                            "keep it in that folder or below it, or name a variable with "
                            "token_env")
            if "ca_file" in tls:
                self.inside(["runtimes", i, "tls", "ca_file"],
                            "keep it in that folder or below it, or leave it out and set "
                            "REQUESTS_CA_BUNDLE")
            if creds and item.get("url") and has_userinfo(item["url"]):
                raise self.fail(["runtimes", i, "credentials"],
                                "the url has credentials in it (user:password@) and the "
                                "runtime has 'credentials' too: give either credentials in "
                                "the URL or a token, not both")
            flows_path = self.base / item["flows"]
            if not flows_path.is_file():
                raise self.fail(["runtimes", i, "flows"], f"flows file {item['flows']!r} not "
                                f"found (looked for {flows_path})")
            runtimes.append(Runtime(item["id"], flows_path, item.get("url"), item.get("name"),
                                    dict(item.get("credentials") or {}),
                                    dict(item.get("tls") or {})))
        return runtimes

    def brokers(self) -> tuple[Broker, ...]:
        for i, item in enumerate(self.data.get("brokers") or []):
            if "ca_file" in item:
                self.inside(["brokers", i, "ca_file"], "keep it in that folder or below it")
        return tuple(
            Broker(b["id"], b["host"], int(b.get("port", 1883)), tuple(b.get("aliases") or ()))
            for b in self.data.get("brokers") or []
        )

    def applications(self) -> tuple[ApplicationDef, ...]:
        """The applications, each with where its tab entries are written (for errors)."""
        return tuple(
            ApplicationDef(a["id"], a.get("name") or a["id"], tuple(a["tabs"]),
                           f"applications[{i}]",
                           tuple(_where(self.path, self.root, ["applications", i, "tabs", j])
                                 for j in range(len(a["tabs"]))), a.get("provenance"))
            for i, a in enumerate(self.data.get("applications") or [])
        )

    def zones(self) -> tuple[Zone, ...]:
        """The zones, named by their id where they have no name."""
        return tuple(Zone(z["id"], z.get("name") or z["id"], tuple(z.get("properties") or ()))
                     for z in self.data.get("zones") or [])

    def ha_members(self) -> dict[str, tuple[str, ...]]:
        """``home_assistant`` places as ``ha-area:office`` (and ha-device:, ha-floor:,
        ha-label:) -> the entity ids each holds."""
        return {f"ha-{kind[:-1]}:{place}": tuple(entities)
                for kind, places in (self.data.get("home_assistant") or {}).items()
                for place, entities in places.items()}

    def zone(self, section: str, i: int, item: Mapping[str, Any]) -> str | None:
        """The zone an actuator or sensor is in: None, or one of the model's zones."""
        zone = item.get("zone")
        if zone is not None and zone not in self.zone_ids:
            raise self.fail([section, i, "zone"], f"unknown zone {zone!r}; "
                            f"known: {', '.join(sorted(self.zone_ids)) or 'none'}")
        return zone

    def key(self, section: str, i: int, binding: Mapping[str, Any],
            by_broker: Mapping[str, Broker]) -> str:
        return binding_key(binding, by_broker, self.runtime_ids, self.broker_ids,
                           lambda what: self.fail([section, i, "binding"], what))

    def actuators(self, by_broker: Mapping[str, Broker]) -> list[ModelActuator]:
        actuators = []
        for i, item in enumerate(self.data.get("actuators") or []):
            zone = self.zone("actuators", i, item)
            binding = item["binding"]
            key = self.key("actuators", i, binding, by_broker)
            effects = dict(item.get("effects") or {})  # each "increase", or {direction, guard}
            actuators.append(ModelActuator(
                item["id"], key, item.get("name") or item["id"], zone,
                {p: e["direction"] if isinstance(e, dict) else e for p, e in effects.items()},
                dict(binding),
                {p: bool(e["guard"]) for p, e in effects.items()
                 if isinstance(e, dict) and "guard" in e}))
        return actuators

    def sensors(self, by_broker: Mapping[str, Broker]) -> list[Sensor]:
        self.unique("sensors")
        sensors = []
        for i, item in enumerate(self.data.get("sensors") or []):
            zone = self.zone("sensors", i, item)
            key = self.key("sensors", i, item["binding"], by_broker)
            sensors.append(Sensor(item["id"], key, item.get("name") or item["id"], zone,
                                  tuple(dict.fromkeys(item["measures"])), dict(item["binding"])))
        return sensors

    def resolution(self) -> tuple[str | None, str | None]:
        """The runtime that hosts cross-runtime resolvers and the broker they use, if named."""
        resolution = self.data.get("resolution") or {}
        host, via = resolution.get("runtime"), resolution.get("broker")
        if host is not None and host not in self.runtime_ids:
            raise self.fail(["resolution", "runtime"], f"unknown runtime {host!r}; "
                            f"known: {', '.join(sorted(self.runtime_ids)) or 'none'}")
        if via is not None and via not in self.broker_ids:
            raise self.fail(["resolution", "broker"], f"unknown broker {via!r}; "
                            f"known: {', '.join(sorted(self.broker_ids)) or 'none'}")
        return host, via


def binding_key(binding: Mapping[str, Any], brokers: Mapping[str, Broker],
                runtime_ids: set[str], broker_ids: set[str], fail: Any) -> str:
    """The actuator key a model binding names (the same keys the catalog derives)."""
    kind = binding["type"]
    if kind == "mqtt":
        broker = brokers.get(binding["broker"])
        if broker is None:
            raise fail(f"unknown broker {binding['broker']!r}; "
                       f"known: {', '.join(sorted(broker_ids)) or 'none'}")
        topic = binding["topic"].rstrip("/") or binding["topic"]
        return mqtt_key(broker.address, topic)
    if kind == "ha":
        return ha_key(binding["entity_id"])
    if kind == "gpio":
        if binding["runtime"] not in runtime_ids:
            raise fail(f"unknown runtime {binding['runtime']!r}; "
                       f"known: {', '.join(sorted(runtime_ids)) or 'none'}")
        return gpio_key(binding["runtime"], binding["pin"])
    if kind == "http":  # the same key the catalog gives the node: no secrets in it
        return http_key(binding["method"], redact_url(binding["url"]))
    return str(binding["key"])
