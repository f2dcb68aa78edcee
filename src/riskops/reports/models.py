"""Tables of the trend reports: daily rollups, the rollup cursor, spikes already notified.

``report_daily`` holds one number (and, for money, a USD amount in cents) per day, metric
and the dimensions the page filters on; a dimension a metric does not have is ``''`` so the
primary key holds no NULL. The /reports page reads only these rows (ADR 0035).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Float, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from riskops.kernel.db import Base
from riskops.kernel.types import BigId, UtcDateTime


class ReportDaily(Base):
    """One metric's count (and USD cents) for one UTC day and one combination of dimensions."""

    __tablename__ = "report_daily"
    __table_args__ = (Index("ix_report_daily_metric_day", "metric", "day"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    metric: Mapped[str] = mapped_column(String(32), primary_key=True)
    rule: Mapped[str] = mapped_column(String(64), primary_key=True, default="")
    queue: Mapped[str] = mapped_column(String(32), primary_key=True, default="")
    typology: Mapped[str] = mapped_column(String(64), primary_key=True, default="")
    analyst: Mapped[str] = mapped_column(String(128), primary_key=True, default="")
    # an outcome, an age bucket, a hold status: the metric's own breakdown
    bucket: Mapped[str] = mapped_column(String(32), primary_key=True, default="")
    n: Mapped[int] = mapped_column(BigInteger, default=0)
    usd_cents: Mapped[int] = mapped_column(BigInteger, default=0)


class ReportCursor(Base):
    """How far the incremental rollup has read: alerts, events, cases and holds by id (the
    newest counted), and when the last pass ran (changes to older cases and holds since)."""

    __tablename__ = "report_cursor"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    alert_id: Mapped[int] = mapped_column(BigInteger, default=0)
    event_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    case_id: Mapped[int] = mapped_column(BigInteger, default=0)
    hold_id: Mapped[int] = mapped_column(BigInteger, default=0)
    passed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ReportSpike(Base):
    """A spike found and notified; unique on what spiked and when, so never notified twice."""

    __tablename__ = "report_spikes"
    __table_args__ = (
        UniqueConstraint("day", "metric", "dimension", "key", name="uq_report_spikes_what"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    metric: Mapped[str] = mapped_column(String(32))
    dimension: Mapped[str] = mapped_column(String(16))  # rule or typology
    key: Mapped[str] = mapped_column(String(64))
    observed: Mapped[int] = mapped_column(Integer)
    baseline: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    found_at: Mapped[datetime] = mapped_column(UtcDateTime)
