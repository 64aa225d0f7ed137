"""Rewriting flows to resolve conflicts: strategies, policies, and the resolver nodes.

:mod:`.strategies` reads the strategy manifest (``acm/data/strategies.json``),
:mod:`.policy` chooses a strategy per conflict (a policy file or options), and
:mod:`.resolve` inserts, and reverts, the resolver nodes in a flows document.
"""
