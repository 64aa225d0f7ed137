"""Node-RED Admin API client: read and write a runtime's flows under the rev discipline.

Reads use API v2 and keep ``rev``; writes send that ``rev`` so a concurrent deploy
gives ``409`` (:class:`RevisionConflict`) instead of being overwritten;
:func:`update_flows` backs up, re-reads, re-applies and retries. Every failure is a
:class:`NodeRedError` whose text is one line naming the URL; a token never appears
in an error, a log or a backup.

    AcmError
    └── NodeRedError          the Admin API could not be reached or said no
        ├── RevisionConflict  409: the flows changed since they were read
        └── OutcomeUnknown    a write's answer was lost: it may have been applied

Every request has a total deadline (not only a per-read timeout) and a cap on
the size of its answer.
"""

from __future__ import annotations

import html
import json
import os
import re
import socket
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.auth
import urllib3.exceptions

from ..analysis.flows import copy_nodes, gc_paused
from ..errors import AcmError
from ..files import encode
from ..model import without_userinfo as public_url
from ..rewrite.nodes import NATIVE_RESOLVER, has_native_resolver

__all__ = [
    "TOKEN_ENV",
    "AdminClient",
    "NodeRedError",
    "OutcomeUnknown",
    "RevisionConflict",
    "UpdateResult",
    "public_url",
    "token_from_env",
    "update_flows",
    "write_backup",
]

TOKEN_ENV = "ACM_NODERED_TOKEN"
API_VERSION = {"Node-RED-API-Version": "v2"}
DEPLOYMENT_TYPES = ("full", "nodes", "flows", "reload")
#: The largest answer read (decompressed): a real flows answer is a few MB at most.
MAX_ANSWER = 64 * 1024 * 1024

# The nodes as the Admin API sends them (acm.analysis.flows.Flows is the parsed, checked form).
FlowList = list[dict[str, Any]]


class NodeRedError(AcmError):
    """The Admin API could not be reached, refused the request or answered nonsense.

    ``status`` is the HTTP status, or ``None`` when no answer came.
    """

    def __init__(self, what: str, where: str | None = None, status: int | None = None) -> None:
        super().__init__(what, where)
        self.status = status


class RevisionConflict(NodeRedError):
    """``409``: the flows on the server are not the revision the write was based on.

    Re-read with :meth:`AdminClient.get_flows`, re-apply the change and write again
    (:func:`update_flows` does exactly that).
    """


class OutcomeUnknown(NodeRedError):
    """A write whose outcome is unknown: it may have been applied (the answer was lost).

    :func:`update_flows` settles it by reading the flows again; when that cannot
    tell, it raises this with ``old_rev`` (the rev written over) and ``backup``.
    """

    old_rev: str | None = None
    backup: Path | None = None


class AdminClient:
    """A Node-RED runtime's Admin API at ``url`` (the editor's root URL).

    ``token`` is an ``adminAuth`` bearer token (see :func:`token_from_env`, or call
    :meth:`login`). ``verify`` is ``True`` (the system CAs, or ``REQUESTS_CA_BUNDLE``),
    a path to a CA bundle, or ``False``. ``session`` may be injected for tests or
    connection reuse.
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        verify: bool | str = True,
        timeout: float = 10,
        session: requests.Session | None = None,
        deadline: float | None = None,
        max_answer: int = MAX_ANSWER,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        #: How to give a token, said when the server asks for one (no secret in it).
        self.token_hint = f"set {TOKEN_ENV} or --token-file"
        self.verify = verify
        self.timeout = timeout
        #: Seconds a whole request may take, answer included (``timeout`` bounds each
        #: read only, so a server trickling bytes could hold a request forever).
        self.deadline = deadline if deadline is not None else max(6 * timeout, 30.0)
        #: Bytes an answer may have (decompressed); more is refused, not read.
        self.max_answer = max_answer
        self.session = session if session is not None else requests.Session()

    def __repr__(self) -> str:  # never show the token
        return f"AdminClient({public_url(self.url)!r}, token={'***' if self.token else None})"

    # -- the API ---------------------------------------------------------------------

    def get_flows(self) -> tuple[FlowList, str]:
        """The deployed flows and their ``rev`` (``GET /flows``, API v2)."""
        data = self._call("GET", "/flows", headers=API_VERSION)
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("flows"), list)
            or not isinstance(data.get("rev"), str)
        ):
            raise self._error("GET", "/flows", "the answer is not an API v2 {flows, rev} object")
        return data["flows"], data["rev"]

    def set_flows(self, flows: FlowList, rev: str, deployment_type: str = "full") -> str:
        """Deploy ``flows`` if the server is still at ``rev``; returns the new rev.

        Raises :class:`RevisionConflict` when someone deployed since ``rev`` was read.
        """
        if deployment_type not in DEPLOYMENT_TYPES:
            raise ValueError(f"deployment_type must be one of {', '.join(DEPLOYMENT_TYPES)}")
        headers = {**API_VERSION, "Node-RED-Deployment-Type": deployment_type}
        data = self._call("POST", "/flows", headers=headers, json={"flows": flows, "rev": rev})
        if not isinstance(data, dict) or not isinstance(data.get("rev"), str):
            raise self._error("POST", "/flows", "the answer carries no new rev")
        return str(data["rev"])

    def login(self, username: str, password: str) -> str:
        """Exchange a user's password for a bearer token; the client uses it from now on."""
        form = {
            "client_id": "node-red-admin",
            "grant_type": "password",
            "scope": "*",
            "username": username,
            "password": password,
        }
        try:
            data = self._call("POST", "/auth/token", data=form, send_token=False)
        except NodeRedError as err:
            if err.status in (401, 403):
                what = "login failed: wrong username or password"
                raise self._error("POST", "/auth/token", what, err.status) from None
            # Without adminAuth, Node-RED 4 has no /auth/token (404) and 5 answers 400.
            if err.status is not None and err.status < 500 and not self._auth_enabled():
                what = "login failed: adminAuth is not enabled on this Node-RED"
                raise self._error("POST", "/auth/token", what, err.status) from None
            raise
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise self._error("POST", "/auth/token", "login answer carries no access_token")
        self.token = token
        return token

    def _auth_enabled(self) -> bool:
        """Whether ``GET /auth/login`` names a login scheme (it is ``{}`` without adminAuth)."""
        try:
            scheme = self._call("GET", "/auth/login", send_token=False)
        except NodeRedError:
            return True  # cannot tell; keep the original error
        return not isinstance(scheme, dict) or bool(scheme.get("type"))

    def node_types(self) -> frozenset[str]:
        """The node types installed and enabled on the runtime (``GET /nodes``)."""
        data = self._call("GET", "/nodes", headers={"Accept": "application/json"})
        if not isinstance(data, list):
            raise self._error("GET", "/nodes", "the answer is not a list of node sets")
        types: set[str] = set()
        for found in data:  # a set whose code failed to load still lists its types
            listed = found.get("types") if isinstance(found, dict) else None
            if isinstance(listed, list) and found.get("enabled") is not False \
                    and not found.get("err"):
                types.update(t for t in listed if isinstance(t, str))
        return frozenset(types)

    def settings(self) -> dict[str, Any]:
        """The runtime's settings as the editor sees them (``GET /settings``)."""
        data = self._call("GET", "/settings")
        if not isinstance(data, dict):
            raise self._error("GET", "/settings", "the answer is not a JSON object")
        return data

    # -- transport -------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        send_token: bool = True,
        **kwargs: Any,
    ) -> Any:
        headers = dict(headers or {})
        if send_token and self.token:
            # An auth object, not a header: requests then uses neither the URL's
            # user:password@ nor a ~/.netrc entry in place of the token.
            kwargs["auth"] = _Bearer(self.token)
        write = method == "POST" and path == "/flows"  # a deploy: its outcome matters
        try:
            answer = self._exchange(method, self.url + path, headers, kwargs)
        except _Incomplete as exc:
            raise self._unsettled(method, path, exc.what, write) from None
        except requests.exceptions.RequestException as exc:
            what = self._transport_failure(exc)
            raise self._unsettled(method, path, what, write and _may_have_been_sent(exc)) from None
        except (ValueError, urllib3.exceptions.HTTPError) as exc:
            # requests reads a redirect (its Location, draining its body) even when not
            # following it, and lets these through unwrapped
            raise self._unsettled(method, path, f"the answer cannot be read ({exc})", write) \
                from None
        if answer.status >= 400:
            raise self._status_error(method, path, answer)
        if 300 <= answer.status < 400:
            # Not followed: a POST would come back a GET (the deploy silently not made),
            # and the token would go wherever the server points.
            raise self._error(method, path, f"the server redirects ({answer.status}) to "
                              f"{_location(answer)}; give that address as the URL")
        try:
            return answer.json()
        except (ValueError, RecursionError):
            kind = answer.headers.get("Content-Type") or "no Content-Type"
            what = f"the answer is not valid JSON ({kind}); is this a Node-RED editor URL?"
            raise self._unsettled(method, path, what, write and 200 <= answer.status < 300) \
                from None

    def _exchange(self, method: str, url: str, headers: dict[str, str],
                  kwargs: dict[str, Any]) -> _Answer:
        """One request and its whole answer, within ``deadline`` and ``max_answer``.

        The request runs in a daemon thread that is abandoned (and told to stop at
        its next read) when the deadline passes: ``timeout`` alone bounds each read
        of the socket, not the request.
        """
        outcome: list[_Answer | BaseException] = []
        stop = threading.Event()

        def run() -> None:
            try:
                outcome.append(self._fetch(method, url, headers, kwargs, stop))
            except BaseException as exc:  # handed to the caller's thread below
                outcome.append(exc)

        worker = threading.Thread(target=run, name="acm-admin-api", daemon=True)
        worker.start()
        worker.join(self.deadline)
        if worker.is_alive() or not outcome:
            stop.set()
            raise _Incomplete(f"no complete answer within {self.deadline:g} s "
                              f"(the server is too slow or trickles its answer)")
        result = outcome[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def _fetch(self, method: str, url: str, headers: dict[str, str], kwargs: dict[str, Any],
               stop: threading.Event) -> _Answer:
        response = self.session.request(method, url, headers=headers, timeout=self.timeout,
                                        verify=self.verify, stream=True,
                                        allow_redirects=False, **kwargs)
        with response:
            too_big = _Incomplete(f"the answer is larger than {self.max_answer:,} bytes; "
                                  "not read (is this a Node-RED editor URL?)")
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > self.max_answer:
                raise too_big
            body = bytearray()
            for chunk in response.iter_content(64 * 1024):
                if stop.is_set():
                    raise _Incomplete("abandoned")
                body += chunk
                if len(body) > self.max_answer:
                    raise too_big
            return _Answer(response.status_code, response.headers, bytes(body),
                           response.reason or "", response.encoding)

    def _unsettled(self, method: str, path: str, what: str, maybe_applied: bool
                   ) -> NodeRedError:
        """A failure; for a write that may have reached the server, an :class:`OutcomeUnknown`."""
        if maybe_applied:
            return OutcomeUnknown(f"{what}; the write may have been applied",
                                  self._where(method, path))
        return self._error(method, path, what)

    def _status_error(self, method: str, path: str, response: _Answer) -> NodeRedError:
        status = response.status
        if status == 401:
            if self.token:
                what = (
                    "authentication failed: the server rejected the token "
                    f"(expired, wrong, or lacking {_permission(method, path)})"
                )
            else:
                what = f"authentication required: {self.token_hint}"
        elif status == 403:
            what = f"forbidden: the token lacks {_permission(method, path)}"
        elif status == 409:
            return RevisionConflict(
                "revision conflict: the flows changed on the server since they were read",
                self._where(method, path),
                status,
            )
        elif status >= 500:
            what = f"server error {status}: {_server_message(response)}"
        else:
            what = f"HTTP {status}: {_server_message(response)}"
        return self._error(method, path, what, status)

    def _transport_failure(self, exc: requests.exceptions.RequestException) -> str:
        if isinstance(exc, requests.exceptions.SSLError):
            reason = _tls_reason(exc)
            if self.verify is False:
                return f"TLS error: {reason}"
            ca = "the system CAs" if self.verify is True else f"the CA file {self.verify}"
            return (
                f"TLS error: {reason} (certificate verification is on, against {ca}; "
                "give the CA that signed the server's certificate as a CA file, "
                "e.g. REQUESTS_CA_BUNDLE=/path/ca.pem)"
            )
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return f"no connection within {self.timeout:g} s (host down or firewalled?)"
        if isinstance(exc, requests.exceptions.Timeout):
            return f"no answer within {self.timeout:g} s"
        if isinstance(exc, requests.exceptions.ConnectionError):
            cause = _innermost(exc)
            if isinstance(cause, ConnectionRefusedError):
                return "connection refused (is Node-RED running and listening there?)"
            if isinstance(cause, socket.gaierror):
                return "cannot resolve the host name"
            if isinstance(cause, (ConnectionResetError, BrokenPipeError)):
                return "the connection was reset by the server"
            return f"cannot connect ({type(cause).__name__})"
        if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
            return "not a valid http(s) URL"
        return f"request failed ({type(exc).__name__})"

    def _where(self, method: str, path: str) -> str:
        return f"{method} {public_url(self.url + path)}"

    def _error(self, method: str, path: str, what: str, status: int | None = None) -> NodeRedError:
        return NodeRedError(what, self._where(method, path), status)


# -- tokens ------------------------------------------------------------------------------


def token_from_env(file: str | Path | None = None, env: str = TOKEN_ENV) -> str | None:
    """The bearer token from ``file`` if given, else from the environment variable ``env``.

    Surrounding whitespace is stripped; an unset or empty variable gives ``None``.
    A token file that is missing, unreadable or empty is an error.
    """
    if file is not None:
        try:
            token = Path(file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise NodeRedError(f"cannot read the token file: {reason}", str(file)) from None
        if not token:
            raise NodeRedError("the token file is empty", str(file))
        return token
    return os.environ.get(env, "").strip() or None


# -- the update discipline -----------------------------------------------------------------


@dataclass(frozen=True)
class UpdateResult:
    """What :func:`update_flows` did.

    ``old_rev`` is the revision the write replaced (or the one read, if nothing
    changed); ``backup`` holds exactly those flows (``None`` when nothing was
    written); ``backups`` every backup taken, one per attempt that meant to write.
    """

    old_rev: str
    new_rev: str
    backup: Path | None
    changed: bool
    attempts: int
    backups: tuple[Path, ...] = ()


def update_flows(
    client: AdminClient,
    change: Callable[[FlowList], FlowList],
    backup_dir: Path,
    retries: int = 3,
    check_types: bool = True,
) -> UpdateResult:
    """Apply ``change`` to the deployed flows without losing anyone else's deploy.

    Read (keeping ``rev``), apply ``change`` to a copy, and if the flows differ, back
    them up to ``backup_dir`` and write them with that ``rev``. On a revision conflict
    read again, back up again and re-apply, up to ``retries`` more times. ``change``
    must be idempotent: it is applied to whatever is deployed at each attempt.
    Native resolvers are refused before any backup on a runtime without their node
    type (:func:`require_native_resolver`), unless ``check_types`` is False (a
    rollback puts back what was there).
    """
    backups: list[Path] = []
    attempt = 0
    while True:
        attempt += 1
        flows, rev = client.get_flows()
        changed = change(copy_nodes(flows, public_url(client.url)))
        if changed == flows:
            return UpdateResult(rev, rev, None, False, attempt, tuple(backups))
        if check_types:
            require_native_resolver(client, changed)
        backup = write_backup(backup_dir, client.url, flows, rev)
        backups.append(backup)
        try:
            new_rev = client.set_flows(changed, rev)
        except OutcomeUnknown as err:
            new_rev = _settle(client, err, changed, rev, backup)
        except RevisionConflict as err:
            if attempt > retries:
                raise RevisionConflict(
                    f"gave up after {attempt} attempts: the flows kept changing on the server "
                    f"(last backup {backup})",
                    err.where,
                    err.status,
                ) from None
            continue
        return UpdateResult(rev, new_rev, backup, True, attempt, tuple(backups))


def _permission(method: str, path: str) -> str:
    """The adminAuth permission a request needs (Node-RED's names)."""
    area = "nodes" if path.startswith("/nodes") else "flows"
    return f"{area}.{'read' if method == 'GET' else 'write'}"


def require_native_resolver(client: AdminClient, flows: FlowList) -> None:
    """Refuse to write flows with native resolvers (``acm resolve --native``) to a runtime
    that lacks nodered-bridge: Node-RED would take them and then start none of its flows
    while it waits for the missing node type."""
    if not has_native_resolver(flows) or NATIVE_RESOLVER in client.node_types():
        return
    raise client._error(
        "GET", "/nodes", f"refused to deploy: this Node-RED has no node type {NATIVE_RESOLVER}, "
        "which the native resolvers need (it would start none of its flows); install "
        "node-red-acm-bridge there, or resolve with --function-nodes")


def _settle(client: AdminClient, err: OutcomeUnknown, written: FlowList, rev: str,
            backup: Path) -> str:
    """After a write whose answer was lost: its new rev if it was applied, else an error.

    Reads the flows again: the written flows mean applied; the old ``rev`` means
    not applied (a :class:`NodeRedError`); anything else, or no answer, stays an
    :class:`OutcomeUnknown` naming the current rev and the backup.
    """
    try:
        current, current_rev = client.get_flows()
    except NodeRedError as again:
        unknown = OutcomeUnknown(f"{err.what}; the current rev cannot be read either "
                                 f"({again.what}); backup {backup}", err.where)
    else:
        if current == written:
            return current_rev
        if current_rev == rev:
            raise NodeRedError(f"{err.what.removesuffix('; the write may have been applied')}"
                               f"; not applied (the server is still at rev {rev[:12]})",
                               err.where)
        unknown = OutcomeUnknown(f"{err.what}; current rev is {current_rev[:12]} (changed "
                                 f"by someone else, or partly applied); backup {backup}",
                                 err.where)
    unknown.old_rev, unknown.backup = rev, backup
    raise unknown


def write_backup(backup_dir: Path, url: str, flows: FlowList, rev: str) -> Path:
    """Save ``{"flows", "rev"}`` (loadable by ``acm analyze``, postable as is) and return its path.

    Named ``<host_port>-<UTC timestamp>-<rev[:8]>.json``; never overwrites a file.
    """
    backup_dir = Path(backup_dir)
    try:
        backup_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NodeRedError(
            f"cannot create the backup folder: {exc.strerror}", str(backup_dir)
        ) from None
    host = (urlsplit(url).netloc.rpartition("@")[2] or "local").replace(":", "_")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps({"flows": flows, "rev": rev}, indent=1, ensure_ascii=False) + "\n"
    for n in range(1000):
        suffix = f"-{n}" if n else ""
        path = backup_dir / f"{host}-{stamp}-{rev[:8]}{suffix}.json"
        try:
            with path.open("xb") as out:  # never over an existing backup
                out.write(encode(text))
                out.flush()
                os.fsync(out.fileno())
            return path
        except FileExistsError:
            continue
        except OSError as exc:
            raise NodeRedError(f"cannot write the backup: {exc.strerror}", str(path)) from None
    raise NodeRedError("cannot find a free backup file name", str(backup_dir))


# -- small pieces ------------------------------------------------------------------------


def _server_message(response: _Answer) -> str:
    """The server's own explanation, on one line and short."""
    message: Any = None
    try:
        data = response.json()
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict):
        message = data.get("message") or data.get("error") or data.get("code")
    if not isinstance(message, str) or not message.strip():
        message = response.text()
        if "html" in response.headers.get("Content-Type", "") or message.lstrip().startswith("<"):
            # Express error pages put the message in <pre>; other markup is not a message.
            pre = re.search(r"<pre>(.*?)</pre>", message, re.DOTALL)
            message = html.unescape(pre.group(1)) if pre else ""
        message = message or response.reason or "(no message)"
    one_line = " ".join(str(message).split())
    return one_line if len(one_line) <= 200 else one_line[:199] + "…"


class _Bearer(requests.auth.AuthBase):
    """``Authorization: Bearer <token>``; its repr never shows the token."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "_Bearer(***)"


@dataclass(frozen=True)
class _Answer:
    """An HTTP answer read whole (within the client's size cap)."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    reason: str
    encoding: str | None

    def json(self) -> Any:
        """The body as JSON; ``ValueError`` (or ``RecursionError``) when it is not.

        The collector is paused while parsing: an answer nested ~1,000 deep takes
        the stack to its limit, and a finalizer the collector ran there would fail
        with a RecursionError of its own ("Exception ignored in ...")."""
        with gc_paused():
            return json.loads(self.body)

    def text(self) -> str:
        try:
            return self.body.decode(self.encoding or "utf-8", errors="replace")
        except LookupError:  # a charset Python does not know
            return self.body.decode("utf-8", errors="replace")


def _location(answer: _Answer) -> str:
    location = answer.headers.get("Location") or "no Location"
    try:
        return public_url(location)
    except ValueError:  # not a URL at all: shown as it is (errors escape control characters)
        return location


class _Incomplete(Exception):
    """The answer did not come whole: deadline passed or size cap reached."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def _may_have_been_sent(exc: requests.exceptions.RequestException) -> bool:
    """Whether a failed request may have reached the server (no: refused, unresolved, TLS)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout | requests.exceptions.SSLError
                  | requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return False
    cause = _innermost(exc)
    return not isinstance(cause, ConnectionRefusedError | socket.gaierror)


def _innermost(exc: BaseException) -> BaseException:
    """The root cause under requests' and urllib3's wrappers."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        nxt = exc.__cause__ or exc.__context__
        if nxt is None and exc.args and isinstance(exc.args[0], BaseException):
            nxt = exc.args[0]
        reason = getattr(exc, "reason", None)
        if nxt is None and isinstance(reason, BaseException):
            nxt = reason
        if nxt is None:
            break
        exc = nxt
    return exc


def _tls_reason(exc: BaseException) -> str:
    cause = _innermost(exc)
    if isinstance(cause, ssl.SSLCertVerificationError):
        return cause.verify_message or "certificate verification failed"
    if isinstance(cause, ssl.SSLError):
        return cause.reason or type(cause).__name__
    return "handshake failed"
