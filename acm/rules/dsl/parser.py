"""Parse ACM rule files into the typed AST (:mod:`acm.rules.dsl.ast`).

The grammar (``acm.grammars/acm.lark``) is compiled once. This module only
maps parse trees to AST nodes and turns lark's errors into one-line
:class:`~acm.errors.RuleError` s with file:line:column, the text found and
what was expected. Checking names is :mod:`acm.rules.dsl.check`'s job.
"""

from __future__ import annotations

import hashlib
import json
import textwrap
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import lark
from lark import Token, Transformer, v_args

from ...errors import RuleError
from . import ast
from .cache import cache_path, seal

_OPTIONS: dict[str, Any] = {"parser": "lalr", "propagate_positions": True,
                            "start": ["start", "expr"], "maybe_placeholders": False}


def _grammar() -> str:
    return (resources.files("acm.grammars") / "acm.lark").read_text(encoding="utf-8")


def _cache_identity() -> str:
    """What the compiled tables depend on, besides lark's version."""
    return _grammar() + repr(sorted(_OPTIONS.items()))


@lru_cache(maxsize=1)
def _parser() -> lark.Lark:
    cache = cache_path(_cache_name(_cache_identity()))
    parser = lark.Lark(_grammar(), cache=cache or False, **_OPTIONS)
    if cache is not None:
        seal(cache)
    return parser


def _cache_name(identity: str) -> str:
    """The file of lark's compiled tables (a pickle: see :mod:`.cache`)."""
    digest = hashlib.sha256(f"{lark.__version__}\0{identity}".encode()).hexdigest()[:16]
    return f"grammar-{digest}.lark-cache"


def parse_rules(text: str, path: str = "<rules>") -> ast.RuleFile:
    """Parse the text of one rule file."""
    try:
        tree = _parser().parse(text, start="start")
    except lark.UnexpectedInput as exc:
        raise _syntax_error(exc, text, path, line_offset=0, col_offset=0) from None
    _check_depth(tree, path)
    rules: list[ast.Rule] = []
    overrides: list[ast.Override] = []
    policies: list[ast.Policy] = []
    try:
        items = _ToAst(path, text).transform(tree).children
    except lark.exceptions.VisitError as exc:
        if isinstance(exc.orig_exc, RuleError):
            raise exc.orig_exc from None
        raise
    for item in items:
        if isinstance(item, ast.Rule):
            rules.append(item)
        elif isinstance(item, ast.Policy):
            policies.append(item)
        else:
            overrides.append(item)
    return ast.RuleFile(path, tuple(rules), tuple(overrides), tuple(policies))


#: How deep a parse tree may nest. Real rules stay near 10; the transformer, the
#: checker and the evaluator all recurse, so a file of 600 chained ``and`` must not
#: reach them.
MAX_DEPTH = 100


def _check_depth(tree: lark.Tree[Any], path: str, line_offset: int = 0) -> None:
    """A :class:`RuleError` at the first place the tree nests deeper than MAX_DEPTH."""
    stack: list[tuple[Any, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, lark.Tree):
            continue
        if depth > MAX_DEPTH:
            line = getattr(node.meta, "line", None) if not node.meta.empty else None
            where = f"{path}:{line + line_offset}" if line else path
            raise RuleError(f"expression nested more than {MAX_DEPTH} levels deep; "
                            "split it into smaller rules", where)
        stack.extend((child, depth + 1) for child in node.children)


def load_rule_file(path: str | Path) -> ast.RuleFile:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RuleError("rule file not found", str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(f"cannot read rule file ({exc})", str(path)) from None
    return parse_rules(text, str(path))


def _describe_terminal(name: str) -> str:
    friendly = {
        "NAME": "a name", "STRING": "a string", "LONG_STRING": 'a """text"""',
        "NUMBER": "a number", "LEVEL": "error|warning|info", "BOOL": "true|false",
        "COMP_OP": "a comparison", "$END": "end of file",
        "DURATION": "a duration (30s, 15m, 1h)",
    }
    if name in friendly:
        return friendly[name]
    try:
        pattern = _parser().get_terminal(name).pattern
    except KeyError:
        return name
    return f"'{pattern.value}'"


# Terminals that only make sense between rule items, never inside an expression.
_RULE_ITEM_WORDS = frozenset({
    "'code'", "'summary'", "'kind'", "'for'", "'where'", "'severity'", "'message'",
    "'doc'", "'enabled'", "'when'", "'}'", "'rule'", "'override'", "'disable'", "'enable'",
})


def _syntax_error(
    exc: lark.UnexpectedInput, text: str, path: str, line_offset: int, col_offset: int,
    in_placeholder: bool = False,
) -> RuleError:
    """A one-line error for what lark could not parse: where, what was found, what would
    have fitted (inside a message's ``{...}`` placeholder, only what fits an expression)."""
    line = getattr(exc, "line", 0) or 0
    column = getattr(exc, "column", 0) or 0
    found, expected, at_end = _found_and_expected(exc, text)
    if at_end or line <= 0:  # point just past the last character
        line = text.count("\n") + 1
        column = len(text) - (text.rfind("\n") + 1) + 1
        if in_placeholder:
            found = "the end of the placeholder"
    if in_placeholder:
        expected = _expected_in_placeholder(expected, at_end)
    if line == 1:
        column += col_offset
    where = f"{path}:{line + line_offset}:{column}"
    want = ", ".join(sorted(expected))
    return RuleError(f"syntax error: found {found}, expected {want or 'something else'}", where)


def _found_and_expected(exc: lark.UnexpectedInput, text: str) -> tuple[str, set[str], bool]:
    """What the parser found, in words; what it expected, in words; whether it found the
    end of the text."""
    if isinstance(exc, lark.UnexpectedToken):
        at_end = exc.token.type == "$END"
        found = "end of file" if at_end else repr(str(exc.token))
        return found, {_describe_terminal(t) for t in exc.expected}, at_end
    if isinstance(exc, lark.UnexpectedCharacters):
        at = exc.pos_in_stream or 0
        found = repr(text[at]) if at < len(text) else "end of file"
        if text[at:at + 1] == '"':
            found = "an unterminated string"
        return found, {_describe_terminal(t) for t in exc.allowed or ()}, False
    # UnexpectedEOF
    return "end of file", {_describe_terminal(t) for t in getattr(exc, "expected", ())}, True


def _expected_in_placeholder(expected: set[str], at_end: bool) -> set[str]:
    """What was expected, less what only fits between rule items: a placeholder holds an
    expression, and ends with '}'."""
    inside = expected - _RULE_ITEM_WORDS
    inside.discard("end of file")
    if at_end:
        inside.add("'}'")
    return inside


def _unquote(token: str) -> str:
    if token.startswith('"""'):
        return textwrap.dedent(token[3:-3]).strip("\n")
    try:
        value = json.loads(token)
    except json.JSONDecodeError:
        return token[1:-1]
    return value if isinstance(value, str) else token[1:-1]


class _ToAst(Transformer[Token, Any]):
    """Maps parse-tree rules to AST classes; nothing else."""

    def __init__(self, path: str, text: str) -> None:
        super().__init__()
        self.path = path
        self.text = text

    def _pos(self, meta_or_token: Any) -> ast.Pos:
        return ast.Pos(self.path, getattr(meta_or_token, "line", 0) or 0,
                       getattr(meta_or_token, "column", 0) or 0)

    # ---- statements
    @v_args(meta=True)
    def rule(self, meta: Any, children: list[Any]) -> ast.Rule:
        name = children[0]
        fields: dict[str, Any] = {"severities": []}
        for item in children[1:]:
            key, value, pos = item
            if key == "severity":
                fields["severities"].append(value)
                continue
            if key in fields:
                raise RuleError(f"'{key}' given twice in rule {name}", str(pos))
            fields[key] = value
        fields["severities"] = tuple(fields["severities"])
        return ast.Rule(name=str(name), pos=self._pos(name), **fields)

    @v_args(meta=True)
    def policy(self, meta: Any, children: list[Any]) -> ast.Policy:
        name = children[0]
        fields: dict[str, Any] = {"options": []}
        for key, value, pos in children[1:]:
            if key == "option":
                fields["options"].append(value)
                continue
            if key in fields:
                raise RuleError(f"'{key}' given twice in policy {name}", str(pos))
            fields[key] = value
            if key == "strategy":
                fields["strategy_pos"] = pos
        fields["options"] = tuple(fields["options"])
        return ast.Policy(name=str(name), pos=self._pos(name), **fields)

    @v_args(meta=True)
    def strategy(self, meta: Any, c: list[Token]) -> tuple[str, Any, ast.Pos]:
        return ("strategy", str(c[0]), self._pos(c[0]))

    @v_args(meta=True)
    def option(self, meta: Any, c: list[Any]) -> tuple[str, Any, ast.Pos]:
        values = tuple(v.value if isinstance(v, ast.Literal) else v for v in c[1:])
        return ("option", ast.Option(str(c[0]), values, self._pos(c[0])), self._pos(c[0]))

    def duration(self, c: list[Token]) -> ast.Duration:
        text = str(c[0])
        for unit, factor in (("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)):
            if text.endswith(unit) and not (unit == "s" and text.endswith("ms")):
                return ast.Duration(round(float(text[: -len(unit)]) * factor), text)
        raise AssertionError(text)

    def word(self, c: list[Token]) -> ast.Word:
        return ast.Word(str(c[0]))

    def override_severity(self, children: list[Token]) -> ast.Override:
        return ast.Override(str(children[0]), self._pos(children[0]), level=str(children[1]))

    def disable(self, children: list[Token]) -> ast.Override:
        return ast.Override(str(children[0]), self._pos(children[0]), enabled=False)

    def enable(self, children: list[Token]) -> ast.Override:
        return ast.Override(str(children[0]), self._pos(children[0]), enabled=True)

    @v_args(meta=True)
    def code(self, meta: Any, c: list[Token]) -> tuple[str, Any, ast.Pos]:
        return ("code", str(c[0]), self._pos(meta))

    @v_args(meta=True)
    def summary(self, meta: Any, c: list[Token]) -> tuple[str, Any, ast.Pos]:
        return ("summary", _unquote(c[0]), self._pos(meta))

    @v_args(meta=True)
    def kind(self, meta: Any, c: list[Token]) -> tuple[str, Any, ast.Pos]:
        return ("kind", str(c[0]), self._pos(meta))

    @v_args(meta=True)
    def quantifier(self, meta: Any, c: list[ast.Binding]) -> tuple[str, Any, ast.Pos]:
        return ("bindings", tuple(c), self._pos(meta))

    def binding(self, c: list[Token]) -> ast.Binding:
        return ast.Binding(str(c[0]), str(c[1]), self._pos(c[0]))

    @v_args(meta=True)
    def where(self, meta: Any, c: list[ast.Expr]) -> tuple[str, Any, ast.Pos]:
        return ("where", c[0], self._pos(meta))

    @v_args(meta=True)
    def severity(self, meta: Any, c: list[Any]) -> tuple[str, Any, ast.Pos]:
        clause = ast.SeverityClause(str(c[0]), c[1] if len(c) > 1 else None, self._pos(meta))
        return ("severity", clause, self._pos(meta))

    @v_args(meta=True)
    def message(self, meta: Any, c: list[Token]) -> tuple[str, Any, ast.Pos]:
        return ("message", self._template(c[0]), self._pos(meta))

    @v_args(meta=True)
    def doc(self, meta: Any, c: list[Token]) -> tuple[str, Any, ast.Pos]:
        return ("doc", _unquote(c[0]), self._pos(meta))

    @v_args(meta=True)
    def enabled(self, meta: Any, c: list[Token]) -> tuple[str, Any, ast.Pos]:
        return ("enabled", str(c[0]) == "true", self._pos(meta))

    def _template(self, token: Token) -> ast.Template:
        """Split ``"text {expr} text"`` into parts; ``{{``/``}}`` are literal braces.

        Works on the text as written (between the quotes) so that positions
        inside placeholders are columns in the file, escapes included.
        """
        raw = str(token)[1:-1]
        base_col = (token.column or 0) + 1  # column of the first character after the quote
        line = token.line or 1
        parts: list[str | ast.Expr] = []
        literal: list[str] = []
        i = 0
        while i < len(raw):
            ch = raw[i]
            if ch == "\\":  # keep an escape with its character
                literal.append(raw[i:i + 2])
                i += 2
                continue
            if ch in "{}" and raw[i:i + 2] in ("{{", "}}"):
                literal.append(ch)
                i += 2
                continue
            if ch == "}":
                raise RuleError("a lone '}' in a message; write '}}' for a brace",
                                f"{self.path}:{line}:{base_col + i}")
            if ch == "{":
                end = raw.find("}", i)
                if end < 0:
                    raise RuleError("unclosed '{' in message",
                                    f"{self.path}:{line}:{base_col + i}")
                if literal:
                    parts.append(_unquote('"' + "".join(literal) + '"'))
                    literal = []
                source = _unquote('"' + raw[i + 1:end] + '"')
                parts.append(self._placeholder(source, line, base_col + i + 1))
                i = end + 1
                continue
            literal.append(ch)
            i += 1
        if literal:
            parts.append(_unquote('"' + "".join(literal) + '"'))
        return ast.Template(tuple(parts), self._pos(token))

    def _placeholder(self, source: str, line: int, col: int) -> ast.Expr:
        """Parse one ``{expression}``; ``col`` is the file column of its first character."""
        try:
            tree = _parser().parse(source, start="expr")
        except lark.UnexpectedInput as exc:
            raise _syntax_error(exc, source, self.path, line - 1, col - 1,
                                in_placeholder=True) from None
        _check_depth(tree, self.path, line - 1)
        placed = _ToAst(self.path, source)
        placed.line_base = line - 1
        placed.col_base = col - 1
        try:
            result: ast.Expr = placed.transform(tree)
        except lark.exceptions.VisitError as exc:
            raise exc.orig_exc from None
        return result

    line_base = 0
    col_base = 0

    def _epos(self, meta_or_token: Any) -> ast.Pos:
        line = getattr(meta_or_token, "line", 0) or 0
        column = getattr(meta_or_token, "column", 0) or 0
        if self.line_base or self.col_base:
            return ast.Pos(self.path, line + self.line_base,
                           column + (self.col_base if line == 1 else 0))
        return ast.Pos(self.path, line, column)

    # ---- expressions
    def number(self, c: list[Token]) -> ast.Literal:
        text = str(c[0])
        return ast.Literal(self._epos(c[0]), float(text) if "." in text else int(text))

    def string(self, c: list[Token]) -> ast.Literal:
        return ast.Literal(self._epos(c[0]), _unquote(c[0]))

    @v_args(meta=True)
    def true(self, meta: Any, c: list[Any]) -> ast.Literal:
        return ast.Literal(self._epos(meta), True)

    @v_args(meta=True)
    def false(self, meta: Any, c: list[Any]) -> ast.Literal:
        return ast.Literal(self._epos(meta), False)

    @v_args(meta=True)
    def none(self, meta: Any, c: list[Any]) -> ast.Literal:
        return ast.Literal(self._epos(meta), None)

    def var(self, c: list[Token]) -> ast.Var:
        return ast.Var(self._epos(c[0]), str(c[0]))

    def attr(self, c: list[Any]) -> ast.Attr:
        return ast.Attr(self._epos(c[1]), c[0], str(c[1]))

    def call(self, c: list[Any]) -> ast.Call:
        return ast.Call(self._epos(c[0]), str(c[0]), tuple(a for a in c[1:] if a is not None))

    def compare(self, c: list[Any]) -> ast.Compare:
        return ast.Compare(self._epos(c[1]), str(c[1]), c[0], c[2])

    @v_args(meta=True)
    def contains(self, meta: Any, c: list[Any]) -> ast.Contains:
        return ast.Contains(self._epos(meta), c[0], c[1])

    @v_args(meta=True)
    def union(self, meta: Any, c: list[Any]) -> ast.SetOp:
        return ast.SetOp(self._epos(meta), "|", c[0], c[1])

    @v_args(meta=True)
    def intersect(self, meta: Any, c: list[Any]) -> ast.SetOp:
        return ast.SetOp(self._epos(meta), "&", c[0], c[1])

    @v_args(meta=True)
    def and_(self, meta: Any, c: list[Any]) -> ast.And:
        return ast.And(self._epos(meta), c[0], c[1])

    @v_args(meta=True)
    def or_(self, meta: Any, c: list[Any]) -> ast.Or:
        return ast.Or(self._epos(meta), c[0], c[1])

    @v_args(meta=True)
    def not_(self, meta: Any, c: list[Any]) -> ast.Not:
        return ast.Not(self._epos(meta), c[0])
