"""Sets of whole numbers (lead ids) as sorted ``[first, last]`` ranges: the compact form a
checkpoint keeps them in. Leads made together get consecutive ids, so the 100,000 leads of a
list an import went through are a handful of pairs rather than 100,000 numbers. ``IdRanges`` gives up past
``MAX_RANGES`` pairs (scattered ids) rather than make every commit carry megabytes: the caller
then behaves as if it kept nothing (``tracking`` is False)."""
from __future__ import annotations

from bisect import bisect_right
from typing import Iterable

#: the most ``[first, last]`` pairs kept (about 20 bytes each in the checkpoint)
MAX_RANGES = 20_000


def compact(numbers: Iterable[int]) -> list[list[int]]:
    """``[[first, last], ...]``, sorted and merged, of ``numbers``."""
    out: list[list[int]] = []
    for n in sorted({int(n) for n in numbers}):
        if out and n == out[-1][1] + 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    return out


def _merge(a: list[list[int]], b: list[list[int]]) -> list[list[int]]:
    out: list[list[int]] = []
    for first, last in sorted([*a, *b]):
        if out and first <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], last)
        else:
            out.append([first, last])
    return out


class IdRanges:
    """Membership and growth of a set kept as ranges (``None`` or empty: nothing is in)."""

    def __init__(self, ranges: list[list[int]] | None = None, tracking: bool = True):
        self.tracking = tracking
        self._set([[int(a), int(b)] for a, b in ranges or ()])

    def _set(self, ranges: list[list[int]]) -> None:
        self.ranges = ranges
        self._firsts = [r[0] for r in ranges]

    def add(self, numbers: Iterable[int]) -> None:
        if not self.tracking:
            return
        merged = _merge(self.ranges, compact(numbers))
        if len(merged) > MAX_RANGES:
            self.tracking = False
            merged = []
        self._set(merged)

    def saved(self) -> list[list[int]] | None:
        """What the checkpoint keeps: the ranges, or None once given up."""
        return self.ranges if self.tracking else None

    def __contains__(self, n: object) -> bool:
        try:
            n = int(n)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False
        i = bisect_right(self._firsts, n) - 1
        return i >= 0 and self.ranges[i][0] <= n <= self.ranges[i][1]

    def __bool__(self) -> bool:
        return bool(self.ranges)
