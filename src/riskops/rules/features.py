"""Per-key feature state for the streaming engine.

Every state has ``update(key, ts_ns, row, tok)``, called for a row of the key that passes
the feature's ``where``, and ``value(key, ts_ns, row, tok)``, called (lazily, after all
updates for the row) when a rule needs the value. ``tok`` numbers the rows, so features
over *earlier* rows can tell whether the current row already updated them and take the
value it replaced. Windows hold rows with ``ts_ns - W < p.ts_ns <= ts_ns`` (docs/rules.md);
per-key clocks never go backwards, so each window is a deque evicted from the left.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from riskops.rules.definition import UNITS_US, Feature


class State:
    """Base: ``data`` (key -> per-key state) is what a snapshot keeps."""

    def __init__(self, feature: Feature) -> None:
        self.feature = feature
        self.field = feature.field or ""
        self.window_ns = feature.window_ns
        self.data: dict[Any, Any] = {}

    def update(self, key: Any, ts_ns: int, row: dict[str, Any], tok: int) -> None:
        raise NotImplementedError

    def value(self, key: Any, ts_ns: int, row: dict[str, Any], tok: int) -> Any:
        raise NotImplementedError


class Count(State):
    def update(self, key: Any, ts_ns: int, row: dict[str, Any], tok: int) -> None:
        d = self.data.get(key)
        if d is None:
            d = self.data[key] = deque()
        d.append(ts_ns)
        low = ts_ns - self.window_ns
        while d[0] <= low:
            d.popleft()

    def value(self, key: Any, ts_ns: int, row: dict[str, Any], tok: int) -> Any:
        d = self.data.get(key)
        if not d:
            return 0
        low = ts_ns - self.window_ns
        while d and d[0] <= low:
            d.popleft()
        return len(d)


class Sum(State):
    """sum and avg of non-null values: [deque of (ts_ns, v), sum, n] per key."""

    def update(self, key: Any, ts_ns: int, row: dict[str, Any], tok: int) -> None:
        v = row[self.field]
        if v is None:
            return
        st = self.data.get(key)
        if st is None:
            st = self.data[key] = [deque(), 0, 0]
        st[0].append((ts_ns, v))
        st[1] += v
        st[2] += 1
        self._evict(st, ts_ns)

    def _evict(self, st: list[Any], ts_ns: int) -> None:
        d, low = st[0], ts_ns - self.window_ns
        while d and d[0][0] <= low:
            st[1] -= d.popleft()[1]
            st[2] -= 1

    def value(self, key: Any, ts_ns: int, row: dict[str, Any], tok: int) -> Any:
        st = self.data.get(key)
        if st is None:
            return 0
        self._evict(st, ts_ns)
        return st[1]


class Avg(Sum):
    def value(self, key: Any, ts_ns: int, row: dict[str, Any], tok: int) -> Any:
        st = self.data.get(key)
        if st is None:
            return None
        self._evict(st, ts_ns)
        return float(st[1]) / st[2] if st[2] else None


class Max(State):
    """Monotonic deque of (ts_ns, v): the front is the window's extreme."""

    sign = 1

    def update(self, key: Any, ts_ns: int, row: dict[str, Any], tok: int) -> None:
        v = row[self.field]
        if v is None:
            return
        d = self.data.get(key)
        if d is None:
            d = self.data[key] = deque()
        if self.sign > 0:
            while d and d[-1][1] <= v:
                d.pop()
        else:
            while d and d[-1][1] >= v:
                d.pop()
        d.append((ts_ns, v))
        low = ts_ns - self.window_ns
        while d[0][0] <= low:
            d.popleft()

    def value(self, key: Any, ts_ns: int, row: dict[str, Any], tok: int) -> Any:
        d = self.data.get(key)
        low = ts_ns - self.window_ns
        while d and d[0][0] <= low:
            d.popleft()
        return d[0][1] if d else None


class Min(Max):
    sign = -1


class CountDistinct(State):
    """[deque of (ts_ns, v), {v: multiplicity}] per key."""

    def update(self, key: Any, ts_ns: int, row: dict[str, Any], tok: int) -> None:
        v = row[self.field]
        if v is None:
            return
        st = self.data.get(key)
        if st is None:
            st = self.data[key] = [deque(), {}]
        st[0].append((ts_ns, v))
        st[1][v] = st[1].get(v, 0) + 1
        self._evict(st, ts_ns)

    def _evict(self, st: list[Any], ts_ns: int) -> None:
        d, counts, low = st[0], st[1], ts_ns - self.window_ns
        while d and d[0][0] <= low:
            old = d.popleft()[1]
            n = counts[old] - 1
            if n:
                counts[old] = n
            else:
                del counts[old]

    def value(self, key: Any, ts_ns: int, row: dict[str, Any], tok: int) -> Any:
        st = self.data.get(key)
        if st is None:
            return 0
        self._evict(st, ts_ns)
        return len(st[1])


class FirstSeen(State):
    """Set of seen values per key; remembers whether the current row's value was new."""

    def __init__(self, feature: Feature) -> None:
        super().__init__(feature)
        self._tok, self._was_new = -1, False

    def update(self, key: Any, ts_ns: int, row: dict[str, Any], tok: int) -> None:
        v = row[self.field]
        if v is None:
            return
        seen = self.data.get(key)
        if seen is None:
            seen = self.data[key] = set()
        self._tok, self._was_new = tok, v not in seen
        seen.add(v)

    def value(self, key: Any, ts_ns: int, row: dict[str, Any], tok: int) -> Any:
        v = row[self.field]
        if v is None:
            return None
        if self._tok == tok:
            return self._was_new
        return v not in self.data.get(key, ())


class Last(State):
    """[latest, the one before, tok of the latest] per key, of the column (non-null)."""

    def _of(self, row: dict[str, Any]) -> Any:
        return row[self.field]

    def update(self, key: Any, ts_ns: int, row: dict[str, Any], tok: int) -> None:
        v = self._of(row)
        if v is None:
            return
        st = self.data.get(key)
        if st is None:
            self.data[key] = [v, None, tok]
        else:
            st[1], st[0], st[2] = st[0], v, tok

    def earlier(self, key: Any, tok: int) -> Any:
        st = self.data.get(key)
        if st is None:
            return None
        return st[1] if st[2] == tok else st[0]

    def value(self, key: Any, ts_ns: int, row: dict[str, Any], tok: int) -> Any:
        return self.earlier(key, tok)


class Since(Last):
    def __init__(self, feature: Feature) -> None:
        super().__init__(feature)
        self.unit_us = UNITS_US[feature.unit or "minutes"]

    def _of(self, row: dict[str, Any]) -> Any:
        return row["ts_us"]

    def value(self, key: Any, ts_ns: int, row: dict[str, Any], tok: int) -> Any:
        last = self.earlier(key, tok)
        return None if last is None else float(row["ts_us"] - last) / self.unit_us


class BaselineRatio(Sum):
    """This row's value over the average of the earlier rows in the window."""

    def __init__(self, feature: Feature) -> None:
        super().__init__(feature)
        self._tok, self._own = -1, 0

    def update(self, key: Any, ts_ns: int, row: dict[str, Any], tok: int) -> None:
        v = row[self.field]
        if v is not None:
            self._tok, self._own = tok, v
        super().update(key, ts_ns, row, tok)

    def value(self, key: Any, ts_ns: int, row: dict[str, Any], tok: int) -> Any:
        v = row[self.field]
        st = self.data.get(key)
        if v is None or st is None:
            return None
        self._evict(st, ts_ns)
        total, n = st[1], st[2]
        if self._tok == tok:  # the current row is in the window: leave it out
            total, n = total - self._own, n - 1
        if n < self.feature.min_count or total == 0:
            return None
        return float(v) / (float(total) / n)


KINDS: dict[str, type[State]] = {
    "count": Count,
    "sum": Sum,
    "avg": Avg,
    "max": Max,
    "min": Min,
    "count_distinct": CountDistinct,
    "first_seen": FirstSeen,
    "last": Last,
    "since": Since,
    "baseline_ratio": BaselineRatio,
}


def make_state(feature: Feature) -> State:
    return KINDS[feature.kind](feature)
