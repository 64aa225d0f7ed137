"""Abstract message values for constant propagation.

A message is abstracted to the two properties that decide an actuator and its
command: ``(topic, payload)``. Each is either a constant, kept as its canonical
JSON text so it is hashable and compares by value, or :data:`UNKNOWN`. The set
of shapes that can reach a node is a ``frozenset`` of such pairs; joins are
unions, capped so the analysis stays linear.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Any, Final


class _Unknown:
    """A value only known at run time."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __lt__(self, other: object) -> bool:  # sorts after every constant
        return False

    def __gt__(self, other: object) -> bool:
        return not isinstance(other, _Unknown)


UNKNOWN: Final = _Unknown()
Value = str | _Unknown  # canonical JSON text of a constant, or UNKNOWN
Shape = tuple[Value, Value]  # (topic, payload)
Shapes = frozenset[Shape]

ANY_MESSAGE: Final[Shapes] = frozenset({(UNKNOWN, UNKNOWN)})
NO_MESSAGE: Final[Shapes] = frozenset()
MAX_SHAPES: Final = 32


_encode_str = json.encoder.encode_basestring


def const(value: Any) -> str:
    """Canonical JSON text of a constant."""
    if isinstance(value, str):  # the common case, without building an encoder
        return str(_encode_str(value))
    if value is True or value is False or value is None:
        return "true" if value else ("false" if value is False else "null")
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@lru_cache(maxsize=4096)
def const_text(value: Value) -> str:
    """A constant for people: strings bare, other JSON as JSON, unknown as '?'.

    Memoised: rules and reports ask for the same few commands ("ON", "OFF") over
    and over, and the answer is a string (immutable) of an immutable value.
    """
    if isinstance(value, _Unknown):
        return "?"
    decoded = decode(value)
    return decoded if isinstance(decoded, str) else value


_CONTAINER: Final = object()  # what _decoded_scalar says for a list or an object


def decode(value: str) -> Any:
    """The constant a canonical JSON text holds (``json.loads``).

    The catalog decodes the same few constants (``"ON"``, ``true``) once per
    node they reach; strings, numbers, true, false and null are immutable, so
    they are decoded once and shared. A list or an object is decoded afresh on
    every call: the caller owns what it gets.
    """
    scalar = _decoded_scalar(value)
    return json.loads(value) if scalar is _CONTAINER else scalar


@lru_cache(maxsize=4096)
def _decoded_scalar(value: str) -> Any:
    decoded = json.loads(value)
    return _CONTAINER if isinstance(decoded, (list, dict)) else decoded


def to_number(value: Any) -> float:
    """``float(value)``, but an integer beyond any double is ±infinity, as JavaScript reads it.

    (``float(10**400)`` raises OverflowError; JSON in a flows file may hold such a number.)
    Raises TypeError or ValueError as ``float`` does.
    """
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def typed_constant(value: Any, value_type: str | None) -> Value:
    """Value of a Node-RED typed input (``str``, ``num``, ``bool``, ``json``...)."""
    if value_type in (None, "", "str"):
        return const("" if value is None else str(value))
    if value_type == "num":
        try:
            number = to_number(value)
        except (TypeError, ValueError):
            return UNKNOWN
        return const(int(number) if number.is_integer() else number)
    if value_type == "bool":
        return const(str(value).lower() == "true")
    if value_type == "json":
        try:
            return const(json.loads(value) if isinstance(value, str) else value)
        except (json.JSONDecodeError, RecursionError, ValueError):
            return UNKNOWN  # not JSON, or nested or sized beyond any setting
    return UNKNOWN  # msg/flow/global/env/date/jsonata/bin: decided at run time


def _covers(general: Shape, specific: Shape) -> bool:
    return all(g is UNKNOWN or g == s for g, s in zip(general, specific, strict=True))


def covered(shapes: Shapes, by: Shapes) -> bool:
    """True when every shape in ``shapes`` is already described by one in ``by``."""
    if shapes <= by:
        return True
    return all(any(_covers(b, s) for b in by) for s in shapes)


def join(a: Shapes, b: Shapes) -> Shapes:
    """Union of two shape sets, widened (payloads, then topics, forgotten) past MAX_SHAPES.

    A known shape is kept next to an unknown one: a lamp's ``ON`` on
    ``lamp/set`` from a schedule stays visible even when a function node on
    another path of the same application sends something computed. Past the
    cap, widening makes shapes more general; from then on the propagation
    compares by :func:`covered`, so it terminates.
    """
    merged = a | b
    if len(merged) <= MAX_SHAPES:
        return merged
    topics_only = frozenset((t, UNKNOWN) for t, _ in merged)
    return topics_only if len(topics_only) <= MAX_SHAPES else ANY_MESSAGE
