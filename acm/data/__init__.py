"""Data files shipped with acm: the built-in rule set."""
