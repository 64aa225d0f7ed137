"""The ACM rule language: grammar loading, typed AST, checking and evaluation."""
