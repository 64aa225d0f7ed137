"""Load Node-RED flows in every shape Node-RED produces and check they hang together.

Shapes accepted: a plain array (flows file, export), the Admin API v2 object
``{"flows": [...], "rev": "..."}``, and a single flow as ``GET /flow/:id``
returns it (``{"id", "label", "nodes", "configs", "subflows"}``).

A node id defined more than once (a tab copied by hand) is loaded as
Node-RED's runtime loads it: the last definition wins. Every such id is kept
in :attr:`Flows.duplicates` so the analysis can report it and commands that
write flows back can refuse (the earlier definitions are not in ``nodes``).
"""

from __future__ import annotations

import gc
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import FlowsError

Node = Mapping[str, Any]

#: Node types that are structure, not message-carrying nodes.
STRUCTURAL_TYPES = frozenset({"tab", "subflow", "group", "comment"})


@dataclass(frozen=True)
class Definition:
    """One of several definitions of a node id in a flows file."""

    index: int  # position in the file's array of nodes (the flattened one for GET /flow/:id)
    id: str
    type: str
    name: str | None
    z: str | None  # the tab or subflow it is on
    z_label: str | None = None  # that tab's label or subflow's name, when the file has it
    z_type: str | None = None  # "tab" or "subflow", when the file has it

    def describe(self) -> str:
        """``element 4 (inject "Morning" on tab "Lights")``, for messages."""
        what = self.type + (f" {json.dumps(self.name, ensure_ascii=False)}" if self.name else "")
        if self.z:
            label = self.z_label if self.z_label is not None else self.z
            what += f" on {self.z_type or 'tab'} {json.dumps(label, ensure_ascii=False)}"
        return f"element {self.index} ({what})"


@dataclass(frozen=True)
class DuplicateId:
    """A node id defined more than once; ACM loads the last definition, as Node-RED does.

    Node-RED's ``parseConfig`` keeps the last definition of an id overall
    (``allNodes``), but files flow nodes and tab-scoped config nodes under
    the tab or subflow in their ``z`` (the last one per tab wins there), so
    copies on different tabs all run. ACM's analysis names nodes by id and
    keeps only the last one: :attr:`also_in_node_red` lists the others that
    Node-RED still keeps.
    """

    id: str
    definitions: tuple[Definition, ...]  # in file order, at least two; the last is loaded

    @property
    def loaded(self) -> Definition:
        return self.definitions[-1]

    @property
    def also_in_node_red(self) -> tuple[Definition, ...]:
        """Earlier definitions Node-RED keeps too: the last one on each other tab or subflow."""
        last: dict[str, Definition] = {}
        for definition in self.definitions:
            last[_scope(definition.type, definition.z)] = definition
        del last[_scope(self.loaded.type, self.loaded.z)]
        return tuple(sorted(last.values(), key=lambda d: d.index))

    def places(self) -> str:
        """Every definition for people: ``element 2 (...) and element 7 (...)``."""
        described = [d.describe() for d in self.definitions]
        return ", ".join(described[:-1]) + " and " + described[-1]


def _scope(node_type: str, z: str | None) -> str:
    """Where parseConfig files a node; within one scope the last definition wins."""
    if node_type in ("tab", "subflow", "group"):
        return node_type  # kept in maps of their own, by id
    return f"z:{z}" if z else "config"  # on a tab or subflow, or a global config node


@dataclass(frozen=True)
class Flows:
    """One flows file: its nodes in file order and an index by id.

    When the file defines an id more than once, ``nodes`` holds the last
    definition (where the last one stands) and ``duplicates`` says where
    every definition was.

    Loaded flows are not changed afterwards (commands that rewrite flows work
    on copies of the nodes), so what later steps ask of every node (:attr:`tabs`,
    :attr:`subflows`, :attr:`defines_env`, :attr:`marked`) is worked out by the
    loader's one walk over them (:func:`flows_from_data` builds every Flows).
    """

    source: str
    nodes: tuple[Node, ...]
    rev: str | None = None
    by_id: Mapping[str, Node] = field(default_factory=dict, repr=False)
    duplicates: tuple[DuplicateId, ...] = ()
    #: The tabs, in file order.
    tabs: tuple[Node, ...] = field(kw_only=True, repr=False, compare=False)
    #: Subflow definitions by id.
    subflows: Mapping[str, Node] = field(kw_only=True, repr=False, compare=False)
    #: Whether any tab, subflow or subflow instance sets environment variables (else
    #: no ``${NAME}`` in a node can be filled in from the flows).
    defines_env: bool = field(kw_only=True, repr=False, compare=False)
    #: Whether any node carries an ``acm`` marker (a node ACM added: a resolver, a
    #: tag, a link), else no command can pass an ACM resolver.
    marked: bool = field(kw_only=True, repr=False, compare=False)

    def require_unique_ids(self, before: str) -> None:
        """Refuse (:class:`FlowsError`) a file with duplicate ids before ``before`` (e.g.
        "resolving"): writing ``nodes`` back would lose the earlier definitions."""
        if not self.duplicates:
            return
        first = self.duplicates[0]
        more = len(self.duplicates) - 1
        others = f" (and {more} more duplicate id{'' if more == 1 else 's'})" if more else ""
        raise FlowsError(f"duplicate node id {first.id} at {first.places()}{others}; "
                         f"fix the file before {before}", self.source)

    def tab_label(self, tab_id: str) -> str:
        tab = self.by_id.get(tab_id)
        if tab is None:
            return tab_id
        return str(tab.get("label") or tab.get("name") or tab_id)


def load_flows(path: str | Path, *, text: str | None = None) -> Flows:
    """Read a flows file (or ``text`` already read from it) and validate it.

    Raises :class:`FlowsError` naming the file and, where it applies, the node.
    """
    source = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise FlowsError("file not found", source) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise FlowsError(f"cannot read file ({exc})", source) from None
    text = text.removeprefix("\ufeff")  # a BOM survives when the text came from stdin
    try:
        with gc_paused():  # json.loads of a large site is several times faster without GC
            data = json.loads(text)
            return flows_from_data(data, source)
    except json.JSONDecodeError as exc:
        hint = ""
        if Path(source).suffix.lower() in (".yaml", ".yml") or text.lstrip().startswith("version:"):
            hint = " (this looks like a deployment model: use acm analyze --model FILE)"
        raise FlowsError(
            f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}{hint}", source
        ) from None
    except RecursionError:
        raise FlowsError("JSON nested too deeply to be a flows file", source) from None
    except ValueError as exc:  # e.g. an integer of thousands of digits
        raise FlowsError(f"JSON value out of range ({_first_words(str(exc))})", source) from None



@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building large acyclic data (a parsed
    flows file, the analysis of it, an Admin API answer).

    The pipeline allocates millions of small containers and frees almost none;
    without this, repeated full collections make large sites quadratic, and a
    collection run at the stack's limit (JSON nested ~1,000 deep) makes finalizers
    fail noisily. Reference counting still frees everything as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def copy_nodes(nodes: Sequence[Any], source: str = "<flows>") -> list[Any]:
    """A deep copy of flows data for a rewrite to change in place.

    Through JSON, not :func:`copy.deepcopy`: the data came from JSON, the copy is
    several times faster, and deepcopy recurses twice per level, so a field nested
    half as deep as the loader accepts would overflow the stack there.
    """
    try:
        copied: list[Any] = json.loads(json.dumps(list(nodes)))
    except RecursionError:
        raise FlowsError("JSON nested too deeply to be a flows file", source) from None
    return copied


def flows_from_data(data: Any, source: str = "<flows>") -> Flows:
    """Build :class:`Flows` from already-decoded JSON in any accepted shape."""
    raw, rev = _node_array(data, source)
    walk = _walk(raw, source) or _ordered_walk(raw, source)
    nodes, by_id, by_type, marked = walk.nodes, walk.by_id, walk.by_type, walk.marked
    restored = restore_markers(nodes) if "group" in by_type else nodes
    if restored != nodes:  # markers put back from group manifests, on copies: index those
        nodes = restored
        by_id = {n["id"]: n for n in nodes}
        by_type, marked = _by_type(nodes), any("acm" in n for n in nodes)
    duplicates = tuple(
        DuplicateId(node_id, tuple(_definition(i, raw[i], by_id)
                                   for i in [*indexes, walk.last[node_id]]))
        for node_id, indexes in sorted(walk.repeated.items(), key=lambda item: item[1][0]))
    # by_type is not kept: were it the last to hold the nodes, freeing them would
    # visit memory type by type rather than in file order, several times slower.
    flows = Flows(source=source, nodes=tuple(nodes), rev=rev, by_id=by_id,
                  duplicates=duplicates, tabs=tuple(by_type.get("tab", ())),
                  subflows={n["id"]: n for n in by_type.get("subflow", ())},
                  defines_env=_defines_env(by_type), marked=marked)
    if not walk.references_ok:
        _check_references(flows)
    return flows


def _defines_env(by_type: Mapping[str, Sequence[Node]]) -> bool:
    """Whether any tab, subflow or subflow instance sets environment variables."""
    return any(isinstance(n.get("env"), list) and n["env"]
               for node_type, nodes in by_type.items() if _has_env(node_type) for n in nodes)


class _Walk(NamedTuple):
    """The nodes to load, as one walk over a file's array of nodes found them."""

    nodes: list[Node]  # the last definition of each id, in file order
    by_id: dict[str, Node]
    by_type: dict[str, list[Node]]
    marked: bool  # any node has an "acm" marker
    last: Mapping[str, int]  # id -> index of its last definition (read for repeated ids)
    repeated: Mapping[str, list[int]]  # id -> indexes of its earlier definitions
    references_ok: bool  # every wire and subflow instance resolves (False: not known)


#: The types ``x`` and ``y`` may have: JSON numbers, or missing (exact types: no bool).
_COORDINATE_TYPES = frozenset({int, float, type(None)})

_NO_WIRES: list[Any] = []  # a node without wires (read, never changed)


def _walk(raw: Sequence[Any], source: str) -> _Walk | None:
    """Check and index a well-formed array of nodes with unique ids in one walk, or
    None if anything is off (an element that is no node, a malformed field, an id
    defined twice): :func:`_ordered_walk` then finds and reports the first error
    in file order, or loads the duplicates.

    Every test here accepts no more than the ordered checks accept, so a file
    passing it passes them; one walk over 100,000 nodes costs a fraction of
    separate ones (each node's fields are read while it is in the CPU's cache).
    """
    indexed = _index_nodes(raw)
    if indexed is None:
        return None
    by_id, by_type, targets, marked = indexed
    if (len(by_id) != len(raw) or set(map(type, targets)) - {str}  # map: C speed, one per wire
            or not _other_fields_ok(by_type, source)):
        return None
    return _Walk(list(raw), by_id, by_type, marked, {}, {},
                 _references_ok(by_id, by_type, targets))


def _index_nodes(raw: Sequence[Any]
                 ) -> tuple[dict[str, Node], dict[str, list[Node]], list[Any], bool] | None:
    """For :func:`_walk`: the nodes by id and by type, every wire's target, and whether
    any node has an ``acm`` marker; None at the first element whose id, type, x, y
    or wires fail the checks (the type of each target is left to the caller)."""
    by_id: dict[str, Node] = {}
    by_type: defaultdict[str, list[Node]] = defaultdict(list)
    targets: list[Any] = []
    marked = False
    coordinate = _COORDINATE_TYPES
    for node in raw:  # hot loop, once per node: local names, exact types
        if type(node) is not dict:
            return None
        node_id, node_type = node.get("id"), node.get("type")
        if type(node_id) is not str or type(node_type) is not str or not node_id or not node_type:
            return None
        wires = node.get("wires", _NO_WIRES)
        if (type(wires) is not list or type(node.get("x")) not in coordinate
                or type(node.get("y")) not in coordinate):
            return None
        for port in wires:
            if type(port) is not list:
                return None
            targets += port
        by_id[node_id] = node
        by_type[node_type].append(node)
        marked = marked or "acm" in node
    return by_id, dict(by_type), targets, marked


def _other_fields_ok(by_type: Mapping[str, Sequence[Node]], source: str) -> bool:
    """Whether the nodes of the types whose other fields :func:`_check_shape` reads
    (links, env, subflow ports) pass it; the walk checked every node's wires, x, y."""
    try:
        for node_type, nodes in by_type.items():
            if _has_env(node_type) or node_type.startswith("link "):
                for node in nodes:
                    _check_shape(node, source)
    except FlowsError:
        return False
    return True


def _references_ok(by_id: Mapping[str, Node], by_type: Mapping[str, Sequence[Node]],
                   targets: Iterable[str]) -> bool:
    """Whether every wire ends at a node and the subflow of every subflow instance is
    defined (else :func:`_check_references` names the first that is not)."""
    subflows = {n["id"] for n in by_type.get("subflow", ())}
    return all(map(by_id.__contains__, targets)) and all(
        node_type[8:] in subflows for node_type in by_type if node_type.startswith("subflow:"))


def _ordered_walk(raw: Sequence[Any], source: str) -> _Walk:
    """Check every node in file order, raising the first error :class:`FlowsError`
    names; load the last definition of an id defined more than once."""
    last, by_id = _index_ids(raw, source)
    repeated: dict[str, list[int]] = {}
    if len(last) == len(raw):  # every id once: nothing to drop
        for node in raw:
            _check_shape(node, source)
        nodes: list[Node] = list(raw)
    else:
        nodes, by_id, repeated = _keep_last(raw, last, source)
    return _Walk(nodes, by_id, _by_type(nodes), any("acm" in n for n in nodes), last,
                 repeated, references_ok=False)


def _by_type(nodes: Iterable[Node]) -> dict[str, list[Node]]:
    """The nodes of each type, in file order."""
    by_type: dict[str, list[Node]] = {}
    for node in nodes:
        by_type.setdefault(node["type"], []).append(node)
    return by_type


def _node_array(data: Any, source: str) -> tuple[Sequence[Any], str | None]:
    """The array of nodes in any accepted shape of flows document, and its ``rev``
    (Admin API v2 only)."""
    if isinstance(data, dict) and isinstance(data.get("flows"), list):
        rev = data.get("rev") if isinstance(data.get("rev"), str) else None
        return data["flows"], rev
    if isinstance(data, dict) and isinstance(data.get("nodes"), list) and "id" in data:
        return _single_flow(data, source), None
    if isinstance(data, list):
        return data, None
    raise FlowsError(
        "not a flows file: expected a JSON array of nodes or an object with a "
        '"flows" array (Admin API v2)',
        source,
    )


def _index_ids(raw: Sequence[Any], source: str) -> tuple[dict[str, int], dict[str, Node]]:
    """Check every element is a node with a string id and type; return id -> index of
    its last definition (Node-RED keeps that one) and id -> that node."""
    last: dict[str, int] = {}
    by_id: dict[str, Node] = {}
    for index, node in enumerate(raw):
        if not isinstance(node, dict):
            raise FlowsError(f"element {index} is not a node object", source)
        node_id, node_type = node.get("id"), node.get("type")
        if not isinstance(node_id, str) or not node_id:
            raise FlowsError(f"element {index} has no string 'id'", source)
        if not isinstance(node_type, str) or not node_type:
            raise FlowsError(f"node {node_id} has no string 'type'", source)
        last[node_id] = index
        by_id[node_id] = node
    return last, by_id


def _keep_last(raw: Sequence[Any], last: Mapping[str, int], source: str
               ) -> tuple[list[Node], dict[str, Node], dict[str, list[int]]]:
    """The last definition of each id, checked, in file order; id -> it (in that
    order); and id -> the indexes of its earlier definitions, which Node-RED's
    ``allNodes`` drops."""
    nodes: list[Node] = []
    by_id: dict[str, Node] = {}
    repeated: dict[str, list[int]] = {}
    for index, node in enumerate(raw):
        if last[node["id"]] != index:  # an earlier definition
            repeated.setdefault(node["id"], []).append(index)
            continue
        _check_shape(node, source)
        nodes.append(node)
        by_id[node["id"]] = node
    return nodes, by_id, repeated


def _definition(index: int, node: Node, by_id: Mapping[str, Node]) -> Definition:
    z = node.get("z") if isinstance(node.get("z"), str) and node.get("z") else None
    name = node.get("name") if isinstance(node.get("name"), str) and node.get("name") else None
    container = by_id.get(z) if z else None
    z_label = z_type = None
    if container is not None and container["type"] in ("tab", "subflow"):
        z_type = container["type"]
        text = container.get("label") if z_type == "tab" else container.get("name")
        z_label = text if isinstance(text, str) and text else z
    return Definition(index, node["id"], node["type"], name, z, z_label, z_type)


#: A group env variable in which ACM lists the nodes it added (the editor keeps a
#: group's env, but drops properties a node type does not declare, like "acm").
MANIFEST_ENV = "ACM_MANIFEST"


def restore_markers(nodes: Sequence[Node]) -> list[Node]:
    """Nodes with their ``acm`` markers, recovered from group manifests where missing."""
    manifest: dict[str, Any] = {}
    for node in nodes:
        if node.get("type") != "group" or not isinstance(node.get("env"), list):
            continue
        for item in node["env"]:
            if isinstance(item, dict) and item.get("name") == MANIFEST_ENV:
                try:
                    listed = json.loads(str(item.get("value")))
                except json.JSONDecodeError:
                    continue
                if isinstance(listed, dict):
                    manifest.update({k: v for k, v in listed.items() if isinstance(v, dict)})
    if not manifest:
        return list(nodes)
    return [
        {**node, "acm": manifest[node["id"]]}
        if node.get("id") in manifest and not isinstance(node.get("acm"), dict) else node
        for node in nodes
    ]


def _strings(value: Any) -> bool:
    return type(value) is list and all(type(v) is str for v in value)


def _wires_ok(wires: Any) -> bool:
    """``wires`` is a list of lists of node ids (written out: it runs once per node)."""
    if not isinstance(wires, list):
        return False
    for port in wires:
        if type(port) is not list:
            return False
        for target in port:
            if type(target) is not str:
                return False
    return True


def _not_number(value: Any) -> bool:
    """A coordinate that is there but is no number (JSON's int and float are the fast way)."""
    if value is None or type(value) is int or type(value) is float:
        return False
    return isinstance(value, bool) or not isinstance(value, (int, float))


def _check_shape(node: Node, source: str) -> None:
    """A node's fields that the analysis walks must have the shapes Node-RED writes.

    :func:`_walk` checks wires, x and y of every node itself and calls this only
    for the types with more to check (links, env, subflow ports): keep the two
    in step.
    """
    node_id = node["id"]
    if "wires" in node and not _wires_ok(node["wires"]):
        raise FlowsError(f"node {node_id} has malformed 'wires' (expected lists of node ids)",
                         source)
    node_type = node["type"]
    if "links" in node and node_type.startswith("link ") and not _strings(node["links"]):
        raise FlowsError(f"node {node_id} has malformed 'links' (expected a list of node ids)",
                         source)
    for axis in ("x", "y"):
        if _not_number(node.get(axis)):
            raise FlowsError(f"node {node_id} has a non-numeric '{axis}'", source)
    env = node.get("env")  # read on tabs, subflows and their instances (contrib nodes may differ)
    if env is not None and not _env_ok(node_type, env):
        raise FlowsError(f"node {node_id} has malformed 'env' (expected a list of objects)",
                         source)
    if node_type == "subflow":
        for side in ("in", "out"):
            ports = node.get(side)
            if ports is not None and not _ports_ok(ports):
                raise FlowsError(f"subflow {node_id} has malformed '{side}' ports", source)


def _has_env(node_type: str) -> bool:
    """Whether nodes of this type have env variables: tabs, subflows and subflow instances."""
    return node_type in ("tab", "subflow") or node_type.startswith("subflow:")


def _env_ok(node_type: str, env: Any) -> bool:
    """``env`` is a list of objects, on the nodes that have env variables; other
    types' ``env`` is not read."""
    if not _has_env(node_type):
        return True
    return isinstance(env, list) and all(isinstance(item, dict) for item in env)


def _ports_ok(ports: Any) -> bool:
    """A subflow's ``in`` or ``out`` is a list of ports, objects whose ``wires`` (if
    any) is a list of objects."""
    return isinstance(ports, list) and all(
        isinstance(p, dict) and isinstance(p.get("wires", []), list)
        and all(isinstance(w, dict) for w in p.get("wires", []))
        for p in ports)


def _first_words(text: str) -> str:
    return text.split(";")[0].strip()


def _single_flow(data: Mapping[str, Any], source: str) -> list[Any]:
    """Flatten ``GET /flow/:id`` output into the plain-array shape."""
    for part in ("configs", "subflows"):
        if data.get(part) is not None and not isinstance(data[part], list):
            raise FlowsError(f"'{part}' of flow {data['id']} is not an array", source)
    tab = {k: v for k, v in data.items() if k not in ("nodes", "configs", "subflows")}
    tab.setdefault("type", "tab")
    out: list[Any] = [tab]
    for node in data.get("nodes", []):
        if isinstance(node, dict):
            node = {**node}
            node.setdefault("z", data["id"])
        out.append(node)
    out.extend(data.get("configs") or [])
    for sub in data.get("subflows") or []:
        if isinstance(sub, dict) and isinstance(sub.get("nodes"), list):
            out.append({k: v for k, v in sub.items() if k != "nodes"})
            out.extend(sub["nodes"])
        else:
            out.append(sub)
    return out


def _check_references(flows: Flows) -> None:
    """Dangling wires and subflow instances of missing definitions are errors."""
    subflows = flows.subflows
    by_id = flows.by_id
    for node in flows.nodes:
        node_type = node["type"]
        if node_type.startswith("subflow:") and node_type[8:] not in subflows:
            raise FlowsError(
                f"node {node['id']} is an instance of subflow {node_type[8:]}, "
                "which is not defined in this file",
                flows.source,
            )
        for port in node.get("wires", ()):
            for target in port:
                if target not in by_id:
                    raise FlowsError(
                        f"node {node['id']} is wired to {target}, which does not exist",
                        flows.source,
                    )
