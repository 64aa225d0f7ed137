"""A property worked out once: :class:`Once`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

__all__ = ["Once"]

_T = TypeVar("_T")


class Once(Generic[_T]):
    """A property worked out on its first read and kept in the instance's ``__dict__``,
    where later reads find it without a call (this descriptor has no ``__set__``, so the
    instance's own value wins; frozen dataclasses allow it, as they do cached_property).

    What :func:`functools.cached_property` does, without the lock that Python 3.11 takes
    on every first read (3.12 dropped it): the rules and the report read tens of
    thousands of facts and drivers once each, on one thread.
    """

    def __init__(self, compute: Callable[[Any], _T]) -> None:
        self.compute = compute
        self.name = compute.__name__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> Once[_T]: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> _T: ...

    def __get__(self, instance: object, owner: type | None = None) -> _T | Once[_T]:
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.compute(instance)
        return value
