"""Drift: how the flows running on a Node-RED differ from the flows file meant for it.

``acm watch`` reports it with every deploy; node order does not count, every
property of a node does except ``credentials`` (Node-RED keeps them out of
``GET /flows``, while a flows file may carry them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Drift", "flows_drift"]

#: Node properties drift ignores.
IGNORED_KEYS = frozenset({"credentials"})


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
