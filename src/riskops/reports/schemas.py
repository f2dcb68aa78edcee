"""Answers of the reports API: a chart is its labels (days or rules) and its series, the
same numbers the page draws, its table shows and its CSV export holds."""

from __future__ import annotations

import msgspec


class Series(msgspec.Struct, frozen=True):
    name: str
    values: list[float | None]  # one per label; None where the value is undefined (0 / 0)


class Chart(msgspec.Struct, frozen=True):
    id: str  # alerts, rule-rates, holds, backlog, throughput
    title: str
    kind: str  # line, bars, stacked
    x: str  # what the labels are: day, rule
    labels: list[str]
    series: list[Series]
    unit: str  # count, percent, usd
    note: str = ""
    since: str = ""  # the period, ISO dates, inclusive
    until: str = ""


class Cluster(msgspec.Struct, frozen=True):
    cluster_id: str
    size: int
    formed_at: str


class Spike(msgspec.Struct, frozen=True):
    day: str
    metric: str
    dimension: str
    key: str
    observed: int
    baseline: float
    score: float
