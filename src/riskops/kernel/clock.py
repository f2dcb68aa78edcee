"""Time: always timezone-aware UTC; integer microseconds since the epoch on hot paths."""

from __future__ import annotations

from datetime import UTC, datetime

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch, exact (no float rounding)."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    from datetime import timedelta

    return EPOCH + timedelta(microseconds=us)
