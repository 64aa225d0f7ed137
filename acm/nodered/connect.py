"""How ACM reaches a running Node-RED: the one place where credentials and TLS settings
become an :class:`~acm.nodered.admin_api.AdminClient`.

Two ways in, with the same rules (a secret never comes from a command line and never
reaches a message):

- :func:`client_for` — a runtime of the deployment model: its ``credentials`` name
  environment variables (``token_env``, or ``username_env`` and ``password_env`` to
  log in) or a ``token_file`` beside the model; its ``tls`` gives a ``ca_file`` or
  ``verify: false``. Used by ``acm deploy``, ``acm watch MODEL`` and site checks.
- :func:`client_for_url` — a bare ``--url``: a token file, else
  ``$ACM_NODERED_TOKEN``, else a login with ``$ACM_NODERED_USERNAME`` and
  ``$ACM_NODERED_PASSWORD``; TLS always verified (against ``ca_file`` when given).
  Used by ``acm apply``, ``acm revert`` and ``acm watch --url``.
"""

from __future__ import annotations

import os

from ..errors import AcmError
from ..model import Model, Runtime, has_userinfo, without_userinfo
from .admin_api import TOKEN_ENV, AdminClient, token_from_env

__all__ = ["PASSWORD_ENV", "USER_ENV", "client_for", "client_for_url"]

#: A login instead of a token: the editor user and password (never on the command line).
USER_ENV = "ACM_NODERED_USERNAME"
PASSWORD_ENV = "ACM_NODERED_PASSWORD"


def client_for(runtime: Runtime, model: Model, timeout: float = 10) -> AdminClient:
    """An Admin API client with the runtime's credentials (env var names, token file)."""
    if not runtime.url:
        raise AcmError(f"runtime {runtime.id} has no url in the model", str(model.path))
    creds = runtime.credentials
    token = None
    if creds.get("token_file"):
        token = token_from_env(model.path.parent / creds["token_file"])
    elif creds.get("token_env"):
        token = os.environ.get(creds["token_env"], "").strip() or None
    verify: bool | str = True
    if runtime.tls.get("ca_file"):
        verify = str(model.path.parent / runtime.tls["ca_file"])
    elif runtime.tls.get("verify") is False:
        verify = False
    client = AdminClient(runtime.url, token=token, verify=verify, timeout=timeout)
    hints = [f"set {creds[k]}" for k in ("token_env", "username_env") if creds.get(k)]
    if creds.get("token_file"):
        hints.append(f"put a token in {model.path.parent / creds['token_file']}")
    client.token_hint = (" or ".join(hints) + f" (runtime {runtime.id} in {model.path})") \
        if hints else f"add credentials to runtime {runtime.id} in {model.path}"
    user = _env(creds.get("username_env"))
    password = _env(creds.get("password_env"))
    if token is None and user and password:
        client.login(user, password)
    return client


def client_for_url(url: str, token_file: str | None = None, ca_file: str | None = None,
                   timeout: float = 10) -> AdminClient:
    """The Admin API client for a bare URL: a token (``token_file``, else
    ``$ACM_NODERED_TOKEN``) or a login, and TLS always verified (against ``ca_file``)."""
    user, password = _env(USER_ENV), _env(PASSWORD_ENV)
    if has_userinfo(url):  # requests would send the URL's Basic auth and drop the token
        given = ("--token-file" if token_file else f"${TOKEN_ENV}" if token_from_env()
                 else f"a login with ${USER_ENV} and ${PASSWORD_ENV}" if user and password
                 else None)
        if given:
            raise AcmError(f"the URL has credentials in it (user:password@) and there is a "
                           f"token too ({given}): give either credentials in the URL or a "
                           "token, not both", without_userinfo(url))
    client = AdminClient(url, token=token_from_env(token_file), verify=ca_file or True,
                         timeout=timeout)
    if client.token is None and user and password:
        client.login(user, password)
    return client


def _env(name: str | None) -> str:
    """The value of environment variable ``name`` ("" when unnamed or unset)."""
    return os.environ.get(name, "") if name else ""
