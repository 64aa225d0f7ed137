"""The ACM rule-language grammar (acm.lark), shipped as acm.grammars."""
