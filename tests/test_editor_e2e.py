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

from acm.analysis.flows import restore_markers

ROOT = Path(__file__).resolve().parent.parent
BRIDGE = ROOT / "nodered-bridge"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
BUILDING = ROOT / "flows" / "building" / "flows.json"
FLAT = ROOT / "flows" / "editor" / "flows.json"  # core nodes and MQTT only
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
CONSOLE_ERRORS: dict[int, list[str]] = {}  # console.error lines per open page

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


def building_flows() -> Flows:
    flows: Flows = json.loads(BUILDING.read_text(encoding="utf-8"))
    return flows


# -- Node-RED with the plugin ---------------------------------------------------------------


class BridgeNodeRed(NodeRed):
    """Node-RED 4 with the plugin installed in its user dir and an ``acm`` settings block.

    ``template`` is a folder where ``npm install <nodered-bridge>`` was run once per
    session; its ``node_modules`` (a link to the package, for a local folder) is
    reproduced in each instance's fresh user dir before Node-RED starts.
    """

    def __init__(
        self, template: Path, acm: dict[str, Any], auth: dict[str, Any] | None = None,
        version: str = "4",
    ) -> None:
        super().__init__(version, auth)
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
    template: Path, acm: dict[str, Any], auth: dict[str, Any] | None = None,
    version: str = "4",
) -> BridgeNodeRed:
    nodered = BridgeNodeRed(template, acm, auth, version)
    nodered.start()
    return nodered


@pytest.fixture(scope="module")
def nodered_bridge(bridge_template: Path) -> Iterator[BridgeNodeRed]:
    """The Node-RED 4 most tests share; each test deploys the flows it starts from."""
    nodered = start_bridge(bridge_template, {"python": str(VENV_PYTHON)})
    yield nodered
    nodered.stop()


@pytest.fixture(scope="module")
def nodered_bridge5(bridge_template: Path) -> Iterator[BridgeNodeRed]:
    """Node-RED 5 with the plugin, for the tests that run on both versions."""
    reason = missing("5")
    if reason:
        pytest.skip(reason)
    nodered = start_bridge(bridge_template, {"python": str(VENV_PYTHON)}, version="5")
    yield nodered
    nodered.stop()


@pytest.fixture(params=["4", "5"], ids=["nodered4", "nodered5"])
def bridge(request: pytest.FixtureRequest) -> BridgeNodeRed:
    """The test runs on Node-RED 4 and on Node-RED 5 (one instance of each per module)."""
    name = "nodered_bridge" if request.param == "4" else "nodered_bridge5"
    instance: BridgeNodeRed = request.getfixturevalue(name)
    return instance


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


def node_red_badge_race(exc: Any) -> bool:
    """Node-RED's own annotation tooltip (editor-client view/annotations: a badge's
    mouseenter starts a 500 ms timer that reads the badge's position) throws when the
    canvas was redrawn in between and the badge is no longer in the page: a TypeError
    inside its getElementPosition, whoever redrew. Every other error counts."""
    stack = str(getattr(exc, "stack", "") or "")
    return ("reading 'getAttribute'" in str(exc) and "getElementPosition" in stack
            and "/red/red" in stack and "acm-" not in stack)


@pytest.fixture
def page(browser: BrowserContext, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh tab; its screenshot goes to tests/artifacts/<test>.png, pass or fail."""
    tab = browser.new_page()
    errors = PAGE_ERRORS.setdefault(id(tab), [])
    tab.on("pageerror", lambda exc: None if node_red_badge_race(exc) else errors.append(str(exc)))
    console = CONSOLE_ERRORS.setdefault(id(tab), [])
    tab.on("console", lambda msg: console.append(msg.text) if msg.type == "error" else None)
    yield tab
    PAGE_ERRORS.pop(id(tab), None)
    CONSOLE_ERRORS.pop(id(tab), None)
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
    """The rows of the list; ``text`` has the actuator keys and what an opened row shows."""
    result: list[dict[str, str]] = page.evaluate(
        "() => [...document.querySelectorAll('#acm-findings .acm-finding')].map(e =>"
        " ({id: e.dataset.id || '', severity: e.dataset.severity || '',"
        "   text: [e.dataset.code, e.dataset.keys, e.textContent].join('\\n')}))"
    )
    return result


def open_row(page: Page, finding_id: str) -> None:
    """Open the row of a finding (once): its message, paths and Resolve appear."""
    row = page.locator(f".acm-finding[data-id='{finding_id}']")
    if "acm-open" not in (row.get_attribute("class") or ""):
        row.locator(".acm-finding-row").click()
    row.locator(".acm-message").wait_for()


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


def wait_form(page: Page, state: str) -> None:
    """Wait until the open Resolve form is in ``state`` (data-state: ready, refused, invalid)."""
    try:
        page.wait_for_function(
            "(state) => { const f = document.querySelector('.acm-resolve-form');"
            " return f && f.getAttribute('data-state') === state; }", arg=state)
    except PlaywrightError as exc:
        got = page.evaluate(
            "() => { const f = document.querySelector('.acm-resolve-form');"
            " return f ? f.getAttribute('data-state') + ': ' + f.textContent : 'no form'; }")
        raise AssertionError(f"the Resolve form is not {state!r}: {got}") from exc


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


def assert_same_flows(before: Flows, after: Flows) -> None:
    """The exact flows: the same nodes in the same order, each port's wires in order."""
    assert [n["id"] for n in after] == [n["id"] for n in before], "node order differs after Ctrl-Z"
    differ = [(b["id"], b.get("wires"), a.get("wires")) for b, a in zip(before, after, strict=True)
              if b.get("wires") != a.get("wires")]
    assert not differ, f"wires differ after Ctrl-Z (id, before, after): {differ}"
    props = [b["id"] for b, a in zip(before, after, strict=True) if a != b]
    assert not props, f"nodes differ after Ctrl-Z: {props}"


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
    for row in findings(page):  # one line each; opened, a row shows its message and paths
        open_row(page, row["id"])

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
    # node names also for the nodes whose type this editor lacks (Home Assistant, dashboard)
    every_path = " | ".join(page.locator(".acm-path").all_inner_texts())
    assert page.evaluate("() => RED.nodes.filterNodes({type: 'unknown'}).length") > 0
    for missing_type in ("api-call-service", "ui_button", "server-state-changed"):
        assert missing_type not in every_path, f"a path shows the type {missing_type}: {every_path}"
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
        row = page.locator(f".acm-finding[data-id='{item['id']}']")
        if "acm-open" in (row.get_attribute("class") or ""):
            row.locator(".acm-finding-row").click()  # close it: opening reveals
        row.locator(".acm-finding-row").click()
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
    flows_before = page.evaluate("() => RED.nodes.createCompleteNodeSet()")
    hall_nodes = EXPECTED_BUILDING[HALL][1]

    def apply_priority() -> tuple[str, dict[str, Any]]:
        item = finding_for(page, HALL)
        assert item is not None and item["severity"] == "error", describe(page)
        finding = page.locator(f".acm-finding[data-id='{item['id']}']")
        open_row(page, item["id"])
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
        # the form previews the resolution (POST acm/resolve) once it is valid; Apply
        # then applies that answer
        with page.expect_response(lambda r: r.url.endswith("/acm/resolve")
                                  and '"strategy":"priority"' in (r.request.post_data or "")
                                  ) as resolved:
            strategy.select_option("priority")
            order = form.locator(".acm-option[data-option='order']")
            order.fill("Security,Lighting")  # priority needs an order (docs/strategies.md)
        wait_form(page, "ready")
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
    assert_same_flows(flows_before, page.evaluate("() => RED.nodes.createCompleteNodeSet()"))
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
    assert hall is not None, describe(page)
    open_row(page, hall["id"])
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


# -- on Node-RED 4 and 5: the example for a stock Node-RED (flows/editor/flows.json) --------

FLAT_HALL = "mqtt:localhost:1883/flat/hall/light/set"
FLAT_SIREN = "mqtt:localhost:1883/flat/siren/set"
FLAT_SETPOINT = "mqtt:localhost:1883/flat/heater/setpoint"


def flat_flows() -> Flows:
    flows: Flows = json.loads(FLAT.read_text(encoding="utf-8"))
    return flows


def flat_editor(page: Page, nodered: NodeRed) -> None:
    nodered.reset_flows(flat_flows())
    open_editor(page, nodered)
    open_sidebar(page)
    response = analyze(page)
    assert response.status == 200, f"POST acm/analyze: {response.status} {response.text()}"
    wait_for_finding(page, FLAT_HALL, "error")


def open_form(page: Page, key: str) -> str:
    """Open the Resolve form of the finding of actuator ``key``; returns the finding id."""
    item = finding_for(page, key)
    assert item is not None, describe(page)
    open_row(page, item["id"])
    page.locator(f".acm-finding[data-id='{item['id']}'] .acm-resolve").click()
    page.wait_for_function(
        "() => { const f = document.querySelector('.acm-resolve-form');"
        " return f && f.getAttribute('data-ready') === 'true'; }")
    return item["id"]


def test_compact_list_and_filters(page: Page, bridge: BridgeNodeRed) -> None:
    """One line per finding, grouped with counts, filters; usable in a 250-px sidebar."""
    flat_editor(page, bridge)
    rows = findings(page)
    assert [r["severity"] for r in rows] == ["error", "error", "warning"], describe(page)
    headings = page.locator(".acm-severity-heading").all_inner_texts()
    assert headings == ["Errors (2)", "Warnings (1)"], headings
    # folded rows: severity, actuator name, applications on one line; nothing else yet
    for row in page.locator(".acm-finding").all():
        box = row.bounding_box()
        assert box is not None and box["height"] <= 26, f"a folded row is {box} high"
        assert row.locator(".acm-message").count() == 0
    title = page.locator(".acm-title", has_text="flat/hall/light/set")
    hall = page.locator(".acm-finding", has=title)
    assert sorted(hall.locator(".acm-apps").inner_text().split(", ")) == ["Lighting", "Night mode"]
    # the severity filter, with counts, and the text filter (every word, any case)
    options = page.locator("#acm-filter-severity option").all_inner_texts()
    assert options == ["All (3)", "Errors (2)", "Warnings (1)", "Info (0)"], options
    page.locator("#acm-filter-severity").select_option("warning")
    assert [r["severity"] for r in findings(page)] == ["warning"]
    page.locator("#acm-filter-severity").select_option("all")
    page.locator("#acm-filter-text").fill("SIREN night")
    shown = findings(page)
    assert len(shown) == 1 and FLAT_SIREN in shown[0]["text"], describe(page)
    page.locator("#acm-filter-text").fill("no such thing")
    assert findings(page) == [] and page.locator(".acm-empty").is_visible()
    page.locator("#acm-filter-text").fill("")

    # 250 px of sidebar (Node-RED 5 stacks Conflicts above Debug): the filters stay,
    # the list scrolls, an opened row shows its paths and Resolve
    content = page.locator(".acm-sidebar")
    content.evaluate("e => { e.parentElement.dataset.acmHeight = e.parentElement.style.height;"
                     " e.parentElement.style.height = '250px';"
                     " e.parentElement.style.position = 'relative'; }")
    try:
        page.wait_for_function("() => document.querySelector('.acm-sidebar').offsetHeight === 250")
        sidebar = content.bounding_box()
        assert sidebar is not None
        for selector in ("#acm-analyze", "#acm-filter-severity", "#acm-filter-text"):
            box = page.locator(selector).bounding_box()
            bottom = sidebar["y"] + sidebar["height"]
            assert box is not None and box["y"] + box["height"] <= bottom, selector
        listing = page.locator("#acm-findings").bounding_box()
        assert listing is not None and listing["height"] >= 120, f"list area {listing}"
        item = finding_for(page, FLAT_HALL)
        assert item is not None
        open_row(page, item["id"])
        resolve = page.locator(f".acm-finding[data-id='{item['id']}'] .acm-resolve")
        resolve.scroll_into_view_if_needed()
        button = resolve.bounding_box()
        assert button is not None and sidebar["y"] <= button["y"] \
            and button["y"] + button["height"] <= bottom, (button, sidebar)
        paths = page.locator(f".acm-finding[data-id='{item['id']}'] .acm-path").all_inner_texts()
        motion = "Lighting (external): hall motion → on, 5 min, off → junction → hall light"
        assert motion in paths, paths
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"editor-list-250px-nodered{bridge.version}.png"))
    finally:
        content.evaluate("e => { e.parentElement.style.height = e.parentElement.dataset.acmHeight;"
                         " e.parentElement.style.position = ''; }")
    # for the README: the list on the Lighting tab, the hall light opened, without toasts
    page.evaluate("() => { RED.workspaces.show(RED.nodes.filterNodes({type: 'mqtt out'})"
                  ".find(n => n.name === 'hall light').z);"
                  " document.querySelectorAll('.red-ui-notification').forEach(n => n.remove());"
                  " document.querySelector('#acm-findings').scrollTop = 0; }")
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / f"editor-conflicts-nodered{bridge.version}.png"))
    assert not PAGE_ERRORS.get(id(page)), f"JavaScript errors: {PAGE_ERRORS.get(id(page))}"


def test_form_validates_and_refuses_what_cannot_be_resolved(
    page: Page, bridge: BridgeNodeRed
) -> None:
    flat_editor(page, bridge)
    requests_sent: list[str] = []
    page.on("request", lambda r: requests_sent.append(r.post_data or "")
            if r.url.endswith("/acm/resolve") else None)
    # the siren is published from inside the Siren subflow by its own inject: a resolver
    # can only stand in front of the subflow's instances, so ACM cannot resolve it
    open_form(page, FLAT_SIREN)
    form = page.locator(".acm-resolve-form")
    note = form.locator(".acm-plan-note").inner_text()
    assert note.startswith("Not resolved by the policies: actuator node"), note
    wait_form(page, "refused")
    verdict = form.locator(".acm-form-error").inner_text()
    assert verdict.startswith("ACM cannot resolve this conflict: actuator node "), verdict
    assert "inside subflow" in verdict and "--set" not in verdict, verdict
    assert form.locator(".acm-apply").is_disabled()
    # Node-RED's form rows: a label for each input, the required option marked
    rows = form.locator(".form-row")
    assert rows.count() >= 2
    for i in range(rows.count()):
        assert rows.nth(i).locator("label").count() == 1
    assert form.locator(".form-row label[for='acm-option-min'] .acm-required").count() == 1
    # validation before anything is sent: an empty required option, a bad duration
    sent = len(requests_sent)
    form.locator(".acm-option[data-option='min']").fill("")
    wait_form(page, "invalid")
    assert form.locator(".acm-form-error").inner_text() == "min: required"
    assert form.locator(".acm-option[data-option='min']").evaluate(
        "e => e.classList.contains('input-error')")
    form.locator(".acm-option[data-option='min']").fill("soon")
    wait_form(page, "invalid")
    assert "a duration such as 30s" in form.locator(".acm-form-error").inner_text()
    assert form.locator(".acm-apply").is_disabled()
    page.wait_for_timeout(500)
    assert len(requests_sent) == sent, "an invalid form was sent to acm/resolve"
    form.locator(".acm-cancel").click()

    # a conflict that can be resolved: the plan's dwell, Apply enabled once checked
    open_form(page, FLAT_SETPOINT)
    wait_form(page, "ready")
    form = page.locator(".acm-resolve-form")
    assert form.locator("select.acm-strategy").input_value() == "dwell"
    assert form.locator(".acm-option[data-option='min']").input_value() == "1m"
    assert form.locator(".acm-apply").is_enabled()
    # an unknown application in priority's order is said before Apply
    form.locator("select.acm-strategy").select_option("priority")
    form.locator(".acm-option[data-option='order']").fill("Heating, Nobody")
    wait_form(page, "invalid")
    assert "no application named Nobody" in form.locator(".acm-form-error").inner_text()
    assert not PAGE_ERRORS.get(id(page)), f"JavaScript errors: {PAGE_ERRORS.get(id(page))}"


def test_undo_restores_the_exact_flows_with_a_clean_console(
    page: Page, bridge: BridgeNodeRed
) -> None:
    flat_editor(page, bridge)
    before = page.evaluate("() => RED.nodes.createCompleteNodeSet()")
    open_form(page, FLAT_HALL)  # through the junction of the Lighting tab
    wait_form(page, "ready")
    depth = page.evaluate("() => RED.history.list().length")
    console = CONSOLE_ERRORS.setdefault(id(page), [])
    console.clear()
    page.locator(".acm-resolve-form .acm-apply").click()
    wait_until(page, lambda: bool(resolver_nodes(page)), "Apply to add the resolver")
    assert page.evaluate("() => RED.history.list().length") == depth + 1, \
        "Apply is not ONE history event"
    resolved = page.evaluate("() => RED.nodes.createCompleteNodeSet()")
    page.locator("#red-ui-workspace-chart").focus()  # the scope of Node-RED's Ctrl-Z
    page.keyboard.press("Control+z")
    wait_until(page, lambda: not resolver_nodes(page), "Ctrl-Z to remove the resolver")
    assert_same_flows(before, page.evaluate("() => RED.nodes.createCompleteNodeSet()"))
    # redo gives the resolved flows back, undo again the original ones
    page.locator("#red-ui-workspace-chart").focus()
    page.keyboard.press("Control+y")
    wait_until(page, lambda: bool(resolver_nodes(page)), "Ctrl-Y to bring the resolver back")
    assert page.evaluate("() => RED.nodes.createCompleteNodeSet()") == resolved
    page.keyboard.press("Control+z")
    wait_until(page, lambda: not resolver_nodes(page), "Ctrl-Z again")
    assert_same_flows(before, page.evaluate("() => RED.nodes.createCompleteNodeSet()"))
    page.wait_for_timeout(300)
    assert not console, f"console errors during Apply / undo / redo: {console}"
    assert not PAGE_ERRORS.get(id(page)), f"JavaScript errors: {PAGE_ERRORS.get(id(page))}"


# -- hostile text from the flows, on Node-RED 4 and 5 ---------------------------------------

HOSTILE = "<img src=x onerror=window.__xss=(window.__xss||0)+1>"


def hostile_flows() -> Flows:
    """Markup in a tab label, node names, an MQTT topic, a Home Assistant entity id and
    a subflow name: all of it reaches the list, the paths, the form, the badges' tooltips
    and the notification after Apply."""
    broker = "e2e000000000hb01"

    def team(n: int, payload: str) -> Flows:
        z, inject, out, ha = (f"e2e000000000h{n}0{x}" for x in "zioa")
        return [
            {"id": z, "type": "tab", "label": f"Team {n} {HOSTILE}", "disabled": False, "info": ""},
            {"id": inject, "type": "inject", "z": z, "name": f"{HOSTILE} trigger {n}",
             "props": [{"p": "payload"}], "repeat": "", "crontab": "00 03 1 1 *", "once": False,
             "onceDelay": 0.1, "topic": "", "payload": payload, "payloadType": "str",
             "x": 160, "y": 100, "wires": [[out, ha]]},
            {"id": out, "type": "mqtt out", "z": z, "name": f"lamp {HOSTILE}",
             "topic": f"home/{HOSTILE}/set", "qos": "", "retain": "", "broker": broker,
             "x": 420, "y": 100, "wires": []},
            {"id": ha, "type": "api-call-service", "z": z, "name": "", "server": "",
             "domain": "light", "service": f"turn_{payload}",
             "entityId": [f"light.x{HOSTILE}"], "data": "", "dataType": "json",
             "x": 420, "y": 160, "wires": [[]]},
        ]

    return [
        *team(1, "on"),
        *team(2, "off"),
        {"id": broker, "type": "mqtt-broker", "name": HOSTILE, "broker": "mqtt.xss.local",
         "port": "1883"},
    ]


def assert_nothing_ran(page: Page, where: str) -> None:
    page.wait_for_timeout(300)  # an injected <img src=x> fails to load by now
    assert page.evaluate("() => window.__xss") is None, f"markup from the flows ran ({where})"
    count = page.evaluate(
        "() => document.querySelectorAll('#acm-findings img, .acm-sidebar img,"
        " .red-ui-notification img, .red-ui-flow-port-tooltip img').length")
    assert count == 0, f"markup from the flows became elements ({where})"


def test_hostile_text_stays_text(page: Page, bridge: BridgeNodeRed) -> None:
    bridge.reset_flows(hostile_flows())
    open_editor(page, bridge)
    open_sidebar(page)
    assert_nothing_ran(page, "the editor itself")
    response = analyze(page)
    assert response.status == 200, f"POST acm/analyze: {response.status} {response.text()}"
    page.locator(".acm-finding").first.wait_for()
    for row in findings(page):
        open_row(page, row["id"])
    assert_nothing_ran(page, "the list and its paths")
    texts = page.locator("#acm-findings").inner_text()
    assert f"home/{HOSTILE}/set" in texts, texts      # the topic, literally
    assert f"light.x{HOSTILE}" in texts, texts         # the entity id
    assert f"Team 1 {HOSTILE}" in texts, texts         # the application
    assert f"{HOSTILE} trigger 1 → lamp {HOSTILE}" in texts, texts  # node names in a path
    # the filter with markup in it
    page.locator("#acm-filter-text").fill(HOSTILE)
    assert findings(page), "the filter does not find the markup as text"
    page.locator("#acm-filter-text").fill("")
    assert_nothing_ran(page, "the filter")
    # a badge's tooltip on the canvas
    page.evaluate("() => RED.workspaces.show('e2e000000000h10z')")
    badge = page.locator(".acm-conflict-badge:not(.hide)").first
    badge.wait_for()
    badge.hover()
    page.wait_for_timeout(400)
    assert_nothing_ran(page, "a badge's tooltip")
    # the form: the application names in a validation error
    item = finding_for(page, f"mqtt:mqtt.xss.local:1883/home/{HOSTILE}/set")
    assert item is not None, describe(page)
    page.locator(f".acm-finding[data-id='{item['id']}'] .acm-resolve").click()
    form = page.locator(".acm-resolve-form")
    wait_form(page, "ready")
    form.locator("select.acm-strategy").select_option("priority")
    form.locator(".acm-option[data-option='order']").fill(f"{HOSTILE},x")
    wait_form(page, "invalid")
    assert f"no application named {HOSTILE}" in form.locator(".acm-form-error").inner_text()
    assert_nothing_ran(page, "a validation error")
    # Apply: the notification names the actuator, whose name is the topic
    form.locator("select.acm-strategy").select_option("dwell")
    form.locator(".acm-option[data-option='min']").fill("1m")
    wait_form(page, "ready")
    form.locator(".acm-apply").click()
    note = page.locator(".red-ui-notification", has_text="resolver inserted")
    note.wait_for()
    assert f"home/{HOSTILE}/set" in note.inner_text(), note.inner_text()
    assert_nothing_ran(page, "the notification after Apply")
    page.locator(".acm-finding").first.wait_for()
    assert_nothing_ran(page, "the list after Apply")
    assert not PAGE_ERRORS.get(id(page)), f"JavaScript errors: {PAGE_ERRORS.get(id(page))}"
