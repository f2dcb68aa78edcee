"""Time-ordered merge of generated events, one day bucket at a time.

Events are produced out of order (a scenario planned today schedules a withdrawal next week;
a late-night session spills into tomorrow), so each goes into the bucket of its UTC day.
The generator finishes a day, then the bucket is sorted by (time, creation sequence) and
released: memory stays at one or two days of events, and the order is total and
deterministic. Event ids and timestamps are filled in on release, so ids follow file order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from riskops.sim.assets import DAY_US, TimeFormatter

Label = tuple[str, str]  # typology, scenario id
Item = tuple[int, int, dict[str, Any], Label | None]


class Timeline:
    """Buckets of pending events by day; ``release(day)`` yields a day in order."""

    def __init__(self, seed: int, start_us: int, days: int) -> None:
        self.start_us = start_us
        self.end_us = start_us + days * DAY_US
        self._buckets: dict[int, list[Item]] = {}
        self._seq = 0
        self._released = -2  # the pre-window bucket is day -1
        self._count = 0
        self._prefix = f"ev-{seed}-"
        self._fmt = TimeFormatter()
        self.event_labels: list[tuple[str, str, str]] = []
        self._links: dict[int, list[tuple[dict[str, Any], str, dict[str, Any]]]] = {}

    def day_of(self, ts_us: int) -> int:
        """The window day of ``ts_us``; everything before the window is day -1."""
        return -1 if ts_us < self.start_us else (ts_us - self.start_us) // DAY_US

    def emit(self, ts_us: int, event: dict[str, Any], label: Label | None = None) -> bool:
        """Schedule ``event`` at ``ts_us``; events past the window's end are dropped."""
        if ts_us >= self.end_us:
            return False
        day = -1 if ts_us < self.start_us else (ts_us - self.start_us) // DAY_US
        if day <= self._released:
            raise RuntimeError(f"event at day {day} after day {self._released} was released")
        self._seq += 1
        bucket = self._buckets.get(day)
        if bucket is None:
            bucket = self._buckets[day] = []
        bucket.append((ts_us, self._seq, event, label))
        return True

    def link(self, ts_us: int, event: dict[str, Any], name: str, target: dict[str, Any]) -> None:
        """Set ``event[name]`` to the id of ``target`` (an earlier-day event) on release."""
        self._links.setdefault(self.day_of(ts_us), []).append((event, name, target))

    def release(self, day: int) -> Iterator[dict[str, Any]]:
        """Yield the events of ``day`` in time order, with ids and timestamps filled in."""
        bucket = self._buckets.pop(day, [])
        for event, name, target in self._links.pop(day, []):
            if target["event_id"]:
                event[name] = target["event_id"]
            else:  # same-day target: not yet numbered, leave the reference out
                del event[name]
        self._released = day
        bucket.sort(key=_order)
        prefix, fmt, labels, n = self._prefix, self._fmt, self.event_labels, self._count
        for ts_us, _seq, event, label in bucket:
            n += 1
            event_id = f"{prefix}{n:09d}"
            event["event_id"] = event_id
            event["occurred_at"] = fmt(ts_us)
            if label is not None:
                labels.append((event_id, label[0], label[1]))
            yield event
        self._count = n

    @property
    def count(self) -> int:
        return self._count


def _order(item: Item) -> tuple[int, int]:
    return item[0], item[1]
