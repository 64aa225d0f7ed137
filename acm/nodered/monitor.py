"""The runtime monitor: commands seen on a running site's MQTT brokers, and the conflicts
among them (``acm monitor``).

Static analysis says who *can* command an actuator; the monitor records who
*does*: every message on the MQTT topic of a known actuator (the model's and
the flows'), with its time, its value and, where it can be told, its source.
Different values from different sources on one actuator within a window are a
**runtime conflict**, also when static analysis could not see it (a topic
computed in a function node, a device commanded from outside Node-RED).

The network side (paho-mqtt, one client per broker) only puts messages on a
bounded queue: the broker is never kept waiting, whatever the monitor does.
Everything else, :class:`Monitor`, is plain code that tests drive with their
own clock. What the monitor saw is written in the findings contract
(``acm.findings/1``, each conflict marked ``observed``) and merged into
``acm analyze --runtime-findings``.
"""

from __future__ import annotations

import json
import os
import queue
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..analysis.actuators import Actuator, NodeRef
from ..analysis.findings import Finding, Involved, Observation, Report, Severity, report_order
from ..analysis.keys import mqtt_parts
from ..analysis.values import UNKNOWN, const_text
from ..errors import AcmError
from ..files import write_atomic
from ..rules.ruleset import RUNTIME

SCHEMA = "acm.findings/1"
LINES_SCHEMA = "acm.monitor/1"
UNKNOWN_SOURCE = "unknown"
RESOLVER = "resolver"
PER_ACTUATOR = 32  # commands kept per actuator (within the window): memory stays bounded
MAX_CONFLICTS = 1000  # distinct runtime conflicts kept for the summary
QUEUE_SIZE = 10_000  # messages waiting; beyond it they are dropped and counted
APP_PROPERTY = "acm-app"  # MQTT 5 user property naming the sending application



def utc(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


@dataclass(frozen=True)
class Watched:
    """One actuator the monitor listens to, and what static analysis knows of it."""

    key: str
    name: str
    address: str  # broker host:port
    topic: str
    nodes: tuple[NodeRef, ...] = ()
    static: tuple[str, ...] = ()  # ids of static findings on it (not about the environment)
    managed_by: str | None = None  # every command passes a resolver of this strategy
    # constant command text -> the applications statically sending it; with ``sole`` the
    # only application that commands it, when no computed target could reach it
    senders: Mapping[str, frozenset[str]] = field(default_factory=dict)
    sole: str | None = None


@dataclass(frozen=True)
class Command:
    at: float
    key: str
    value: str
    source: str
    how: str  # how the source is known: tagged, topic, resolver, inferred, unknown

    def document(self) -> dict[str, Any]:
        return {"type": "command", "time": utc(self.at), "key": self.key, "value": self.value,
                "source": self.source, "how": self.how}

    def text(self) -> str:
        return f"{utc(self.at)}  {self.key}  {self.value!r}  from {self.source} ({self.how})"


@dataclass
class RuntimeConflict:
    """Different values from different sources on one actuator within the window."""

    watched: Watched
    sources: frozenset[str]
    first: float
    last: float
    commands: list[Command]
    count: int = 1
    window: float = 60.0

    @property
    def severity(self) -> Severity:
        return Severity.WARNING if UNKNOWN_SOURCE in self.sources else Severity.ERROR

    @property
    def known(self) -> str:
        if self.watched.static:
            return "static analysis reports it too (" + ", ".join(self.watched.static) + ")"
        return "static analysis does not see it"

    @property
    def message(self) -> str:
        said = ", ".join(f"{c.value!r} from {c.source}" for c in self.commands[:4])
        return (f"{self.watched.name} received different commands within {self.window:g} s "
                f"at run time: {said}; {self.known}")

    def finding(self) -> Finding:
        return Finding(
            rule=RUNTIME.name, code=RUNTIME.code, kind=RUNTIME.kind, severity=self.severity,
            message=self.message,
            actuators=(Involved(self.watched.key, self.watched.name, self.watched.nodes),),
            applications=tuple(sorted(s for s in self.sources
                                      if s not in (UNKNOWN_SOURCE, RESOLVER))),
            paths=(),
            observed=Observation(utc(self.first), utc(self.last), self.count,
                                 tuple((utc(c.at), c.source, c.value) for c in self.commands),
                                 self.watched.static, self.window))

    def document(self) -> dict[str, Any]:
        found = self.finding()
        return {"type": "conflict", "id": found.id, "severity": self.severity,
                "key": self.watched.key, "sources": sorted(self.sources),
                "first": utc(self.first), "last": utc(self.last), "count": self.count,
                "static": list(self.watched.static), "message": self.message}

    def text(self) -> str:
        level = "ERROR" if self.severity == "error" else "WARN "
        return f"{level} {RUNTIME.code} runtime  {self.message}"


def _value(payload: bytes) -> str:
    text = payload.decode("utf-8", errors="replace").strip()
    if len(text) > 200:
        text = text[:197] + "..."
    try:  # "21" and "21.0", '"on"' and 'on' are one command
        decoded = json.loads(text)
    except ValueError:
        return text
    if isinstance(decoded, (dict, list)):
        return json.dumps(decoded, sort_keys=True)
    if isinstance(decoded, float) and decoded.is_integer():
        return str(int(decoded))
    if isinstance(decoded, (int, float, str)) and not isinstance(decoded, bool):
        return str(decoded)
    return text


def _rival(recent: deque[Command], value: str, source: str) -> Command | None:
    """The latest of ``recent`` that conflicts with ``value`` from ``source``: another value
    from another source (any two commands from an unknown source may be two sources)."""
    return next((c for c in reversed(recent) if c.value != value
                 and (c.source != source or source == UNKNOWN_SOURCE)), None)


def _add_up(found: RuntimeConflict, sources: frozenset[str], command: Command) -> bool:
    """Count one more occurrence of the runtime conflict ``found``; whether it brings a
    source it did not have (and so is reported again)."""
    found.count += 1
    found.last = command.at
    fresh = not sources <= found.sources
    found.sources |= sources
    if len(found.commands) < 8:
        found.commands.append(command)
    return fresh


class Monitor:
    """Records commands on watched actuators and finds runtime conflicts among them."""

    def __init__(self, watched: Iterable[Watched], window: float = 60.0,
                 baseline: frozenset[str] = frozenset()) -> None:
        self.by_topic = {(w.address, w.topic): w for w in watched}
        self.window = window
        self.baseline = baseline
        self.recent: dict[str, deque[Command]] = {}
        self.conflicts: dict[str, RuntimeConflict] = {}  # actuator key -> ...
        self.commands = 0
        self.baselined = 0
        self.dropped = 0  # messages the queue had no room for

    @property
    def subscriptions(self) -> dict[str, list[str]]:
        """Broker address -> the topics to subscribe to there."""
        out: dict[str, list[str]] = {}
        for address, topic in sorted(self.by_topic):
            out.setdefault(address, []).append(topic)
        return out

    def attribute(self, watched: Watched, value: str, tag: str | None) -> tuple[str, str]:
        """The source of one command and how it is known.

        Inferred only from a site with no computed MQTT target (``senders`` is empty
        then): the one application that commands the actuator, or the one that sends
        this constant while no application sends a computed value.
        """
        if tag:
            return tag, "tagged"
        if watched.managed_by:
            return RESOLVER, "resolver"
        if watched.sole is not None:
            return watched.sole, "inferred"
        senders = watched.senders.get(value)
        if senders is not None and len(senders) == 1 and "*" not in watched.senders:
            return next(iter(senders)), "inferred"
        return UNKNOWN_SOURCE, "unknown"

    def observe(self, address: str, topic: str, payload: bytes, at: float,
                tag: str | None = None, retained: bool = False
                ) -> tuple[Command | None, RuntimeConflict | None]:
        """One message seen on a broker: the command it is, and a new runtime conflict."""
        watched = self.by_topic.get((address, topic))
        if watched is None or retained:  # a retained message is old state, not a command now
            return None, None
        value = _value(payload)
        source, how = self.attribute(watched, value, tag)
        command = Command(at, watched.key, value, source, how)
        self.commands += 1
        recent = self._within_window(watched.key, at)
        rival = _rival(recent, value, source)
        recent.append(command)
        if rival is None:
            return command, None
        sources = frozenset({rival.source, source})
        found = self.conflicts.get(watched.key)
        if found is not None:  # one finding per actuator: the sources add up
            return command, found if _add_up(found, sources, command) else None
        conflict = RuntimeConflict(watched, sources, rival.at, at, [rival, command],
                                   window=self.window)
        if conflict.finding().id in self.baseline or set(watched.static) & self.baseline:
            self.baselined += 1
            return command, None
        if len(self.conflicts) < MAX_CONFLICTS:
            self.conflicts[watched.key] = conflict
        return command, conflict

    def _within_window(self, key: str, at: float) -> deque[Command]:
        """The commands kept for actuator ``key``, those older than the window at ``at``
        dropped."""
        recent = self.recent.setdefault(key, deque(maxlen=PER_ACTUATOR))
        while recent and at - recent[0].at > self.window:
            recent.popleft()
        return recent

    def summary(self) -> dict[str, Any]:
        return {"type": "summary", "commands": self.commands,
                "actuators": len(self.recent), "conflicts": len(self.conflicts),
                "baselined": self.baselined, "dropped": self.dropped,
                "unseen_by_static_analysis": sum(1 for c in self.conflicts.values()
                                                 if not c.watched.static)}

    def summary_text(self) -> str:
        lines = [f"acm monitor: {self.commands} command(s) on {len(self.recent)} actuator(s), "
                 f"{len(self.conflicts)} runtime conflict(s)"
                 + (f", {self.baselined} in the baseline" if self.baselined else "")
                 + (f", {self.dropped} message(s) dropped" if self.dropped else "")]
        for conflict in self.conflicts.values():
            lines.append(f"  {conflict.watched.key}: {conflict.count} time(s), "
                         f"sources {', '.join(sorted(conflict.sources))}; {conflict.known}")
        return "\n".join(lines)

    def findings(self) -> list[Finding]:
        return sorted((c.finding() for c in self.conflicts.values()), key=report_order)


# ---------------------------------------------------------------------------
# What to watch: the static analysis of the site


ENVIRONMENT_RULES = ("indirect", "compounding", "chain", "loop")  # not about one actuator


def watched_from(report: Report, brokers: Sequence[Any]) -> list[Watched]:
    """Every MQTT actuator of the analysed site (the model's and the flows'), on the
    model's brokers, with what static analysis says of it."""
    addresses = {b.address for b in brokers}
    static = _static_findings(report)
    computed = any(u.kind == "mqtt" for u in report.unknown)
    out = []
    for act in report.actuators:
        parts = _watchable(act.key, addresses)
        if parts is None:
            continue
        address, topic = parts
        senders = _senders(act)
        sole = next(iter(act.drivers)) if len(act.drivers) == 1 and not computed else None
        out.append(Watched(act.key, act.name, address, topic, act.nodes,
                           tuple(dict.fromkeys(static.get(act.key, ()))), act.managed_by,
                           senders if not computed else {}, sole))
    return out


def _static_findings(report: Report) -> dict[str, list[str]]:
    """Actuator key -> the ids of the static findings on it (not about the environment)."""
    static: dict[str, list[str]] = {}
    for f in report.findings:
        if f.rule in ENVIRONMENT_RULES or f.observed is not None:
            continue
        for a in f.actuators:
            static.setdefault(a.key, []).append(f.id)
    return static


def _watchable(key: str, addresses: set[str]) -> tuple[str, str] | None:
    """``(address, topic)`` of an MQTT actuator on one of ``addresses`` whose topic can be
    subscribed to as it is (no wildcard); None for any other actuator."""
    parts = mqtt_parts(key)
    if parts is None:
        return None
    address, topic = parts
    if address not in addresses or not topic or "+" in topic or "#" in topic:
        return None
    return address, topic


def _senders(act: Actuator) -> dict[str, frozenset[str]]:
    """Command text (as the monitor reads it; ``*`` for a computed value) -> the
    applications that statically send it to ``act``."""
    senders: dict[str, set[str]] = {}
    for app, driver in act.drivers.items():
        for command in driver.sends:
            text = "*" if command.value is UNKNOWN else _value(
                const_text(command.value).encode())
            senders.setdefault(text, set()).add(app)
    return {v: frozenset(a) for v, a in senders.items()}


# ---------------------------------------------------------------------------
# Findings files: written by acm monitor, merged by acm analyze --runtime-findings


def write_findings(monitor: Monitor, path: str | Path, sources: Mapping[str, str]) -> int:
    """Write the runtime conflicts seen in the findings contract; how many."""
    from ..output.json_format import conflict

    findings = monitor.findings()
    report = Report(sources=dict(sources), findings=tuple(findings), actuators=(), unknown=(),
                    applications={}, node_labels={}, rules=(RUNTIME,), stats={})
    from ..version import __version__

    document = {"schema": SCHEMA, "tool": {"name": "acm", "version": __version__},
                "sources": dict(sources),
                "conflicts": [conflict(f, report) for f in findings],
                "actuators": [], "stats": {k: v for k, v in monitor.summary().items()
                                           if k != "type"}}
    try:
        write_atomic(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise AcmError(f"cannot write runtime findings ({exc.strerror})", str(path)) from None
    return len(findings)


def read_findings(path: str | Path, report: Report) -> list[Finding]:
    """The observed findings of a file ``acm monitor --write-findings`` wrote, as findings
    of ``report``'s site (nodes of runtimes it does not know are left out)."""
    data = _findings_document(path)
    out = []
    try:
        for item in data["conflicts"]:
            found = _observed_finding(item, report)
            if found is not None:
                out.append(found)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise AcmError(f"malformed runtime finding ({type(exc).__name__}: {exc})",
                       str(path)) from None
    return out


def _findings_document(path: str | Path) -> dict[str, Any]:
    """The JSON document of a findings file, checked to be one (its schema, its list of
    conflicts)."""
    try:
        data: Any = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AcmError("runtime findings file not found (write it with acm monitor "
                       "--write-findings)", str(path)) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AcmError(f"cannot read runtime findings ({exc})", str(path)) from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA \
            or not isinstance(data.get("conflicts"), list):
        raise AcmError(f"not an ACM findings file (expected \"schema\": \"{SCHEMA}\")",
                       str(path))
    return data


def _observed_finding(item: Any, report: Report) -> Finding | None:
    """One conflict of a findings file as a finding of ``report``'s site; None for a static
    finding (the analysis makes its own). Raises what malformed data raises."""
    seen = item.get("observed")
    if not isinstance(seen, dict):
        return None
    actuators = tuple(
        Involved(str(a["key"]), str(a.get("name") or a["key"]), tuple(
            NodeRef(str(loc["runtime"]), str(loc["id"]))
            for loc in a.get("locations") or [] if loc.get("runtime") in report.sources))
        for a in item["actuators"])
    observation = Observation(
        str(seen["first"]), str(seen["last"]), int(seen["count"]),
        tuple((str(c["time"]), str(c["source"]), str(c["value"]))
              for c in seen.get("commands") or []),
        tuple(str(s) for s in seen.get("static") or []), float(seen.get("window", 60)))
    severity = Severity(str(item["severity"]))  # ValueError for another word: caught
    return Finding(rule=RUNTIME.name, code=RUNTIME.code, kind=RUNTIME.kind,
                   severity=severity, message=str(item["message"]),
                   actuators=actuators,
                   applications=tuple(str(a) for a in item.get("applications", [])),
                   paths=(), observed=observation)


def merge_observed(report: Report, observed: Sequence[Finding]) -> Report:
    """The report with the observed findings beside the static ones."""
    if not observed:
        return report
    findings = sorted([*report.findings, *observed], key=report_order)
    merged = report.keeping(findings, observed=len(observed))
    if all(r.code != RUNTIME.code for r in merged.rules):
        merged = replace(merged, rules=(*merged.rules, RUNTIME))
    return merged


# ---------------------------------------------------------------------------
# The network: one paho-mqtt client per broker, feeding a bounded queue


@dataclass(frozen=True)
class BrokerAccess:
    address: str  # as actuator keys spell it
    host: str  # where to connect (may differ: --broker)
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: str | None = None


def broker_access(model: Any, override: Mapping[str, str] | None = None) -> list[BrokerAccess]:
    """How to reach each broker of the model; credentials from the environment variables
    it names (never from the model itself)."""
    items = _broker_items(model)
    out = []
    for broker in model.brokers:
        item = items.get(broker.id, {})
        creds = item.get("credentials") or {}
        host, port = _broker_where(broker, override or {})
        ca = item.get("ca_file")
        out.append(BrokerAccess(
            broker.address, host, port, _from_env(creds, "username_env"),
            _from_env(creds, "password_env"),
            bool(item.get("tls")), str(Path(model.path).parent / ca) if ca else None))
    return out


def _broker_items(model: Any) -> dict[Any, dict[str, Any]]:
    """The model file's ``brokers:`` entries as written (what the loaded model leaves out:
    credentials, TLS), by id."""
    import yaml

    raw = yaml.safe_load(Path(model.path).read_text(encoding="utf-8")) or {}
    return {b.get("id"): b for b in raw.get("brokers") or [] if isinstance(b, dict)}


def _broker_where(broker: Any, override: Mapping[str, str]) -> tuple[str, int]:
    """Where to connect to ``broker``: its host and port, or those ``--broker`` gives for
    its id or address (``HOST:PORT``; without a port, the model's)."""
    host, port = broker.host, broker.port
    where = override.get(broker.id) or override.get(broker.address)
    if where:
        host, _, text = where.rpartition(":") if ":" in where else (where, "", "")
        port = int(text) if text else broker.port
    return host, port


def _from_env(creds: Mapping[str, Any], name: str) -> str | None:
    """The value of the environment variable ``creds[name]`` names, if it names one."""
    return os.environ.get(creds[name]) if name in creds else None


Message = tuple[str, str, bytes, float, str | None, bool]  # address, topic, payload, ...


def run(monitor: Monitor, brokers: Sequence[BrokerAccess],
        show: Callable[[Command | None, RuntimeConflict | None], None],
        log: Callable[[str], None], *, once: bool = False,
        duration: float | None = None) -> int:
    """Listen until stopped (Ctrl-C), ``duration`` seconds, or, with ``once``, the first
    runtime conflict; the number of runtime conflicts seen."""
    inbox: queue.Queue[Message] = queue.Queue(maxsize=QUEUE_SIZE)
    topics = monitor.subscriptions
    clients: list[Any] = []
    reached: set[str] = set()  # brokers connected to at least once
    try:
        for access in brokers:
            wanted = topics.get(access.address)
            if wanted:
                clients.append(_listen(access, wanted, monitor, inbox, log, len(clients),
                                       reached))
        if not clients:
            raise AcmError("no MQTT actuator on the model's brokers: nothing to monitor")
        seen = _drain(monitor, inbox, show, once, duration)
    finally:
        for client in clients:
            client.disconnect()
            client.loop_stop()
    if not reached and duration is not None:  # else only Ctrl-C ends it, which raises
        raise AcmError(f"no broker could be reached in {duration:g} s: nothing was monitored "
                       "(check the brokers' addresses in the model, or --broker)")
    return seen


def _drain(monitor: Monitor, inbox: queue.Queue[Message],
           show: Callable[[Command | None, RuntimeConflict | None], None], once: bool,
           duration: float | None) -> int:
    """Observe what the clients put on ``inbox`` until ``duration`` is over (or, with
    ``once``, the first runtime conflict); the number of runtime conflicts seen."""
    seen = 0
    deadline = time.monotonic() + duration if duration is not None else None
    while deadline is None or time.monotonic() < deadline:
        left = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
        try:
            address, topic, payload, at, tag, retained = inbox.get(timeout=left)
        except queue.Empty:
            continue
        command, conflict = monitor.observe(address, topic, payload, at, tag, retained)
        if command is not None or conflict is not None:
            show(command, conflict)
        if conflict is not None:
            seen += 1
            if once:
                break
    return seen


def _listen(access: BrokerAccess, wanted: list[str], monitor: Monitor,
            inbox: queue.Queue[Message], log: Callable[[str], None], number: int,
            reached: set[str]) -> Any:
    """A started MQTT client for one broker that puts what it hears on ``inbox`` (and
    never blocks its network loop: a full inbox drops and counts); its address goes
    into ``reached`` once it connects."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5,
                         client_id=f"acm-monitor-{os.getpid()}-{number}")
    if access.username is not None:
        client.username_pw_set(access.username, access.password)
    if access.tls:
        client.tls_set(ca_certs=access.ca_file)
    client.reconnect_delay_set(1, 30)

    def connected(client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log(f"{access.address}: connection refused ({reason})")
            return
        reached.add(access.address)
        log(f"{access.address}: connected, watching {len(wanted)} topic(s)")
        client.subscribe([(t, 0) for t in wanted])  # QoS 0: the broker never waits on us

    def disconnected(client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        log(f"{access.address}: disconnected ({reason}); reconnecting")

    def received(client: Any, userdata: Any, message: Any) -> None:
        tag = None
        props = getattr(message, "properties", None)
        for name, value in getattr(props, "UserProperty", None) or []:
            if name == APP_PROPERTY:
                tag = str(value)
        try:
            inbox.put_nowait((access.address, message.topic, bytes(message.payload),
                              time.time(), tag, bool(message.retain)))
        except queue.Full:  # never block the network loop, and so the broker
            monitor.dropped += 1

    def failed(client: Any, userdata: Any) -> None:
        log(f"{access.address}: cannot connect to {access.host}:{access.port}; retrying")

    client.on_connect = connected
    client.on_connect_fail = failed
    client.on_disconnect = disconnected
    client.on_message = received
    try:
        client.connect_async(access.host, access.port, keepalive=30)
    except (OSError, ValueError) as exc:
        raise AcmError(f"cannot connect to broker {access.host}:{access.port} ({exc})") \
            from None
    client.loop_start()
    return client

