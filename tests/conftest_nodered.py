"""Pytest fixtures for real Node-RED runtimes (register with ``pytest_plugins``).

``nodered4`` / ``nodered5``: one instance per version for the whole session;
``nodered``: the test runs once on each; ``nodered_auth``: Node-RED 4 with
``adminAuth`` (static token ``nodered.AUTH_TOKEN``, user ``AUTH_USER`` / ``AUTH_PASSWORD``).
Instances live for the session, so a test deploys the flows it needs first
(``nodered4.reset_flows(...)``). When a test that used one fails, the tail of its
log is added to the report and its user dir (with ``node-red.log``) is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator

import pytest
from nodered import AUTH_PASSWORD, AUTH_TOKEN, AUTH_USER, VERSIONS, NodeRed, missing


def _instance(
    version: str, auth: dict[str, object] | None = None
) -> Callable[[], Iterator[NodeRed]]:
    def fixture() -> Iterator[NodeRed]:
        reason = missing(version)
        if reason:
            pytest.skip(reason)
        with NodeRed(version, auth) as nodered:
            yield nodered

    return fixture


nodered4 = pytest.fixture(scope="session", name="nodered4")(_instance("4"))
nodered5 = pytest.fixture(scope="session", name="nodered5")(_instance("5"))
nodered_auth = pytest.fixture(scope="session", name="nodered_auth")(
    _instance(
        "4",
        {
            "token": AUTH_TOKEN,
            "users": [{"username": AUTH_USER, "password": AUTH_PASSWORD, "permissions": "*"}],
        },
    )
)


@pytest.fixture(params=VERSIONS, ids=[f"nodered{v}" for v in VERSIONS])
def nodered(request: pytest.FixtureRequest) -> NodeRed:
    """The test runs once against each Node-RED version."""
    instance: NodeRed = request.getfixturevalue(f"nodered{request.param}")
    return instance


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, object, None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if not report.failed:
        return
    seen: set[int] = set()
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, NodeRed) and id(value) not in seen and value.user_dir:
            seen.add(id(value))
            value.keep = True
            report.sections.append(
                (f"Node-RED {value.version} log ({value.log_path})", value.log_tail())
            )
