"""The analysis: what the flows are and what they command, before any rule is applied.

In pipeline order: :mod:`.flows` loads every shape of flows file, :mod:`.graph`
builds the wiring (links, subflows, disabled nodes), :mod:`.propagate` carries
constant message properties along it, :mod:`.catalog` knows each node type,
:mod:`.actuators` finds what is commanded and who drives it, :mod:`.environment`
follows effects through the physical world, and :mod:`.findings` holds the
plain, frozen records the rules produce. :mod:`.values` is the small vocabulary
of command values they share.
"""
