"""acm.once.Once: a property worked out on the first read only, on frozen dataclasses too."""

from __future__ import annotations

from dataclasses import dataclass

from acm.analysis.actuators import Driver
from acm.once import Once


def test_worked_out_once_and_kept_per_instance() -> None:
    calls: list[int] = []

    @dataclass(frozen=True)
    class Box:
        n: int

        @Once
        def double(self) -> int:
            calls.append(self.n)
            return self.n * 2

    one, two = Box(1), Box(2)
    assert (one.double, one.double, two.double) == (2, 2, 4)
    assert calls == [1, 2]
    assert isinstance(Box.double, Once)  # read on the class: the descriptor itself
    assert one == Box(1)  # the kept value is not a field


def test_a_driver_reads_its_commands_and_provenances_once() -> None:
    driver = Driver("app", ())
    assert driver.commands == frozenset() and driver.provenances == frozenset()
    assert {"commands", "provenances"} <= set(vars(driver))
