"""The nodes ACM inserts into flows: the marker each one carries, and its roles.

Every node ACM adds (and every node it reroutes) carries ``"acm": {"role": ...,
"conflict": ...}``, so that re-running a resolution finds what is already there
and ``acm revert`` removes exactly what ACM added. The roles are a ``str`` enum:
a marker reads and writes as the plain JSON string it always was.
"""

from __future__ import annotations

from enum import Enum

#: The node property that holds ACM's marker.
MARKER = "acm"


class MarkerRole(str, Enum):
    """What a node ACM added is for (the ``role`` of its marker)."""

    TAG = "tag"  # a change node that tells the resolver where a command came from
    RESOLVER = "resolver"  # the function node that runs a strategy
    LINK = "link"  # link out / link in pairs that carry commands to and from it
    GROUP = "group"  # the group drawn around a resolution
    PUBLISHER = "publisher"  # an mqtt out a cross-runtime resolver publishes with
    CONFIG = "config"  # a config node ACM had to add (an mqtt-broker)
    TAB = "tab"  # the tab that hosts cross-runtime resolvers
    REROUTED = "rerouted"  # not added: a publisher moved to ACM's topic, restored by revert

    def __str__(self) -> str:  # "tag", not "MarkerRole.TAG", wherever a role is written
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)
