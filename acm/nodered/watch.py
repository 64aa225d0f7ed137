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

The websocket protocol is in :mod:`acm.nodered.comms`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import websockets

from ..analysis.drift import Drift, flows_drift
from ..analysis.findings import Report
from ..analysis.flows import Flows, flows_from_data, load_flows
from ..engine import analyze_flows, model_applications
from ..errors import AcmError, ModelError
from ..model import Model
from ..output.events import Event, compare
from ..rules.ruleset import RuleSet, load_ruleset
from .admin_api import AdminClient, NodeRedError, public_url
from .comms import (
    DEPLOY_TOPIC,
    CommsError,
    WatchedRuntime,
    admin_auth_enabled,
    comms_url,
    failure_reason,
    handshake,
    is_fatal,
    parse_frames,
    ssl_context,
)
from .connect import client_for, client_for_url

try:  # websockets >= 13
    from websockets.asyncio.client import connect as ws_connect
except ImportError:  # pragma: no cover - the legacy client of websockets 12
    from websockets.client import connect as ws_connect  # type: ignore[attr-defined,no-redef]

__all__ = ["Watcher", "runtime_for_url", "runtimes_from_model", "runtimes_from_urls"]

BACKOFF_START = 0.5
BACKOFF_CAP = 10.0


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
                    await handshake(ws, rt, send_auth, self.open_timeout)
                    self.connected.add(rt.id)
                    delay = start
                    if not ever_connected:
                        self.log(f"{rt.id}: connected to {shown}")
                    else:
                        self.log(f"{rt.id}: reconnected to {shown}")
                    ever_connected, down_reason = True, None
                    await self._check(rt, None, emit)  # a deploy missed while away
                    await self._listen(ws, rt, shown, emit)
                reason = "the server closed the connection"
            except asyncio.CancelledError:
                raise
            except NodeRedError as exc:
                if is_fatal(exc) or not ever_connected:
                    raise
                reason = failure_reason(exc)
            except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException) \
                    as exc:
                if not ever_connected:
                    raise NodeRedError(f"cannot open the /comms websocket: {failure_reason(exc)} "
                                       "(is the editor enabled? disableEditor: true removes "
                                       "/comms)", shown) from None
                reason = failure_reason(exc)
            finally:
                self.connected.discard(rt.id)
            if down_reason is None:
                self.log(f"{rt.id}: connection lost ({reason}); reconnecting with back-off")
            elif reason != down_reason:
                self.log(f"{rt.id}: still away ({reason})")
            down_reason = reason
            await asyncio.sleep(delay)
            delay = min(delay * 2, cap)

    async def _listen(self, ws: Any, rt: WatchedRuntime, shown: str,
                      emit: Callable[[Event], None]) -> None:
        """Read ``rt``'s open websocket until it closes; check the flows on every deploy
        notification, and end with a :class:`CommsError` if the session is revoked."""
        async for raw in ws:
            for message in parse_frames(raw):
                if message.get("auth") == "fail":
                    raise CommsError("the /comms websocket ended the session (token expired "
                                     "or revoked)", shown)
                if message.get("topic") == DEPLOY_TOPIC:
                    await self._check(rt, _deployed_revision(message), emit)

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


def _deployed_revision(message: dict[str, Any]) -> str | None:
    """The flows revision a deploy notification announces (None if it gives none)."""
    data = message.get("data")
    revision = data.get("revision") if isinstance(data, dict) else None
    return revision if isinstance(revision, str) else None


# -- building the list of runtimes -----------------------------------------------------------


def runtimes_from_model(model: Model, urls: Sequence[str] = (),
                        ca_file: str | None = None) -> list[WatchedRuntime]:
    """The model's runtimes that have a ``url`` (only those matching ``urls`` if given),
    with their credentials and TLS settings as ``acm deploy`` reads them
    (:func:`acm.nodered.connect.client_for`); ``ca_file`` applies to runtimes without ``tls``."""
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


def runtimes_from_urls(urls: Sequence[str], token_file: str | None = None,
                       ca_file: str | None = None) -> list[WatchedRuntime]:
    """Runtimes given by ``--url`` alone, with the credentials of
    :func:`acm.nodered.connect.client_for_url` (a login is made here, once)."""
    return [runtime_for_url(url, client_for_url(url, token_file, ca_file).token, ca_file or True)
            for url in urls]


def runtime_for_url(url: str, token: str | None, verify: bool | str) -> WatchedRuntime:
    """A runtime given by ``--url`` alone; its id is ``host:port``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise AcmError("not a valid http(s) URL", public_url(url))
    return WatchedRuntime(parts.netloc.rpartition("@")[2], url, token, verify)

