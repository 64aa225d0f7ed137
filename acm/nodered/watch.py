"""``acm watch``: follow deploys on running Node-RED runtimes and report what changed.

A :class:`Watcher` reads every watched runtime's flows once (Admin API v2,
``GET /flows``), analyses the whole site, then keeps one websocket per runtime
open on the editor's ``/comms`` endpoint. When a runtime announces a deploy
(``notification/runtime-deploy`` with the new ``revision``), the watcher reads
that runtime's flows again, re-analyses every runtime together (with the
model's applications when a model is given) and hands an :class:`Event` to the
caller: the conflicts that appeared, those that went away, those whose
severity changed, and whether the running flows drift from the model's flows
file. A lost connection is retried with exponential back-off; on reconnecting
the flows are read again, so a deploy made while the runtime was out of sight is
still reported.

The ``/comms`` protocol, as Node-RED 4 and 5 speak it (editor-api
``lib/editor/comms.js``):

- the websocket lives at ``<admin root>/comms`` and only while the editor is
  enabled (``disableEditor: true`` removes it);
- with ``adminAuth`` on, the connection is *pending* until the client's first
  frame: ``{"auth": "<token>"}`` is answered ``{"auth": "ok"}`` (the token needs
  ``status.read``) or ``{"auth": "fail"}`` and a close; any other first frame
  is accepted only if the settings grant anonymous users a default permission;
- without ``adminAuth`` the connection is active at once, and an auth frame
  *crashes the runtime* (Node-RED 4.1 and 5.0: an uncaught TypeError in
  ``auth/tokens.js``), so the token is sent only when ``GET /auth/login``,
  asked before every connection, names a login scheme;
- the server sends every published message to every active connection;
  ``{"subscribe": topic}`` (what the editor sends after connecting) only replays
  the *retained* messages matching it. We subscribe to
  ``notification/runtime-deploy``: it completes an anonymous connection and
  replays the current revision, which tells a reconnect whether it missed a deploy;
- server frames are JSON arrays of ``{"topic", "data"}`` (batched every 50 ms),
  except the auth answers, which are single objects; ``hb`` arrives every 15 s
  when nothing else was sent.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import websockets

from ..analysis.findings import Finding, Report
from ..analysis.flows import Flows, flows_from_data, load_flows
from ..engine import analyze_flows, model_applications
from ..errors import AcmError, ModelError
from ..model import Model
from ..output.json_format import conflict as conflict_document
from ..rules.ruleset import RuleSet, load_ruleset
from ..version import __version__
from .admin_api import AdminClient, NodeRedError, public_url
from .site import client_for

try:  # websockets >= 13
    from websockets.asyncio.client import connect as ws_connect
except ImportError:  # pragma: no cover - the legacy client of websockets 12
    from websockets.client import connect as ws_connect  # type: ignore[attr-defined,no-redef]

__all__ = [
    "SCHEMA",
    "Drift",
    "Event",
    "WatchedRuntime",
    "Watcher",
    "flows_drift",
    "comms_url",
    "ssl_context",
    "runtime_for_url",
    "runtimes_from_model",
]

SCHEMA = "acm.watch/1"
DEPLOY_TOPIC = "notification/runtime-deploy"
BACKOFF_START = 0.5
BACKOFF_CAP = 10.0
# Node-RED keeps the credentials of a node out of GET /flows; a flows file may carry them.
IGNORED_KEYS = frozenset({"credentials"})


@dataclass(frozen=True)
class WatchedRuntime:
    """One Node-RED to follow: ``id`` (the model's runtime id), its editor ``url``,
    an ``adminAuth`` bearer ``token`` (never shown) and the TLS ``verify`` setting
    (``True``, a CA bundle path, or ``False``)."""

    id: str
    url: str
    token: str | None = field(default=None, repr=False)
    verify: bool | str = True


class CommsError(NodeRedError):
    """The ``/comms`` websocket refused us for good (authentication, no editor)."""


# -- drift -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drift:
    """How the running flows differ from a flows file, by node id.

    ``added``: running but not in the file; ``removed``: in the file but not
    running; ``changed``: in both with different properties. The order of the
    nodes in the list does not count; every property of a node does, except
    ``credentials``.
    """

    flows_file: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    @property
    def drifted(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def summary(self) -> str:
        if not self.drifted:
            return f"the running flows match {self.flows_file}"
        parts = []
        for word, ids in (("added", self.added), ("removed", self.removed),
                          ("changed", self.changed)):
            if ids:
                shown = ", ".join(ids[:8]) + (f", … (+{len(ids) - 8})" if len(ids) > 8 else "")
                parts.append(f"{len(ids)} {word} ({shown})")
        return f"the running flows differ from {self.flows_file}: " + "; ".join(parts)

    def document(self) -> dict[str, Any]:
        return {"flows_file": self.flows_file, "added": list(self.added),
                "removed": list(self.removed), "changed": list(self.changed)}


def flows_drift(running: Sequence[Mapping[str, Any]], expected: Sequence[Mapping[str, Any]],
                flows_file: str) -> Drift:
    """Compare the running nodes with the expected ones (see :class:`Drift`)."""

    def index(nodes: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        return {str(n.get("id")): {k: v for k, v in n.items() if k not in IGNORED_KEYS}
                for n in nodes if isinstance(n, Mapping)}

    now, want = index(running), index(expected)
    return Drift(
        flows_file,
        added=tuple(sorted(set(now) - set(want))),
        removed=tuple(sorted(set(want) - set(now))),
        changed=tuple(sorted(i for i in set(now) & set(want) if now[i] != want[i])),
    )


# -- events ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """What one deploy on ``runtime`` changed.

    ``new``/``gone``: findings (over the whole site) that appeared / disappeared,
    by finding id; ``changed``: ``(before, after)`` pairs of findings whose
    severity or applications changed. ``drift`` is ``None`` when there is no
    flows file to compare with (no model, or it could not be read). ``error``
    says why the new flows could not be analysed (the findings are then those
    of the previous revision).
    """

    runtime: str
    url: str
    revision: str
    previous_revision: str | None
    new: tuple[Finding, ...]
    gone: tuple[Finding, ...]
    changed: tuple[tuple[Finding, Finding], ...]
    drift: Drift | None
    report: Report = field(repr=False)
    previous: Report = field(repr=False)
    time: str = ""
    error: str | None = None

    def document(self) -> dict[str, Any]:
        """The ``acm.watch/1`` object (one line of ``acm watch --json``)."""
        counts = self.report.stats.get("findings", {})
        return {
            "schema": SCHEMA,
            "tool": {"name": "acm", "version": __version__},
            "type": "deploy",
            "time": self.time,
            "runtime": self.runtime,
            "url": self.url,
            "revision": self.revision,
            "previous_revision": self.previous_revision,
            "new": [conflict_document(f, self.report) for f in self.new],
            "gone": [conflict_document(f, self.previous) for f in self.gone],
            "changed": [
                {**conflict_document(after, self.report), "previous_severity": before.severity,
                 "previous_applications": list(before.applications)}
                for before, after in self.changed
            ],
            "conflicts": len(self.report.findings),
            "findings": dict(counts),
            "drift": None if self.drift is None else self.drift.drifted,
            "drift_detail": None if self.drift is None else self.drift.document(),
            "error": self.error,
        }

    def text(self) -> str:
        """The event for people: a header line, then one line per change."""
        was = f" (was {self.previous_revision[:12]})" if self.previous_revision else ""
        stamp = self.time[11:19] if len(self.time) >= 19 else self.time
        lines = [f"[{stamp}] {self.runtime}: deployed rev {self.revision[:12]}{was}"]
        if self.error:
            lines.append(f"  cannot analyse the new flows: {self.error}")
        for f in self.new:
            lines.append(f"  + new   {f.id} {f.severity} ({f.rule}): {f.message}")
        for f in self.gone:
            lines.append(f"  - gone  {f.id} {f.severity} ({f.rule}): {f.message}")
        for before, after in self.changed:
            lines.append(f"  ~ {after.id} {before.severity} -> {after.severity} "
                         f"({after.rule}): {after.message}")
        if not (self.new or self.gone or self.changed or self.error):
            lines.append("  conflicts unchanged")
        if self.drift is not None:
            lines.append(f"  drift: {self.drift.summary()}")
        counts = self.report.stats.get("findings", {})
        detail = ", ".join(f"{n} {lvl}" for lvl in ("error", "warning", "info")
                           if (n := counts.get(lvl)))
        lines.append(f"  now {len(self.report.findings)} conflict(s)"
                     + (f" ({detail})" if detail else ""))
        return "\n".join(lines)


def compare(before: Report, after: Report) -> tuple[
        tuple[Finding, ...], tuple[Finding, ...], tuple[tuple[Finding, Finding], ...]]:
    """``(new, gone, changed)`` between two reports, by finding id."""
    old = {f.id: f for f in before.findings}
    now = {f.id: f for f in after.findings}
    new = tuple(f for i, f in now.items() if i not in old)
    gone = tuple(f for i, f in old.items() if i not in now)
    changed = tuple((old[i], f) for i, f in now.items() if i in old and (
        old[i].severity != f.severity or set(old[i].applications) != set(f.applications)))
    return new, gone, changed


# -- transport pieces ----------------------------------------------------------------------


def comms_url(url: str) -> str:
    """The ``/comms`` websocket of the editor at ``url`` (http -> ws, https -> wss)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise NodeRedError("not a valid http(s) URL", public_url(url))
    scheme = "wss" if parts.scheme == "https" else "ws"
    path = parts.path.rstrip("/") + "/comms"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def ssl_context(verify: bool | str) -> ssl.SSLContext:
    """A client TLS context matching ``requests``' ``verify``: ``True`` (system CAs, or
    ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` when set), a CA bundle path, or ``False``."""
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    cafile = verify if isinstance(verify, str) else (
        os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None)
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise NodeRedError(f"cannot load the CA file: {getattr(exc, 'strerror', None) or exc}",
                           str(cafile)) from None


def _reason(exc: BaseException) -> str:
    """One line on why a websocket failed; never a URL with credentials or a token."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS error: {exc.verify_message or 'certificate verification failed'}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or type(exc).__name__}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return "no answer in time"
    status = getattr(getattr(exc, "response", None), "status_code", None) or getattr(
        exc, "status_code", None)
    if status is not None:
        return f"HTTP {status} instead of a websocket upgrade"
    if isinstance(exc, websockets.exceptions.InvalidHandshake):
        return "no websocket upgrade answer"
    if isinstance(exc, websockets.exceptions.ConnectionClosed):
        return "the connection closed"
    if isinstance(exc, NodeRedError):
        return exc.what
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__


def admin_auth_enabled(client: AdminClient) -> bool:
    """Whether the runtime has ``adminAuth`` on: ``GET /auth/login`` names a login scheme.

    Only a positive answer counts. Node-RED 4 and 5 without ``adminAuth`` *crash*
    (an uncaught TypeError in ``auth/tokens.js``) when a ``/comms`` client sends an
    auth frame, so the token goes over the websocket only when this says yes.
    """
    scheme = client._call("GET", "/auth/login", send_token=False)
    return isinstance(scheme, dict) and bool(scheme.get("type"))


def _is_fatal(exc: NodeRedError) -> bool:
    """Errors that waiting will not fix: credentials, permissions."""
    return isinstance(exc, CommsError) or exc.status in (401, 403)


def _frames(raw: str | bytes) -> list[dict[str, Any]]:
    """The messages in one server frame (an auth answer is one object, the rest arrays)."""
    try:
        data = json.loads(raw)
    except ValueError:
        return []
    items = data if isinstance(data, list) else [data]
    return [m for m in items if isinstance(m, dict)]


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the watcher -------------------------------------------------------------------------


class Watcher:
    """Follow the deploys of ``runtimes``; see the module documentation.

    ``model``: analyse with its applications, actuators and zones, include the
    runtimes it lists but that are not watched (from their flows files), and
    compare the running flows with each runtime's flows file (drift).
    ``log`` receives one line per state change (connected, lost, reconnected …);
    it never contains a token.
    """

    def __init__(
        self,
        runtimes: Sequence[WatchedRuntime],
        model: Model | None = None,
        ruleset: RuleSet | None = None,
        *,
        log: Callable[[str], None] | None = None,
        backoff: tuple[float, float] = (BACKOFF_START, BACKOFF_CAP),
        open_timeout: float = 10.0,
        http_timeout: float = 10.0,
    ) -> None:
        if not runtimes:
            raise AcmError("nothing to watch: give --url, or a model whose runtimes have a url")
        ids = [r.id for r in runtimes]
        if len(set(ids)) != len(ids):
            raise AcmError(f"runtime ids must be unique: {', '.join(ids)}")
        self.runtimes = tuple(runtimes)
        self.model = model
        self.ruleset = ruleset or load_ruleset()
        self.log = log or (lambda line: None)
        self.backoff = backoff
        self.open_timeout = open_timeout
        self.clients = {r.id: AdminClient(r.url, token=r.token, verify=r.verify,
                                          timeout=http_timeout) for r in runtimes}
        self.connected: set[str] = set()  # runtimes whose websocket is up now
        self.report: Report | None = None
        self.revisions: dict[str, str] = {}
        self._live: dict[str, list[dict[str, Any]]] = {}
        self._static: dict[str, Flows] = {}
        self._apps_warning: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._lock: asyncio.Lock | None = None
        self._stop_requested = threading.Event()

    # -- state -------------------------------------------------------------------------

    def prime(self) -> Report:
        """Read every watched runtime's flows and analyse the site (the baseline)."""
        if self.model is not None:
            watched = {r.id for r in self.runtimes}
            self._static = {r.id: load_flows(r.flows) for r in self.model.runtimes
                            if r.id not in watched}
        for rt in self.runtimes:
            client = self.clients[rt.id]
            flows, rev = client.get_flows()
            self._live[rt.id], self.revisions[rt.id] = flows, rev
        self.report = self._analyse()
        for rt in self.runtimes:
            drift = self._drift(rt.id)
            note = f"; drift: {drift.summary()}" if drift is not None else ""
            self.log(f"{rt.id}: at rev {self.revisions[rt.id][:12]}, "
                     f"{len(self.report.findings)} conflict(s) on the site{note}")
        return self.report

    def _sources(self) -> dict[str, Flows]:
        order = [r.id for r in self.model.runtimes] if self.model else []
        order += [r.id for r in self.runtimes if r.id not in order]
        urls = {r.id: public_url(r.url) for r in self.runtimes}
        out: dict[str, Flows] = {}
        for rid in order:
            if rid in self._live:
                out[rid] = flows_from_data(self._live[rid], urls[rid])
            elif rid in self._static:
                out[rid] = self._static[rid]
        return out

    def _analyse(self) -> Report:
        sources = self._sources()
        apps = None
        if self.model is not None:
            try:
                apps = model_applications(self.model, sources)
                self._apps_warning = None
            except ModelError as exc:
                if str(exc) != self._apps_warning:
                    self.log(f"warning: the model's applications do not fit the running flows "
                             f"({exc}); one application per tab instead")
                self._apps_warning = str(exc)
        return analyze_flows(sources, self.ruleset, apps, model=self.model)

    def _drift(self, runtime: str) -> Drift | None:
        declared = self.model.runtime(runtime) if self.model else None
        if declared is None:
            return None
        try:
            expected = load_flows(declared.flows)
        except AcmError as exc:
            self.log(f"{runtime}: cannot compare with the flows file: {exc}")
            return None
        return flows_drift(self._live[runtime], expected.nodes, str(declared.flows))

    def _change(self, runtime: str, flows: list[dict[str, Any]], rev: str) -> Event:
        """Take the new flows of ``runtime`` and say what changed (runs in a worker thread)."""
        assert self.report is not None
        before, previous_rev = self.report, self.revisions.get(runtime)
        old_flows = self._live[runtime]
        self._live[runtime], self.revisions[runtime] = flows, rev
        error = None
        try:
            after = self._analyse()
        except AcmError as exc:
            error, after = str(exc), before
            self._live[runtime] = old_flows  # keep analysing what we could read
        self.report = after
        new, gone, changed = compare(before, after)
        if error is None:
            drift = self._drift(runtime)
        else:
            drift = None
        url = public_url(next(r.url for r in self.runtimes if r.id == runtime))
        return Event(runtime, url, rev, previous_rev, new, gone, changed, drift, after, before,
                     _now(), error)

    # -- running -----------------------------------------------------------------------

    def stop(self) -> None:
        """Ask :meth:`run` to return (from any thread)."""
        self._stop_requested.set()
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            try:
                loop.call_soon_threadsafe(stopping.set)
            except RuntimeError:  # the loop is already closed
                pass

    def watch(self, on_event: Callable[[Event], None], *, once: bool = False,
              timeout: float | None = None) -> int:
        """:meth:`run` in a fresh event loop (for callers without one)."""
        return asyncio.run(self.run(on_event, once=once, timeout=timeout))

    async def run(self, on_event: Callable[[Event], None], *, once: bool = False,
                  timeout: float | None = None) -> int:
        """Follow the runtimes until :meth:`stop`, ``timeout`` seconds, or (``once``) the
        first event; returns how many events were reported. Raises :class:`NodeRedError`
        when a runtime cannot be read at the start or refuses the credentials."""
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._lock = asyncio.Lock()
        if self._stop_requested.is_set():
            return 0
        count = 0

        def emit(event: Event) -> None:
            nonlocal count
            count += 1
            on_event(event)
            if once:
                assert self._stopping is not None
                self._stopping.set()

        if self.report is None:
            await asyncio.to_thread(self.prime)
        tasks = [asyncio.create_task(self._follow(rt, emit), name=f"watch {rt.id}")
                 for rt in self.runtimes]
        stopper = asyncio.create_task(self._stopping.wait())
        try:
            done, _ = await asyncio.wait([*tasks, stopper], timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (*tasks, stopper):
                task.cancel()
            await asyncio.gather(*tasks, stopper, return_exceptions=True)
            self.connected.clear()
        for task in tasks:
            if task in done and not task.cancelled():
                failure = task.exception()
                if failure is not None:
                    raise failure
        return count

    async def _follow(self, rt: WatchedRuntime, emit: Callable[[Event], None]) -> None:
        """Keep ``rt``'s websocket open; reconnect with back-off; returns only by raising."""
        url = comms_url(rt.url)
        shown = public_url(url)
        context = ssl_context(rt.verify) if url.startswith("wss:") else None
        start, cap = self.backoff
        delay = start
        ever_connected = False
        down_reason: str | None = None
        while True:
            try:
                # Asked before every connection: the runtime may have restarted with other
                # settings, and an auth frame to a Node-RED without adminAuth crashes it.
                send_auth = bool(rt.token) and await asyncio.to_thread(
                    admin_auth_enabled, self.clients[rt.id])
                async with ws_connect(url, ssl=context, open_timeout=self.open_timeout,
                                      close_timeout=2) as ws:
                    await self._handshake(ws, rt, send_auth)
                    self.connected.add(rt.id)
                    delay = start
                    if not ever_connected:
                        self.log(f"{rt.id}: connected to {shown}")
                    else:
                        self.log(f"{rt.id}: reconnected to {shown}")
                    ever_connected, down_reason = True, None
                    await self._check(rt, None, emit)  # a deploy missed while away
                    async for raw in ws:
                        for message in _frames(raw):
                            if message.get("auth") == "fail":
                                raise CommsError(
                                    "the /comms websocket ended the session (token expired "
                                    "or revoked)", shown)
                            if message.get("topic") == DEPLOY_TOPIC:
                                data = message.get("data")
                                revision = data.get("revision") if isinstance(data, dict) \
                                    else None
                                await self._check(rt, revision if isinstance(revision, str)
                                                  else None, emit)
                reason = "the server closed the connection"
            except asyncio.CancelledError:
                raise
            except NodeRedError as exc:
                if _is_fatal(exc) or not ever_connected:
                    raise
                reason = _reason(exc)
            except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException) \
                    as exc:
                if not ever_connected:
                    raise NodeRedError(f"cannot open the /comms websocket: {_reason(exc)} "
                                       "(is the editor enabled? disableEditor: true removes "
                                       "/comms)", shown) from None
                reason = _reason(exc)
            finally:
                self.connected.discard(rt.id)
            if down_reason is None:
                self.log(f"{rt.id}: connection lost ({reason}); reconnecting with back-off")
            elif reason != down_reason:
                self.log(f"{rt.id}: still away ({reason})")
            down_reason = reason
            await asyncio.sleep(delay)
            delay = min(delay * 2, cap)

    async def _handshake(self, ws: Any, rt: WatchedRuntime, send_auth: bool) -> None:
        """Authenticate (when adminAuth is on) and subscribe as the editor does."""
        if send_auth:
            await ws.send(json.dumps({"auth": rt.token}))
            try:
                raw = await asyncio.wait_for(ws.recv(), self.open_timeout)
            except websockets.exceptions.ConnectionClosed:
                raw = ""
            answers = [m.get("auth") for m in _frames(raw)]
            if "ok" not in answers:
                raise CommsError("the /comms websocket refused the token (wrong, expired, or "
                                 "lacking status.read)", public_url(comms_url(rt.url)), 401)
        await ws.send(json.dumps({"subscribe": DEPLOY_TOPIC}))

    async def _check(self, rt: WatchedRuntime, revision: str | None,
                     emit: Callable[[Event], None]) -> None:
        """Read ``rt``'s flows unless ``revision`` is the one we know; emit what changed."""
        assert self._lock is not None
        async with self._lock:
            if revision is not None and revision == self.revisions.get(rt.id):
                return  # the retained notification replayed on subscribe, or a no-op deploy
            flows, rev = await asyncio.to_thread(self.clients[rt.id].get_flows)
            if rev == self.revisions.get(rt.id):
                return
            event = await asyncio.to_thread(self._change, rt.id, flows, rev)
        emit(event)


# -- building the list of runtimes -----------------------------------------------------------


def runtimes_from_model(model: Model, urls: Sequence[str] = (),
                        ca_file: str | None = None) -> list[WatchedRuntime]:
    """The model's runtimes that have a ``url`` (only those matching ``urls`` if given),
    with their credentials and TLS settings as ``acm deploy`` reads them
    (:func:`acm.nodered.site.client_for`); ``ca_file`` applies to runtimes without ``tls``."""
    wanted = {u.rstrip("/") for u in urls}
    chosen = [r for r in model.runtimes if r.url and (not wanted or r.url.rstrip("/") in wanted)]
    missing = wanted - {r.url.rstrip("/") for r in chosen if r.url}
    if missing:
        raise AcmError(f"no runtime of model {model.path} has url "
                       f"{', '.join(public_url(u) for u in sorted(missing))}")
    out = []
    for runtime in chosen:
        client = client_for(runtime, model)
        verify = ca_file if ca_file and not runtime.tls else client.verify
        out.append(WatchedRuntime(runtime.id, client.url, client.token, verify))
    return out


def runtime_for_url(url: str, token: str | None, verify: bool | str) -> WatchedRuntime:
    """A runtime given by ``--url`` alone; its id is ``host:port``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise AcmError("not a valid http(s) URL", public_url(url))
    return WatchedRuntime(parts.netloc.rpartition("@")[2], url, token, verify)

