"""Field buses and PLCs: Modbus, OPC UA, Siemens S7, KNX."""

from __future__ import annotations

from ..flows import Node
from ..values import UNKNOWN, Shape, Shapes, Value, const
from .declare import (
    AUTOMATION,
    DEVICE,
    Config,
    NodeType,
    Target,
    computes_payload,
    from_msg,
    host_port,
    starts,
    text,
)


def _modbus_write(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    server = config(node.get("server"))
    if server is None:
        where = "?"
    elif server.get("clienttype") in ("simpleser", "serial"):
        where = text(server.get("serialPort")) or "?"
    else:
        where = host_port(server.get("tcpHost"), server.get("tcpPort"), 502)
    adr = text(str(node.get("adr", "")))
    if not adr:
        return [Target("modbus", None, f"{where}/<msg>", shape[1])]
    # an empty Unit-ID on the node means the client's own
    unit = text(str(node.get("unitid") or "")) or (
        text(str(server.get("unit_id") or "")) if server else "") or "1"
    name = f"{unit}/{node.get('dataType', '?')}/{adr}"
    return [Target("modbus", f"modbus:{where}/{name}", name, shape[1], DEVICE)]


def _opcua_client(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    if node.get("action") != "write":
        return []
    endpoint = config(node.get("endpoint"))
    where = text(endpoint.get("endpoint")) if endpoint else "?"
    item = from_msg(node.get("topic"), shape[0])
    if item is None:
        return [Target("opcua", None, f"{where} <msg.topic>", shape[1])]
    return [Target("opcua", f"opcua:{where}/{item}", item, shape[1], DEVICE)]


def _opcua_item(node: Node, shapes: Shapes) -> Shapes:
    """Names the OPC UA node to read or write in msg.topic."""
    item = text(node.get("item"))
    named: Value = const(item) if item else UNKNOWN
    value = node.get("value")
    return frozenset((named, p if value in (None, "") else UNKNOWN) for _, p in shapes)


def _knx(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    gateway = config(node.get("server"))
    where = host_port(gateway.get("host"), gateway.get("port"), 3671) if gateway else "?"
    address = from_msg(node.get("topic"), shape[0])
    if address is None:
        return [Target("knx", None, f"{where} <msg.destination>", shape[1])]
    return [Target("knx", f"knx:{where}/{address}", address, shape[1], DEVICE)]


def _s7_out(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    endpoint = config(node.get("endpoint"))
    where = host_port(endpoint.get("address"), endpoint.get("port"), 102) if endpoint else "?"
    variable = text(node.get("variable"))
    if not variable:
        return [Target("s7", None, f"{where} <msg.variable>", shape[1])]
    return [Target("s7", f"s7:{where}/{variable}", variable, shape[1], DEVICE)]


TYPES: list[NodeType] = [
    *[NodeType(name, "node-red-contrib-modbus", "Writes a Modbus coil or register.",
               targets=_modbus_write, roles=(DEVICE,))
      for name in ("modbus-write", "modbus-flex-write")],
    NodeType("modbus-read", "node-red-contrib-modbus", "Polls Modbus values: automation.",
             trigger=starts(AUTOMATION)),
    *[NodeType(name, "node-red-contrib-modbus", "Reads Modbus values when a message arrives.",
               transfer=computes_payload) for name in ("modbus-getter", "modbus-flex-getter")],
    NodeType("OpcUa-Client", "node-red-contrib-opcua", "Writes an OPC UA variable "
             "(action write).", targets=_opcua_client, roles=(DEVICE,)),
    NodeType("OpcUa-Item", "node-red-contrib-opcua", "Names the OPC UA item in msg.topic.",
             transfer=_opcua_item),
    NodeType("s7 out", "node-red-contrib-s7", "Writes a PLC variable.", targets=_s7_out,
             roles=(DEVICE,)),
    NodeType("s7 in", "node-red-contrib-s7", "Reads PLC variables: automation.",
             trigger=starts(AUTOMATION)),
    NodeType("knxUltimate", "node-red-contrib-knx-ultimate", "Writes a KNX group address and "
             "reports telegrams on it (automation).", trigger=starts(AUTOMATION),
             targets=_knx, roles=(DEVICE,)),
]
