"""End-to-end tests of the Node-RED editor plugin (``nodered-bridge/``) in headless Chromium.

A real Node-RED 4 (``.cache/nodered/4``, see ``scripts/install-nodered.sh``) runs with the
plugin ``npm install``-ed into its throw-away user dir and ``acm.python`` pointing at the
project venv; Playwright drives the system Chromium (``scripts/install-browser.sh``).
The tests use the DOM ids of the bridge contract (``#acm-analyze``, ``.acm-finding``, ...).
A screenshot of every test lands in ``tests/artifacts/`` (also when it fails).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from nodered import AUTH_PASSWORD, AUTH_TOKEN, AUTH_USER, NodeRed, missing

from acm.flows import restore_markers

ROOT = Path(__file__).resolve().parent.parent
BRIDGE = ROOT / "nodered-bridge"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
BUILDING = ROOT / "flows" / "building" / "flows.json"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"

if not CHROMIUM.is_file():
    pytest.skip(f"{CHROMIUM} is missing: run scripts/install-browser.sh", allow_module_level=True)
try:
    from playwright.sync_api import BrowserContext, Page, Response, sync_playwright
    from playwright.sync_api import Error as PlaywrightError
except ImportError:  # pragma: no cover - depends on the machine
    pytest.skip(
        "playwright is not installed in the venv: run scripts/install-browser.sh",
        allow_module_level=True,
    )

BROWSER_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TIMEOUT_MS = 20_000  # one analysis spawns Python: well under a second here

Flows = list[dict[str, Any]]
PAGE_ERRORS: dict[int, list[str]] = {}  # uncaught JavaScript errors per open page

# flows/README.md, "building/flows.json": the six expected findings.
HALL = "mqtt:mqtt.building.local:1883/building/hall/light/set"
LOBBY = "mqtt:mqtt.building.local:1883/building/lobby/light/set"
EXPECTED_BUILDING = {
    HALL: ("error", {"b9925122694f10c6", "6387ba50bc4da358"}),
    LOBBY: ("error", {"80c10d6cc7eb55e7"}),
    "mqtt:mqtt.building.local:1883/building/floor1/heater/set":
        ("error", {"51c2b027e62e2358", "c95d964526e49e36"}),
    "mqtt:mqtt.building.local:1883/building/lobby/blind/set": ("error", {"a26a3a3a21aa3f5f"}),
    "mqtt:mqtt.building.local:1883/building/floor1/heater/setpoint":
        ("warning", {"d7f808c859ca9c92", "890aaa1756242a47"}),
    "ha:light.meeting_room": ("info", {"4e426a92a0d0a4c2", "eb74c29d7e66535e"}),
}
HINT_WORDS = ("acm.python", "ACM_PYTHON")  # hint: "set acm.python in settings.js or ACM_PYTHON"
XSS_LABEL = "<img src=x onerror=window.__xss=1>"


def building_flows() -> Flows:
    flows: Flows = json.loads(BUILDING.read_text(encoding="utf-8"))
    return flows


def xss_flows() -> Flows:
    """Two tabs publish different commands to one topic; one tab's label is markup."""
    broker = "e2e0000000000b01"

    def team(n: int, label: str, payload: str) -> Flows:
        z, inject, out = f"e2e00000000000f{n}", f"e2e00000000001a{n}", f"e2e00000000002a{n}"
        return [
            {"id": z, "type": "tab", "label": label, "disabled": False, "info": ""},
            {"id": inject, "type": "inject", "z": z, "name": f"team {n}",
             "props": [{"p": "payload"}], "repeat": "", "crontab": "00 03 1 1 *", "once": False,
             "onceDelay": 0.1, "topic": "", "payload": payload, "payloadType": "str",
             "x": 140, "y": 100, "wires": [[out]]},
            {"id": out, "type": "mqtt out", "z": z, "name": "", "topic": "xss/lamp/set",
             "qos": "", "retain": "", "broker": broker, "x": 380, "y": 100, "wires": []},
        ]

    return [
        *team(1, XSS_LABEL, "on"),
        *team(2, "Night team", "off"),
        {"id": broker, "type": "mqtt-broker", "name": "", "broker": "mqtt.xss.local",
         "port": "1883"},
    ]


# -- Node-RED with the plugin ---------------------------------------------------------------


class BridgeNodeRed(NodeRed):
    """Node-RED 4 with the plugin installed in its user dir and an ``acm`` settings block.

    ``template`` is a folder where ``npm install <nodered-bridge>`` was run once per
    session; its ``node_modules`` (a link to the package, for a local folder) is
    reproduced in each instance's fresh user dir before Node-RED starts.
    """

    def __init__(
        self, template: Path, acm: dict[str, Any], auth: dict[str, Any] | None = None
    ) -> None:
        super().__init__("4", auth)
        self.template = template
        self.acm = acm

    def _settings(self) -> dict[str, Any]:
        return {**super()._settings(), "acm": self.acm}

    def _write_settings(self) -> None:
        super()._write_settings()
        assert self.user_dir is not None
        for name in ("package.json", "package-lock.json"):
            if (self.template / name).is_file():
                shutil.copy2(self.template / name, self.user_dir / name)
        modules = self.user_dir / "node_modules"
        if modules.exists():
            return  # a retry on another port: already there
        modules.mkdir()
        for entry in (self.template / "node_modules").iterdir():
            if entry.is_symlink():  # npm links a local folder: keep pointing at the same place
                os.symlink(os.path.realpath(entry), modules / entry.name)
            elif entry.is_dir():
                shutil.copytree(entry, modules / entry.name, symlinks=True)
            else:
                shutil.copy2(entry, modules / entry.name)


@pytest.fixture(scope="session")
def bridge_template() -> Iterator[Path]:
    """``npm install <nodered-bridge>`` once per test session into a template user dir."""
    reason = missing("4")
    if reason:
        pytest.skip(reason)
    if not (BRIDGE / "package.json").is_file():
        pytest.skip(f"the plugin is not there: {BRIDGE / 'package.json'} is missing")
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not on PATH")
    template = Path(tempfile.mkdtemp(prefix="acm-e2e-userdir-"))
    (template / "package.json").write_text(
        '{"name": "acm-e2e-userdir", "private": true}\n', encoding="utf-8"
    )
    done = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", str(BRIDGE)],
        cwd=template, capture_output=True, text=True, timeout=120, check=False,
    )
    if done.returncode != 0:
        shutil.rmtree(template, ignore_errors=True)
        pytest.fail(f"npm install {BRIDGE} failed:\n{done.stdout}\n{done.stderr}")
    installed = template / "node_modules" / "node-red-acm-bridge" / "package.json"
    assert installed.is_file(), f"npm install {BRIDGE} did not create {installed}"
    yield template
    shutil.rmtree(template, ignore_errors=True)


def start_bridge(
    template: Path, acm: dict[str, Any], auth: dict[str, Any] | None = None
) -> BridgeNodeRed:
    nodered = BridgeNodeRed(template, acm, auth)
    nodered.start()
    return nodered


@pytest.fixture(scope="module")
def nodered_bridge(bridge_template: Path) -> Iterator[BridgeNodeRed]:
    """The Node-RED most tests share; each test deploys the flows it starts from."""
    nodered = start_bridge(bridge_template, {"python": str(VENV_PYTHON)})
    yield nodered
    nodered.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserContext]:
    profile = tempfile.mkdtemp(prefix="acm-e2e-chromium-")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=BROWSER_ARGS,
            viewport={"width": 1400, "height": 850},
        )
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser: BrowserContext, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh tab; its screenshot goes to tests/artifacts/<test>.png, pass or fail."""
    tab = browser.new_page()
    errors = PAGE_ERRORS.setdefault(id(tab), [])
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    PAGE_ERRORS.pop(id(tab), None)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^\w.-]+", "_", request.node.name)
    try:
        tab.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    except Exception as exc:  # noqa: BLE001 - a screenshot must not hide the real failure
        print(f"screenshot failed: {exc}", file=sys.stderr)
    tab.close()


# -- editor helpers -------------------------------------------------------------------------


EDITOR_READY = """() => !!(window.RED && RED.nodes && RED.workspaces && RED.workspaces.count() > 0
    && document.querySelector('#red-ui-workspace-chart svg')
    && (!document.querySelector('#red-ui-loading-progress')
        || getComputedStyle(document.querySelector('#red-ui-loading-progress')).display === 'none'
        || document.querySelector('#red-ui-loading-progress').offsetParent === null))"""


def open_editor(page: Page, nodered: NodeRed, *, login: bool = False) -> None:
    page.goto(nodered.url + "/")
    if login:
        page.locator("#node-dialog-login-username").fill(AUTH_USER)
        page.locator("#node-dialog-login-password").fill(AUTH_PASSWORD)
        page.locator("#node-dialog-login-submit").click()
    page.wait_for_function(EDITOR_READY)
    try:
        page.wait_for_function("() => RED.sidebar.containsTab('acm-conflicts')", timeout=5_000)
    except Exception as exc:
        raise AssertionError(
            "the editor has no 'acm-conflicts' sidebar tab: plugin not loaded?\n"
            + nodered.log_tail()
        ) from exc


def open_sidebar(page: Page) -> None:
    page.evaluate("() => RED.sidebar.show('acm-conflicts')")
    page.locator("#acm-analyze").wait_for(state="visible")


def import_flows(page: Page, flows: Flows) -> None:
    page.evaluate(
        "(flows) => RED.view.importNodes(flows,"
        " {generateIds: false, addFlow: false, touchImport: false})",
        flows,
    )


def status(page: Page) -> str:
    return page.locator("#acm-status").inner_text().strip()


def analyze(page: Page) -> Response:
    """Click Analyze and wait until the answer is rendered."""
    with page.expect_response(lambda r: r.url.endswith("/acm/analyze")) as answer:
        page.locator("#acm-analyze").click()
    page.wait_for_function(
        "() => { const s = document.querySelector('#acm-status');"
        " return s && !/^Analysing/.test(s.textContent.trim()); }"
    )
    return answer.value


def findings(page: Page) -> list[dict[str, str]]:
    result: list[dict[str, str]] = page.evaluate(
        "() => [...document.querySelectorAll('#acm-findings .acm-finding')].map(e =>"
        " ({id: e.dataset.id || '', severity: e.dataset.severity || '', text: e.innerText}))"
    )
    return result


def finding_for(page: Page, key: str) -> dict[str, str] | None:
    # The key of the hall light is not a substring of another key; match whole keys.
    for item in findings(page):
        if re.search(re.escape(key) + r"(?![\w/.-])", item["text"]):
            return item
    return None


def describe(page: Page) -> str:
    listing = "\n".join(
        f"  [{f['severity']}] {f['id']}: {' | '.join(f['text'].split())}" for f in findings(page)
    )
    return f"#acm-status: {status(page)!r}\nfindings:\n{listing or '  (none)'}"


def wait_for_finding(page: Page, key: str, severity: str, code: str | None = None) -> None:
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        item = finding_for(page, key)
        if item and item["severity"] == severity and (code is None or code in item["text"]):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"no {severity} {code or ''} finding for {key}\n{describe(page)}")


def marked(flows: Flows) -> dict[str, dict[str, Any]]:
    """id -> ``acm`` marker of the nodes ACM added, as the analyzer sees them: on the node,
    or listed in its group's ACM_MANIFEST env (the editor drops undeclared properties)."""
    return {
        n["id"]: n["acm"] for n in restore_markers(flows) if isinstance(n.get("acm"), dict)
    }


def editor_flows(page: Page) -> Flows:
    """The flows as the editor sends them to acm/analyze and to Deploy."""
    flows: Flows = page.evaluate("() => RED.nodes.createCompleteNodeSet({credentials: false})")
    return flows


def resolvers_in(flows: Flows) -> list[dict[str, Any]]:
    markers = marked(flows)
    return [
        {"id": n["id"], "z": n.get("z"), "acm": markers[n["id"]]}
        for n in flows
        if n.get("type") == "function" and markers.get(n["id"], {}).get("role") == "resolver"
    ]


def resolver_nodes(page: Page) -> list[dict[str, Any]]:
    """Resolver function nodes in RED.nodes: marked on the node or in a group manifest."""
    in_editor = set(page.evaluate("() => RED.nodes.filterNodes({type: 'function'}).map(n => n.id)"))
    return [r for r in resolvers_in(editor_flows(page)) if r["id"] in in_editor]


def editor_wires(page: Page) -> dict[str, Any]:
    """id -> wires (each port's targets sorted) of every node in the editor, as Deploy sends."""
    wires: dict[str, Any] = page.evaluate(
        "() => Object.fromEntries(RED.nodes.createCompleteNodeSet({credentials: false})"
        ".map(n => [n.id, n.wires ? n.wires.map(p => [...p].sort()) : null]))"
    )
    return wires


def sources_of(page: Page, node_id: str) -> list[str]:
    ids: list[str] = page.evaluate(
        "(id) => RED.nodes.filterLinks({target: RED.nodes.node(id)}).map(l => l.source.id)",
        node_id,
    )
    return ids


def deploy(page: Page) -> None:
    """Click Deploy, confirm the unknown-node-types warning if it comes, wait until done."""
    page.locator("#red-ui-header-button-deploy").click()
    confirm = page.locator("#red-ui-deploy-dialog-confirm-deploy-deploy")
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        if confirm.is_visible():
            try:  # the notification slides in, and goes away once clicked
                confirm.click(timeout=2_000)
            except PlaywrightError:
                pass
        done = page.evaluate(
            "() => document.querySelector('#red-ui-header-button-deploy')"
            ".classList.contains('disabled') && !RED.nodes.dirty()"
        )
        if done:
            return
        page.wait_for_timeout(100)
    raise AssertionError("Deploy did not finish")


def server_resolvers(nodered: NodeRed) -> list[dict[str, Any]]:
    flows, _ = nodered.deployed_flows()
    return resolvers_in(flows)


def wait_until(page: Page, check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}\n{describe(page)}")
        page.wait_for_timeout(100)


def building_editor(page: Page, nodered: NodeRed) -> None:
    """The building example deployed, the editor open on it, analysed."""
    nodered.reset_flows(building_flows())
    open_editor(page, nodered)
    open_sidebar(page)
    response = analyze(page)
    assert response.status == 200, f"POST acm/analyze: {response.status} {response.text()}"
    wait_for_finding(page, HALL, "error")


# -- tests ----------------------------------------------------------------------------------


def test_analyze_shows_the_building_conflicts(page: Page, nodered_bridge: BridgeNodeRed) -> None:
    nodered_bridge.reset_flows([])
    open_editor(page, nodered_bridge)
    import_flows(page, building_flows())
    assert page.evaluate("() => RED.nodes.node('b9925122694f10c6') !== null"), "import failed"
    open_sidebar(page)
    assert page.locator("#acm-error").is_hidden(), "#acm-error shown before any analysis"

    response = analyze(page)
    assert response.status == 200, f"POST acm/analyze: {response.status} {response.text()}"
    page.locator(".acm-finding").first.wait_for()

    shown = findings(page)
    for key, (severity, _) in EXPECTED_BUILDING.items():
        item = finding_for(page, key)
        assert item is not None, f"no .acm-finding mentions {key}\n{describe(page)}"
        assert item["severity"] == severity, f"{key}: data-severity {item['severity']!r}, " \
                                             f"expected {severity!r}\n{describe(page)}"
        assert re.fullmatch(r"ACM\d{3}-[0-9a-f]+", item["id"]), f"{key}: data-id {item['id']!r}"
        assert "ACM001" in item["text"], f"{key}: code ACM001 not shown\n{describe(page)}"
    assert len(shown) >= len(EXPECTED_BUILDING)
    assert len({f["id"] for f in shown}) == len(shown), f"duplicate data-id\n{describe(page)}"
    # the message uses the CLI's words, the applications are named
    hall = finding_for(page, HALL)
    assert hall is not None
    assert "commanded by automations of 2 applications" in hall["text"], describe(page)
    assert "Lighting" in hall["text"] and "Security" in hall["text"], describe(page)
    # and, like the CLI, the path of node names from each trigger to the actuator, with
    # who starts it (an mqtt in of unknown sender: external)
    paths = page.locator(f".acm-finding[data-id='{hall['id']}'] .acm-path").all_inner_texts()
    assert any(p.startswith("Lighting (external): hall PIR → ") and p.endswith("hall light")
               for p in paths), paths
    # each error/warning finding offers Resolve, an info one does not
    for key, (severity, _) in EXPECTED_BUILDING.items():
        found = finding_for(page, key)
        assert found is not None
        count = page.locator(f".acm-finding[data-id='{found['id']}'] .acm-resolve").count()
        assert (count > 0) == (severity != "info"), f"{key} ({severity}): {count} .acm-resolve"
    assert re.search(rf"\b{len(shown)} conflicts?\b", status(page)), \
        f"#acm-status {status(page)!r} does not count {len(shown)} conflicts"
    assert page.locator("#acm-error").is_hidden(), "#acm-error visible after a good analysis"

    # for the README: the Lighting tab with its badged nodes, without the import toasts
    page.evaluate("() => { RED.workspaces.show('e587db3055a0dcbf');"
                  " document.querySelectorAll('.red-ui-notification').forEach(n => n.remove()); }")
    page.wait_for_timeout(300)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "editor-findings.png"))
    assert not PAGE_ERRORS.get(id(page)), f"JavaScript errors: {PAGE_ERRORS.get(id(page))}"


def test_clicking_a_finding_reveals_and_selects_its_actuators(
    page: Page, nodered_bridge: BridgeNodeRed
) -> None:
    building_editor(page, nodered_bridge)
    tabs = {n["id"]: n["z"] for n in building_flows() if "z" in n}

    for key in (LOBBY, HALL):  # one actuator node; two on different tabs
        _, node_ids = EXPECTED_BUILDING[key]
        item = finding_for(page, key)
        assert item is not None, describe(page)
        page.locator(f".acm-finding[data-id='{item['id']}']").click(position={"x": 8, "y": 8})
        wait_until(
            page,
            lambda ids=node_ids: bool(set(page.evaluate(  # type: ignore[misc]
                "() => (RED.view.selection().nodes || []).map(n => n.id)")) & ids),
            f"RED.view.selection() to include one of {sorted(node_ids)} after clicking {key}",
        )
        selected = set(page.evaluate("() => (RED.view.selection().nodes || []).map(n => n.id)"))
        assert selected <= node_ids, f"{key}: selected {sorted(selected)}, not only {node_ids}"
        active = page.evaluate("() => RED.workspaces.active()")
        assert active in {tabs[i] for i in selected}, \
            f"{key}: active workspace {active}, selected nodes live on " \
            f"{sorted(tabs[i] for i in selected)}"
        if len(node_ids) == 1:
            assert selected == node_ids
            assert active == tabs[next(iter(node_ids))]


def test_resolve_undo_deploy(page: Page, nodered_bridge: BridgeNodeRed) -> None:
    building_editor(page, nodered_bridge)
    _, rev_before = nodered_bridge.deployed_flows()
    wires_before = editor_wires(page)
    hall_nodes = EXPECTED_BUILDING[HALL][1]

    def apply_priority() -> tuple[str, dict[str, Any]]:
        item = finding_for(page, HALL)
        assert item is not None and item["severity"] == "error", describe(page)
        finding = page.locator(f".acm-finding[data-id='{item['id']}']")
        finding.locator(".acm-resolve").click()
        form = page.locator(".acm-resolve-form:visible")
        form.wait_for()
        # let the plan arrive (the plugin marks the form data-ready) before choosing
        page.wait_for_function(
            "() => [...document.querySelectorAll('.acm-resolve-form')]"
            ".every(f => f.getAttribute('data-ready') !== 'false')"
        )
        strategy = form.locator("select.acm-strategy")
        # the plan's choice for this conflict is dwell (acm resolve --plan)
        assert strategy.input_value() == "dwell", f"pre-selected {strategy.input_value()!r}"
        strategy.select_option("priority")
        order = form.locator(".acm-option[data-option='order']")
        if order.count() and not order.first.input_value().strip():
            order.first.fill("Security,Lighting")  # priority needs an order (docs/strategies.md)
        with page.expect_response(lambda r: r.url.endswith("/acm/resolve")) as resolved:
            form.locator(".acm-apply").click()
        answer = resolved.value
        assert answer.status == 200, f"POST acm/resolve: {answer.status} {answer.text()}"
        body: dict[str, Any] = answer.json()
        added = [n["id"] for n in body["add"]]
        assert any((n.get("acm") or {}).get("role") == "resolver" for n in body["add"]), body
        wait_until(
            page,
            lambda: page.evaluate(
                "(ids) => ids.every(id => RED.nodes.node(id) || RED.nodes.group(id))", added),
            f"the nodes acm/resolve added ({added}) in RED.nodes",
        )
        # the added nodes are all there (Apply imports them in one go): the resolver too
        assert resolver_nodes(page), (
            "no function node with acm.role 'resolver' in RED.nodes although the added nodes"
            f" {added} are there: no `acm` marker, nor a group ACM_MANIFEST\n{describe(page)}"
        )
        return item["id"], body

    # -- apply: resolver added in the editor, workspace dirty, nothing deployed
    conflict, body = apply_priority()
    added = {n["id"] for n in body["add"]}
    resolvers = resolver_nodes(page)
    assert len(resolvers) == 1, resolvers
    assert resolvers[0]["acm"].get("strategy") == "priority", resolvers
    assert resolvers[0]["acm"].get("conflict") == conflict, resolvers
    assert resolvers[0]["id"] in added
    tabs = {n["id"]: n.get("z") for n in body["add"]}
    placed = page.evaluate(
        "(ids) => Object.fromEntries(ids.map(id => [id,"
        " (RED.nodes.node(id) || RED.nodes.group(id) || {}).z]))", list(tabs))
    assert placed == tabs, f"added nodes on the wrong tab (id -> tab): {placed}, expected {tabs}"
    assert page.evaluate("() => RED.nodes.dirty()") is True, "workspace not dirty after Apply"
    assert not page.locator("#red-ui-header-button-deploy").evaluate(
        "e => e.classList.contains('disabled')"), "Deploy button not enabled after Apply"
    for node_id in hall_nodes:  # the actuators are fed only by what was added
        feeding = set(sources_of(page, node_id))
        assert feeding and feeding <= added, \
            f"after Apply, actuator {node_id} is fed by {sorted(feeding)}; expected only" \
            f" nodes that Apply added ({sorted(added)})"
    _, rev = nodered_bridge.deployed_flows()
    assert rev == rev_before and not server_resolvers(nodered_bridge), "Apply deployed"
    # what the editor sends to acm/analyze and to Deploy keeps every ACM marker
    markers = marked(editor_flows(page))
    unmarked = sorted(n["id"] for n in body["add"] if markers.get(n["id"]) != n.get("acm"))
    assert not unmarked, \
        f"the editor's flows lose the `acm` marker of the added nodes {unmarked}"
    # the plugin re-analyses: the editor's flows (resolver included) are now managed
    wait_for_finding(page, HALL, "info", "ACM005")

    # -- Ctrl-Z: one history event takes all of it back
    page.locator("#red-ui-workspace-chart").focus()  # the scope of Node-RED's ctrl-z
    page.keyboard.press("Control+z")
    wait_until(page, lambda: not resolver_nodes(page), "Ctrl-Z to remove the resolver")
    wires_after = editor_wires(page)
    changed = sorted(
        (i, wires_before.get(i), wires_after.get(i))
        for i in set(wires_before) | set(wires_after)
        if wires_before.get(i) != wires_after.get(i)
    )
    assert not changed, f"Ctrl-Z did not restore the nodes and wires (id, before, after): {changed}"
    assert not server_resolvers(nodered_bridge)

    # -- apply again, deploy, analyse: managed, and the runtime has the resolver
    response = analyze(page)
    assert response.status == 200
    wait_for_finding(page, HALL, "error", "ACM001")
    conflict, _ = apply_priority()
    deploy(page)
    deployed = server_resolvers(nodered_bridge)
    assert [n["acm"].get("conflict") for n in deployed] == [conflict], \
        f"GET /flows resolvers after Deploy: {deployed}"
    assert deployed[0]["acm"].get("strategy") == "priority"
    response = analyze(page)
    assert response.status == 200
    wait_for_finding(page, HALL, "info", "ACM005")
    hall = finding_for(page, HALL)
    assert hall is not None and "managed" in hall["text"], describe(page)
    assert page.locator(f".acm-finding[data-id='{hall['id']}'] .acm-resolve").count() == 0
    for key, (severity, _) in EXPECTED_BUILDING.items():
        if key != HALL:  # the other conflicts are untouched
            wait_for_finding(page, key, severity, "ACM001")


def test_missing_python_shows_the_error(bridge_template: Path, page: Page) -> None:
    python = "/nonexistent/acm-e2e/python3"
    nodered = start_bridge(bridge_template, {"python": python})
    try:
        nodered.reset_flows(building_flows())
        open_editor(page, nodered)
        open_sidebar(page)
        response = analyze(page)
        assert response.status == 502, f"POST acm/analyze: {response.status}, expected 502"
        body = response.json()
        assert body.get("python") == python and "error" in body, body
        error = page.locator("#acm-error")
        error.wait_for(state="visible")
        text = error.inner_text()
        assert python in text, f"#acm-error does not name {python}: {text!r}"
        for word in HINT_WORDS:
            assert word in text, f"#acm-error lacks the hint ({word}): {text!r}"
        assert not re.search(r"\n\s*at \S+ \(", text), f"stack trace in #acm-error: {text!r}"
        assert page.locator(".acm-finding").count() == 0
    finally:
        nodered.stop()


def test_login_then_analyze(bridge_template: Path, page: Page) -> None:
    auth = {"token": AUTH_TOKEN,
            "users": [{"username": AUTH_USER, "password": AUTH_PASSWORD, "permissions": "*"}]}
    nodered = start_bridge(bridge_template, {"python": str(VENV_PYTHON)}, auth)
    try:
        nodered.reset_flows(building_flows())
        anonymous = requests.post(f"{nodered.url}/acm/analyze", json={"flows": []}, timeout=10)
        assert anonymous.status_code == 401, f"acm/analyze without a token: {anonymous.status_code}"
        open_editor(page, nodered, login=True)
        open_sidebar(page)
        response = analyze(page)
        assert response.status == 200, f"POST acm/analyze: {response.status} {response.text()}"
        for key, (severity, _) in EXPECTED_BUILDING.items():
            wait_for_finding(page, key, severity)
    finally:
        nodered.stop()


def test_labels_are_not_html(page: Page, nodered_bridge: BridgeNodeRed) -> None:
    nodered_bridge.reset_flows([])
    open_editor(page, nodered_bridge)
    import_flows(page, xss_flows())
    open_sidebar(page)
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.__xss") is None, "the editor itself ran the label"
    response = analyze(page)
    assert response.status == 200, f"POST acm/analyze: {response.status} {response.text()}"
    page.locator(".acm-finding").first.wait_for()
    page.wait_for_timeout(500)  # an injected <img src=x> would fail to load by now
    assert page.evaluate("() => window.__xss") is None, "markup from a tab label was executed"
    assert page.locator("#acm-findings img").count() == 0, "markup from a tab label rendered"
    texts = " ".join(f["text"] for f in findings(page))
    assert XSS_LABEL in texts, f"label not shown literally\n{describe(page)}"
