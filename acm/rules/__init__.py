"""The rules: what counts as a conflict, written in the ACM rule language.

:mod:`.dsl` is the language (grammar, parser, checker, evaluator) and knows
nothing of flows; :mod:`.ruleset` loads the built-in and users' rule files and
evaluates them over the analysis' actuator facts; :mod:`.suppress` applies the
suppressions written in flows' ``info`` texts.
"""
