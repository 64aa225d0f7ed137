"""The editor's ``/comms`` websocket, as ``acm watch`` speaks it: where it is, TLS,
authentication, frames, and why a connection failed (one line, no secret).

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
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import websockets

from .admin_api import AdminClient, NodeRedError, public_url

__all__ = ["DEPLOY_TOPIC", "CommsError", "WatchedRuntime", "admin_auth_enabled", "comms_url",
           "failure_reason", "handshake", "is_fatal", "parse_frames", "ssl_context"]

#: Published on every deploy, retained: its ``revision`` is the deployed one.
DEPLOY_TOPIC = "notification/runtime-deploy"


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


def failure_reason(exc: BaseException) -> str:
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


def is_fatal(exc: NodeRedError) -> bool:
    """Errors that waiting will not fix: credentials, permissions."""
    return isinstance(exc, CommsError) or exc.status in (401, 403)


def parse_frames(raw: str | bytes) -> list[dict[str, Any]]:
    """The messages in one server frame (an auth answer is one object, the rest arrays)."""
    try:
        data = json.loads(raw)
    except ValueError:
        return []
    items = data if isinstance(data, list) else [data]
    return [m for m in items if isinstance(m, dict)]


async def handshake(ws: Any, rt: WatchedRuntime, send_auth: bool, timeout: float) -> None:
    """Authenticate (when adminAuth is on) and subscribe to deploys as the editor does."""
    if send_auth:
        await ws.send(json.dumps({"auth": rt.token}))
        try:
            raw = await asyncio.wait_for(ws.recv(), timeout)
        except websockets.exceptions.ConnectionClosed:
            raw = ""
        answers = [m.get("auth") for m in parse_frames(raw)]
        if "ok" not in answers:
            raise CommsError("the /comms websocket refused the token (wrong, expired, or "
                             "lacking status.read)", public_url(comms_url(rt.url)), 401)
    await ws.send(json.dumps({"subscribe": DEPLOY_TOPIC}))
