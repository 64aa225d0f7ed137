"""What the commands that talk to a running Node-RED share: the Admin API options and
one change of the deployed flows (or its dry run). The client itself is built by
:mod:`acm.nodered.connect`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .console import echo

if TYPE_CHECKING:
    from ..nodered.admin_api import AdminClient


def ADMIN_OPTIONS(command: Callable[..., Any]) -> Callable[..., Any]:  # noqa: N802
    """--token-file, --backup-dir and --ca-file: how to reach a Node-RED safely."""
    for option in reversed((
        click.option("--token-file", type=click.Path(dir_okay=False),
                     help="File holding the adminAuth bearer token (else $ACM_NODERED_TOKEN; "
                     "or $ACM_NODERED_USERNAME and $ACM_NODERED_PASSWORD to log in)."),
        click.option("--backup-dir", default="acm-backups", show_default=True,
                     type=click.Path(file_okay=False),
                     help="Where the flows are saved before a write."),
        click.option("--ca-file", type=click.Path(dir_okay=False),
                     help="CA bundle to verify the server's TLS certificate with."),
    )):
        command = option(command)
    return command


def update_deployed(client: AdminClient, change: Callable[[list[Any]], list[Any]],
                    backup_dir: Path, dry_run: bool) -> int:
    """Change the flows deployed at ``client`` with ``change`` (backed up first, rev kept,
    retried on 409), or with ``dry_run`` print what would change; the exit code."""
    from ..analysis.flows import copy_nodes, flows_from_data
    from ..model import without_userinfo as public_url
    from ..nodered.admin_api import require_native_resolver, update_flows
    from ..rewrite.resolve import describe_changes

    source = public_url(client.url)

    def checked(nodes: list[Any]) -> list[Any]:
        flows_from_data(nodes, source)  # what the server holds must be flows to change them
        return change(nodes)

    if dry_run:
        current, rev = client.get_flows()
        changed = checked(copy_nodes(current, source))
        if changed != current:
            require_native_resolver(client, changed)  # as the write would
        echo("\n".join(describe_changes(current, changed)) or "no changes")
        echo(f"acm: dry run: nothing written (server at rev {rev[:12]})", err=True)
        return 0
    outcome = update_flows(client, checked, backup_dir)
    if not outcome.changed:
        echo(f"acm: {public_url(client.url)}: nothing to change "
             f"(rev {outcome.old_rev[:12]})", err=True)
        return 0
    echo(f"acm: {public_url(client.url)}: deployed rev {outcome.new_rev[:12]} (was "
         f"{outcome.old_rev[:12]}, {outcome.attempts} attempt(s)); backup "
         f"{outcome.backup}", err=True)
    return 0
