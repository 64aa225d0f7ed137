"""Generate a realistic synthetic Node-RED site (a flows.json array) for benchmarks.

The site has many tabs (one per 40-80 nodes). Each tab holds a handful of small
home/building automations::

    trigger -> [logic ...] -> [command] -> [topic] -> actuator

* triggers: ``inject`` (schedules with props/payload), ``mqtt in``, Home
  Assistant ``server-state-changed``, dashboard ``ui_switch``;
* logic: ``switch``, ``change`` (constant msg.payload / msg.topic), ``function``,
  ``delay``, ``trigger`` (op1/op2);
* actuators: ``mqtt out`` (constant topic, or empty topic with an upstream
  ``change`` setting msg.topic), Home Assistant ``api-call-service`` (v5),
  ``rpi-gpio out``, ``http request`` (POST).

Actuator targets are either private to a tab or drawn from a shared pool, so
that roughly 5-10 % of the distinct targets are commanded from several tabs
(real conflicts), with constant on/off commands or run-time computed ones.
Tabs also carry ``link out``/``link in`` pairs (some crossing tabs), the odd
``junction``, ``debug`` and ``comment`` nodes, instances of a few shared
subflows (some of which contain an actuator) and a few disabled nodes.

The output is deterministic for a given ``(n_nodes, seed)``.

Usage::

    python benchmarks/generate_site.py 10000 -o out.json [--seed 1] [--check]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter, defaultdict
from typing import Any

Node = dict[str, Any]

ROOMS = [
    "kitchen", "living_room", "dining_room", "hallway", "bedroom", "kids_room", "office",
    "bathroom", "laundry", "garage", "garden", "porch", "attic", "basement", "guest_room",
    "stairs", "terrace", "workshop", "utility", "entrance", "lobby", "corridor",
    "meeting_room", "server_room", "reception", "canteen", "storage", "lab",
]
FLOORS = ["gf", "f1", "f2", "f3", "b1", "annex", "east", "west", "north", "south"]
HA_DOMAINS = {
    "light": (["turn_on", "turn_off", "toggle"], "lamp"),
    "switch": (["turn_on", "turn_off", "toggle"], "plug"),
    "cover": (["open_cover", "close_cover", "stop_cover"], "blind"),
    "climate": (["set_temperature", "turn_off", "set_hvac_mode"], "thermostat"),
    "fan": (["turn_on", "turn_off", "set_percentage"], "fan"),
}
MQTT_DEVICES = ["light", "plug", "heater", "valve", "fan", "blind", "pump", "siren", "relay"]
SENSORS = ["motion", "door", "window", "temperature", "humidity", "illuminance", "co2", "button"]
GPIO_PINS = ["4", "5", "6", "12", "13", "16", "17", "18", "19", "20", "21", "22", "23",
             "24", "25", "26", "27"]
FUNC_BODIES = [  # LO and HI are replaced by numbers
    "const t = Number(msg.payload);\nif (isNaN(t)) { return null; }\n"
    "msg.payload = t < LO ? 'on' : (t > HI ? 'off' : null);\n"
    "return msg.payload === null ? null : msg;",
    "const lux = msg.payload.illuminance || 0;\nmsg.payload = { brightness: "
    "Math.max(0, Math.min(255, Math.round(255 - lux / LO))) };\nreturn msg;",
    "// toggle based on stored state\nconst s = context.get('state') || false;\n"
    "context.set('state', !s);\nmsg.payload = !s;\nreturn msg;",
    "msg.payload = Math.round((LO + HI) / 2 + (msg.payload - LO) * 0.1);\n"
    "node.status({text: String(msg.payload)});\nreturn msg;",
]

CHANGE_TAIL: dict[str, Any] = {"action": "", "property": "", "from": "", "to": "", "reg": False}


class _Site:
    def __init__(self, n_nodes: int, seed: int) -> None:
        self.n = max(n_nodes, 60)
        self.rng = random.Random(seed)
        self.nodes: list[Node] = []
        self.ids: set[str] = set()
        self.counter = Counter[str]()
        # config nodes
        self.broker = self.new_id()
        self.server = self.new_id()
        self.ui_tab = self.new_id()
        self.ui_group = self.new_id()
        self.tabs: list[Node] = []
        self.link_ins: list[Node] = []  # link in nodes other tabs may link to
        # actuator targets
        self.gpio_free = list(GPIO_PINS)
        self.rng.shuffle(self.gpio_free)
        est_uses = self.n / 7.5
        n_shared = max(3, round(est_uses * 0.2 / 3.5))
        self.shared: list[tuple[str, str]] = [self.fresh_target() for _ in range(n_shared)]

    # -- basics -----------------------------------------------------------
    def new_id(self) -> str:
        while True:
            nid = f"{self.rng.getrandbits(64):016x}"
            if nid not in self.ids:
                self.ids.add(nid)
                return nid

    def add(self, node: Node) -> Node:
        self.nodes.append(node)
        return node

    def num(self, kind: str) -> int:
        self.counter[kind] += 1
        return self.counter[kind]

    def place(self, tab: str, ntype: str, x: int, y: int, wires: int = 1,
              extra: Node | None = None, **props: Any) -> Node:
        node: Node = {"id": self.new_id(), "type": ntype, "z": tab}
        node.update(props)
        node.update(extra or {})
        node["x"] = x
        node["y"] = y
        node["wires"] = [[] for _ in range(wires)]
        return self.add(node)

    @staticmethod
    def wire(src: Node, dst: Node, port: int = 0) -> None:
        src["wires"][port].append(dst["id"])

    # -- targets ----------------------------------------------------------
    def fresh_target(self) -> tuple[str, str]:
        """A new actuator target: (kind, detail)."""
        r = self.rng.random()
        room = self.rng.choice(ROOMS)
        floor = self.rng.choice(FLOORS)
        if r < 0.03 and self.gpio_free:
            return ("gpio", self.gpio_free.pop())
        if r < 0.45:
            dev = self.rng.choice(MQTT_DEVICES)
            return ("mqtt", f"site/{floor}/{room}/{dev}{self.num('mqtt-' + dev)}/set")
        if r < 0.88:
            domain = self.rng.choice(list(HA_DOMAINS))
            label = HA_DOMAINS[domain][1]
            return ("ha", f"{domain}.{floor}_{room}_{label}_{self.num('ha-' + domain)}")
        host = f"{room.replace('_', '-')}-{self.rng.choice(MQTT_DEVICES)}-{self.num('http')}"
        return ("http", f"http://{host}.{floor}.lan/relay/0")

    def pick_target(self) -> tuple[str, str]:
        if self.rng.random() < 0.2:
            return self.rng.choice(self.shared)
        return self.fresh_target()

    # -- node builders ----------------------------------------------------
    def trigger(self, tab: str, x: int, y: int, room: str) -> Node:
        r = self.rng.random()
        if r < 0.35:
            hour, minute = self.rng.randrange(5, 23), self.rng.choice([0, 15, 30, 45])
            payload = self.rng.choice(["on", "off", "true", "false", "21", "18"])
            ptype = "bool" if payload in ("true", "false") else (
                "num" if payload.isdigit() else "str")
            return self.place(
                tab, "inject", x, y,
                name=f"{room} {hour:02d}:{minute:02d}",
                props=[{"p": "payload"}, {"p": "topic", "vt": "str"}],
                repeat="", crontab=f"{minute:02d} {hour:02d} * * *", once=False,
                onceDelay=0.1, topic="", payload=payload, payloadType=ptype)
        if r < 0.6:
            sensor = self.rng.choice(SENSORS)
            return self.place(
                tab, "mqtt in", x, y, name=f"{room} {sensor}",
                topic=f"site/{self.rng.choice(FLOORS)}/{room}/{sensor}/state", qos="1",
                datatype="auto-detect", broker=self.broker, nl=False, rap=True, rh=0,
                inputs=0)
        if r < 0.85:
            sensor = self.rng.choice(["binary_sensor", "sensor", "input_boolean"])
            entity = f"{sensor}.{room}_{self.rng.choice(SENSORS)}_{self.num('ha-sensor')}"
            return self.place(
                tab, "server-state-changed", x, y, wires=2, name=f"{room} changed",
                server=self.server, version=5, outputs=2, exposeAsEntityConfig="",
                entityId=entity, entityIdType="exact", outputInitially=False,
                stateType="str", ifState="on", ifStateType="str", ifStateOperator="is",
                outputOnlyOnStateChange=True, extra={"for": "0"}, forType="num",
                forUnits="minutes", ignorePrevStateNull=False, ignorePrevStateUnknown=False,
                ignorePrevStateUnavailable=False, ignoreCurrentStateUnknown=False,
                ignoreCurrentStateUnavailable=False,
                outputProperties=[
                    {"property": "payload", "propertyType": "msg", "value": "",
                     "valueType": "entityState"},
                    {"property": "data", "propertyType": "msg", "value": "",
                     "valueType": "eventData"}])
        return self.place(
            tab, "ui_switch", x, y, name="", label=f"{room.replace('_', ' ').title()}",
            tooltip="", group=self.ui_group, order=self.num("ui"), width=0, height=0,
            passthru=True, decouple="false", topic="topic", topicType="msg", style="",
            onvalue="true", onvalueType="bool", onicon="", oncolor="", offvalue="false",
            offvalueType="bool", officon="", offcolor="", animate=False, className="")

    def logic(self, tab: str, x: int, y: int, room: str) -> Node:
        r = self.rng.random()
        if r < 0.3:
            return self.place(
                tab, "switch", x, y, wires=2, name="is on?", property="payload",
                propertyType="msg",
                rules=[{"t": "eq", "v": "on", "vt": "str"}, {"t": "else"}],
                checkall="true", repair=False, outputs=2)
        if r < 0.55:
            return self.place(
                tab, "delay", x, y, name="", pauseType="delay",
                timeout=str(self.rng.choice([1, 2, 5, 10, 30])), timeoutUnits="seconds",
                rate="1", nbRateUnits="1", rateUnits="second", randomFirst="1",
                randomLast="5", randomUnits="seconds", drop=False, allowrate=False,
                outputs=1)
        if r < 0.8:
            return self.place(
                tab, "change", x, y, name="add context",
                rules=[{"t": "set", "p": "room", "pt": "msg", "to": room, "tot": "str"},
                       {"t": "delete", "p": "_session", "pt": "msg"}],
                extra=CHANGE_TAIL)
        return self.place(
            tab, "function", x, y, name="filter", outputs=1, timeout=0, noerr=0,
            func="if (msg.payload === undefined || msg.payload === null) {\n"
                 "    return null;\n}\nreturn msg;",
            initialize="", finalize="", libs=[])

    def command(self, tab: str, x: int, y: int, kind: str, detail: str) -> Node:
        """A node fixing the command (constant or computed) for the actuator."""
        on_v, off_v, vt = {
            "mqtt": ("ON", "OFF", "str"), "gpio": ("1", "0", "num"),
            "http": ('{"on":true}', '{"on":false}', "json"), "ha": ("on", "off", "str"),
        }[kind]
        r = self.rng.random()
        if r < 0.45:
            value = self.rng.choice([on_v, off_v])
            return self.place(
                tab, "change", x, y, name=f"{'on' if value == on_v else 'off'}",
                rules=[{"t": "set", "p": "payload", "pt": "msg", "to": value, "tot": vt}],
                extra=CHANGE_TAIL)
        if r < 0.7:
            return self.place(
                tab, "trigger", x, y, name="pulse", op1=on_v, op2=off_v, op1type=vt,
                op2type=vt, duration=str(self.rng.choice([30, 60, 120, 300])), extend=True,
                overrideDelay=False, units="s", reset="", bytopic="all", topic="topic",
                outputs=1)
        lo, hi = self.rng.randrange(15, 20), self.rng.randrange(21, 26)
        body = self.rng.choice(FUNC_BODIES).replace("LO", str(lo)).replace("HI", str(hi))
        return self.place(
            tab, "function", x, y, name="compute command", func=body, outputs=1, timeout=0,
            noerr=0, initialize="", finalize="", libs=[])

    def actuator(self, tab: str, x: int, y: int, kind: str, detail: str,
                 topic_node: bool) -> Node:
        if kind == "mqtt":
            name = detail.split("/")[-2]
            return self.place(
                tab, "mqtt out", x, y, wires=0, name=name, topic="" if topic_node else detail,
                qos="1", retain="false", respTopic="", contentType="", userProps="",
                correl="", expiry="", broker=self.broker)
        if kind == "ha":
            domain = detail.split(".")[0]
            services = HA_DOMAINS[domain][0]
            service = self.rng.choice(services)
            data = ""
            if service == "set_temperature":
                data = json.dumps({"temperature": self.rng.randrange(17, 24)})
            return self.place(
                tab, "api-call-service", x, y, name=f"{service} {detail.split('.')[1]}",
                server=self.server, version=5, debugenabled=False, domain=domain,
                service=service, areaId=[], deviceId=[], entityId=[detail], data=data,
                dataType="json" if data else "jsonata", mergeContext="",
                mustacheAltTags=False, outputProperties=[], queue="none")
        if kind == "gpio":
            return self.place(
                tab, "rpi-gpio out", x, y, wires=0, name=f"relay pin {detail}", pin=detail,
                set=True, level="0", freq="", out="out", bcm=True)
        return self.place(
            tab, "http request", x, y, name=detail.split("//")[1].split(".")[0],
            method="POST", ret="txt", paytoqs="ignore", url=detail, tls="", persist=False,
            proxy="", insecureHTTPParser=False, authType="", senderr=False, headers=[])

    def debug(self, tab: str, x: int, y: int) -> Node:
        return self.place(
            tab, "debug", x, y, wires=0, name="", active=self.rng.random() < 0.3,
            tosidebar=True, console=False, tostatus=False, complete="false", statusVal="",
            statusType="auto")

    # -- subflows ---------------------------------------------------------
    def subflows(self) -> list[tuple[Node, bool]]:
        count = max(3, min(10, 3 + self.n // 10000))
        defs: list[tuple[Node, bool]] = []
        for i in range(count):
            sid = self.new_id()
            with_actuator = i % 2 == 0
            title = (["Alarm siren", "Hall light flash", "Notify lamp", "Pump pulse",
                      "Ventilation boost"][i // 2 % 5] if with_actuator else
                     ["Debounce", "Normalise payload", "Rate limit", "Add timestamp",
                      "Night filter"][i // 2 % 5])
            sf: Node = {
                "id": sid, "type": "subflow", "name": f"{title} {i + 1}", "info": "",
                "category": "", "in": [], "out": [], "env": [], "meta": {},
                "color": "#DDAA99"}
            self.add(sf)
            first = self.place(sid, "delay" if not with_actuator else "change", 160, 80,
                               name="prepare")
            if with_actuator:
                first.update(rules=[{"t": "set", "p": "payload", "pt": "msg",
                                     "to": "ON", "tot": "str"}],
                             **CHANGE_TAIL)
            else:
                first.update(pauseType="rate", timeout="5", timeoutUnits="seconds",
                             rate="1", nbRateUnits="2", rateUnits="second", drop=True,
                             outputs=1)
            mid = self.place(sid, "function", 340, 80, name="shape", outputs=1, timeout=0,
                             noerr=0, func="msg.ts = Date.now();\nreturn msg;",
                             initialize="", finalize="", libs=[])
            self.wire(first, mid)
            last = mid
            if with_actuator:
                kind, detail = self.fresh_target()
                act = self.actuator(sid, 540, 80, kind, detail, topic_node=False)
                self.wire(mid, act)
                if act["wires"]:
                    last = act
            else:
                extra = self.place(sid, "switch", 540, 80, wires=2, name="valid?",
                                   property="payload", propertyType="msg",
                                   rules=[{"t": "nnull"}, {"t": "else"}], checkall="true",
                                   repair=False, outputs=2)
                self.wire(mid, extra)
                last = extra
            if self.rng.random() < 0.5:
                self.place(sid, "comment", 160, 30, wires=0, name=f"{title}: shared helper",
                           info="Instantiated from several tabs.")
            sf["in"] = [{"x": 50, "y": 30, "wires": [{"id": first["id"]}]}]
            sf["out"] = [{"x": 720, "y": 80, "wires": [{"id": last["id"], "port": 0}]}]
            defs.append((sf, with_actuator))
        return defs

    # -- tabs -------------------------------------------------------------
    def automation(self, tab: str, y: int, room: str,
                   defs: list[tuple[Node, bool]], tab_index: int) -> int:
        """One small automation on row y; returns the number of rows used."""
        rng = self.rng
        x = 120
        trig = self.trigger(tab, x, y, room)
        chain_end: list[tuple[Node, int]] = [(trig, p) for p in range(len(trig["wires"]))]
        rows = 1 if len(chain_end) == 1 else 2

        def step(node: Node) -> None:
            nonlocal chain_end
            for src, port in chain_end:
                self.wire(src, node, port)
            chain_end = [(node, 0)]

        for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
            x += 180
            step(self.logic(tab, x, y, room))
        if rng.random() < 0.08:  # a junction fanning out to a debug
            x += 120
            j = self.place(tab, "junction", x, y + 20)
            step(j)
            self.wire(j, self.debug(tab, x + 160, y + 60))
            rows += 1
        # a shared subflow: either a helper in the chain or an actuator subflow
        if defs and rng.random() < 0.12:
            sf, with_act = rng.choice(defs)
            x += 180
            inst = self.place(tab, f"subflow:{sf['id']}", x, y, name="")
            step(inst)
            if with_act:
                x += 180
                step(self.debug(tab, x, y))
                return rows
        kind, detail = self.pick_target()
        x += 180
        if kind == "ha" and rng.random() < 0.5:
            pass  # service in the node is the command
        else:
            step(self.command(tab, x, y, kind, detail))
            x += 180
        topic_node = kind == "mqtt" and rng.random() < 0.25
        if topic_node:
            step(self.place(
                tab, "change", x, y, name="set topic",
                rules=[{"t": "set", "p": "topic", "pt": "msg", "to": detail, "tot": "str"}],
                extra=CHANGE_TAIL))
            x += 180
        # route some automations through links: same tab or to another tab
        if rng.random() < 0.12:
            lout = self.place(tab, "link out", x, y, wires=0, name="", mode="link", links=[])
            step(lout)
            target_in: Node | None = None
            if self.link_ins and rng.random() < 0.5:
                target_in = rng.choice(self.link_ins[-50:])
            if target_in is None:
                target_in = self.place(tab, "link in", 120, y + 60, name=f"to {room}",
                                       links=[])
                rows += 1
                x = 120
                y += 60
                act = self.actuator(tab, x + 180, y, kind, detail, topic_node)
                self.wire(target_in, act)
                if rng.random() < 0.3:
                    self.link_ins.append(target_in)
            lout["links"].append(target_in["id"])
            target_in["links"].append(lout["id"])
            return rows
        act = self.actuator(tab, x, y, kind, detail, topic_node)
        step(act)
        if act["wires"] and rng.random() < 0.4:
            self.wire(act, self.debug(tab, x + 200, y))
        return rows

    def tab(self, index: int, target: int, defs: list[tuple[Node, bool]]) -> None:
        room = self.rng.choice(ROOMS)
        floor = self.rng.choice(FLOORS)
        tid = self.new_id()
        label = f"{floor.upper()} {room.replace('_', ' ')} #{index + 1}"
        self.add({"id": tid, "type": "tab", "label": label, "disabled": False,
                  "info": f"Automations for the {room.replace('_', ' ')} ({floor}).",
                  "env": []})
        self.tabs.append(self.nodes[-1])
        start = len(self.nodes)
        self.place(tid, "comment", 150, 40, wires=0, name=f"{label}: automations",
                   info="Generated by benchmarks/generate_site.py")
        y = 100
        while len(self.nodes) - start < target:
            y += 80 * self.automation(tid, y, room, defs, index)

    def build(self) -> list[Node]:
        rng = self.rng
        self.add({"id": self.broker, "type": "mqtt-broker", "name": "site broker",
                  "broker": "mqtt.site.lan", "port": "1883", "clientid": "",
                  "autoConnect": True, "usetls": False, "protocolVersion": "4",
                  "keepalive": "60", "cleansession": True, "autoUnsubscribe": True,
                  "birthTopic": "", "birthQos": "0", "birthPayload": "", "birthMsg": {},
                  "closeTopic": "", "closeQos": "0", "closePayload": "", "closeMsg": {},
                  "willTopic": "", "willQos": "0", "willPayload": "", "willMsg": {},
                  "userProps": "", "sessionExpiry": ""})
        self.add({"id": self.server, "type": "server", "name": "Home Assistant",
                  "version": 5, "addon": False, "rejectUnauthorizedCerts": True,
                  "ha_boolean": "y|yes|true|on|home|open", "connectionDelay": True,
                  "cacheJson": True, "heartbeat": False, "heartbeatInterval": "30",
                  "areaSelector": "friendlyName", "deviceSelector": "friendlyName",
                  "entitySelector": "friendlyName", "statusSeparator": "at: ",
                  "statusYear": "hidden", "statusMonth": "short", "statusDay": "numeric",
                  "statusHourCycle": "h23", "statusTimeFormat": "h:m",
                  "enableGlobalContextStore": True})
        self.add({"id": self.ui_tab, "type": "ui_tab", "name": "Site", "icon": "dashboard",
                  "disabled": False, "hidden": False})
        self.add({"id": self.ui_group, "type": "ui_group", "name": "Switches",
                  "tab": self.ui_tab, "order": 1, "disp": True, "width": "6",
                  "collapse": False, "className": ""})
        defs = self.subflows()
        index = 0
        while len(self.nodes) < self.n:
            remaining = self.n - len(self.nodes)
            target = rng.randint(40, 80)
            if remaining < target + 40:
                target = max(remaining - 1, 5)
            self.tab(index, target, defs)
            index += 1
        # a few disabled nodes (never config nodes, tabs or subflow definitions)
        flow_nodes = [n for n in self.nodes if "z" in n and n["type"] != "comment"]
        for node in rng.sample(flow_nodes, max(1, len(flow_nodes) // 150)):
            node["d"] = True
        return self.nodes


def generate(n_nodes: int, seed: int = 1) -> list[dict[str, Any]]:
    """Return a synthetic Node-RED flows array of about ``n_nodes`` nodes."""
    return _Site(n_nodes, seed).build()


# ---------------------------------------------------------------------------
# Checking

CONFIG_TYPES = {"mqtt-broker", "server", "ui_tab", "ui_group"}
CONFIG_REFS = ("tab",)  # ui_group -> ui_tab


def _targets(node: Node) -> list[str]:
    t = node["type"]
    if t == "mqtt out":
        return [f"mqtt:{node['topic']}"] if node["topic"] else []
    if t == "api-call-service":
        return [f"ha:{e}" for e in node["entityId"]]
    if t == "rpi-gpio out":
        return [f"gpio:{node['pin']}"]
    if t == "http request":
        return [f"http:{node['method']} {node['url']}"]
    return []


def validate(nodes: list[Node]) -> list[str]:
    """Check the Node-RED shape invariants; return a list of problems (empty: valid)."""
    errors: list[str] = []
    by_id: dict[str, Node] = {}
    for node in nodes:
        nid = node.get("id")
        if not isinstance(nid, str) or len(nid) != 16 or any(
                c not in "0123456789abcdef" for c in nid):
            errors.append(f"bad id {nid!r}")
        elif nid in by_id:
            errors.append(f"duplicate id {nid}")
        by_id[str(nid)] = node
    tabs = {n["id"] for n in nodes if n["type"] == "tab"}
    subflows = {n["id"] for n in nodes if n["type"] == "subflow"}
    for node in nodes:
        nid, t = node["id"], node["type"]
        if t in ("tab", "subflow") or t in CONFIG_TYPES:
            if "z" in node or "wires" in node:
                errors.append(f"{nid} ({t}) should have no z/wires")
            if t == "subflow":
                for port in node["in"]:
                    for w in port["wires"]:
                        if by_id.get(w["id"], {}).get("z") != nid:
                            errors.append(f"subflow {nid} in-port wires to {w['id']}")
                if len(node["out"]) != 1:
                    errors.append(f"subflow {nid} should have one out port")
                for port in node["out"]:
                    for w in port["wires"]:
                        src = by_id.get(w["id"])
                        if src is None or src.get("z") != nid or not isinstance(
                                w.get("port"), int) or w["port"] >= len(src["wires"]):
                            errors.append(f"subflow {nid} out-port from {w}")
            for ref in CONFIG_REFS:
                if t in CONFIG_TYPES and ref in node and node[ref] not in by_id:
                    errors.append(f"{nid} refers to missing config {node[ref]}")
            continue
        z = node.get("z")
        if z not in tabs and z not in subflows:
            errors.append(f"{nid} ({t}) has z={z!r}, not a tab or subflow")
        if not isinstance(node.get("x"), int | float) or not isinstance(
                node.get("y"), int | float):
            errors.append(f"{nid} ({t}) lacks x/y")
        wires = node.get("wires")
        if not isinstance(wires, list) or not all(isinstance(p, list) for p in wires):
            errors.append(f"{nid} ({t}) has bad wires {wires!r}")
            continue
        for port in wires:
            for dst in port:
                if dst not in by_id:
                    errors.append(f"{nid} wires to missing {dst}")
                elif by_id[dst].get("z") != z:
                    errors.append(f"{nid} wires across flows to {dst}")
        if "outputs" in node and node["outputs"] != len(wires):
            errors.append(f"{nid} ({t}) outputs={node['outputs']} but {len(wires)} ports")
        for ref in ("broker", "server", "group"):
            if ref in node and node[ref] not in by_id:
                errors.append(f"{nid} refers to missing config {node[ref]}")
        if t.startswith("subflow:"):
            if t[8:] not in subflows:
                errors.append(f"{nid} instantiates missing subflow {t[8:]}")
            if z not in tabs:
                errors.append(f"{nid} subflow instance not on a tab")
        if t in ("link out", "link in"):
            peer_type = "link in" if t == "link out" else "link out"
            for peer in node["links"]:
                other = by_id.get(peer)
                if other is None or other["type"] != peer_type or nid not in other["links"]:
                    errors.append(f"{nid} ({t}) has unmatched link {peer}")
    return errors


def stats(nodes: list[Node]) -> dict[str, Any]:
    """Counts that show how realistic the site is, and how many shared targets it has."""
    tabs = [n for n in nodes if n["type"] == "tab"]
    flow_z = {n["id"]: n["z"] for n in nodes if "z" in n}
    inst_tabs: dict[str, set[str]] = defaultdict(set)
    for n in nodes:
        if n["type"].startswith("subflow:"):
            inst_tabs[n["type"][8:]].add(n["z"])
    topic_by_change: dict[str, str] = {}
    for n in nodes:
        if n["type"] == "change":
            for r in n["rules"]:
                if r.get("p") == "topic" and r.get("t") == "set":
                    for dst in n["wires"][0]:
                        topic_by_change[dst] = r["to"]
    # link out -> link in routing: actuator reached through a link in belongs to the
    # link-out tabs (approximation good enough for counting)
    link_tabs: dict[str, set[str]] = defaultdict(set)
    for n in nodes:
        if n["type"] == "link out":
            for li in n["links"]:
                link_tabs[li].add(n["z"])
    driven_from_link: dict[str, set[str]] = {}
    by_id = {n["id"]: n for n in nodes}
    for li, ztabs in link_tabs.items():
        for dst in by_id[li]["wires"][0]:
            driven_from_link[dst] = ztabs
    tab_ids = {tb["id"] for tb in tabs}
    target_tabs: dict[str, set[str]] = defaultdict(set)
    for n in nodes:
        t = _targets(n)
        if n["type"] == "mqtt out" and not n["topic"] and n["id"] in topic_by_change:
            t = [f"mqtt:{topic_by_change[n['id']]}"]
        for key in t:
            z = n["z"]
            owners = {z} if z in tab_ids else inst_tabs.get(z, set())
            if n["id"] in driven_from_link:
                owners = driven_from_link[n["id"]]
            target_tabs[key] |= owners
    shared = sum(1 for v in target_tabs.values() if len(v) > 1)
    sizes = [len(json.dumps(n, separators=(",", ":"))) for n in nodes]
    types = Counter(n["type"] for n in nodes)
    return {
        "nodes": len(nodes),
        "tabs": len(tabs),
        "subflows": types["subflow"],
        "subflow_instances": sum(v for k, v in types.items() if k.startswith("subflow:")),
        "disabled": sum(1 for n in nodes if n.get("d")),
        "junctions": types["junction"],
        "link_out": types["link out"],
        "cross_tab_links": sum(
            1 for n in nodes if n["type"] == "link out"
            and any(flow_z.get(li) != n["z"] for li in n["links"])),
        "actuator_targets": len(target_tabs),
        "targets_from_several_tabs": shared,
        "shared_fraction": round(shared / max(1, len(target_tabs)), 3),
        "avg_node_bytes": round(sum(sizes) / len(sizes)),
        "types": dict(types.most_common()),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("n_nodes", type=int, help="approximate number of nodes")
    ap.add_argument("-o", "--output", help="output file (default: stdout)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--indent", type=int, default=4,
                    help="JSON indent (Node-RED's flowFilePretty uses 4; 0 = compact)")
    ap.add_argument("--check", action="store_true",
                    help="validate the Node-RED invariants and print statistics to stderr")
    args = ap.parse_args(argv)
    nodes = generate(args.n_nodes, args.seed)
    if args.check:
        problems = validate(nodes)
        for p in problems[:50]:
            print(f"invalid: {p}", file=sys.stderr)
        print(json.dumps(stats(nodes), indent=2), file=sys.stderr)
        if problems:
            print(f"{len(problems)} problem(s)", file=sys.stderr)
            return 1
        print("valid", file=sys.stderr)
    if args.indent:
        text = json.dumps(nodes, indent=args.indent, ensure_ascii=False)
    else:
        text = json.dumps(nodes, separators=(",", ":"), ensure_ascii=False)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    elif not args.check:
        sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
