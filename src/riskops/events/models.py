"""Database rows of the events package: the append-only event log and the dead letters.

The event log is ordered by ``seq`` (the ingest sequence); the monitor tails it by ``seq``.
``payload`` is the canonical JSON of the event (``msgspec.json.encode``): a replay (same id,
same content) is told from a conflict (same id, different content) by comparing that text,
without decoding anything.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from riskops.kernel.db import Base
from riskops.kernel.types import BigId

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.


class Source(enum.StrEnum):
    """How an input reached riskops (events, and the alert sources that dead-letter too)."""

    HTTP = "http"
    FILE = "file"
    NATS = "nats"
    API = "api"
    EMAIL = "email"  # inbound mail that could not be parsed
    SMS = "sms"  # provider signals with a malformed body
    MONITOR = "monitor"  # an accepted event the monitor could not decide (quarantined)


class EventRecord(Base):
    """One accepted event in the append-only log."""

    __tablename__ = "events"
    # No account index: the monitor keeps the account timeline (``AccountEvent``, ADR 0013).

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(128), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[str] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(16))
    source_name: Mapped[str | None] = mapped_column(String(512))
    source_row: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[str] = mapped_column(Text)


class DeadLetter(Base):
    """Input that was refused, kept with its reasons and raw bytes so nothing is lost.

    ``raw`` holds the input's bytes exactly as they came (any bytes: NUL, invalid UTF-8,
    binary), up to 1 MiB. The text columns hold only what both databases can store (see
    ``repository.storable``). A dead letter is stored once per input: ``input_key`` digests
    where it came from (source, source name, row) and ``digest``, the SHA-256 of ``raw``, so a
    re-run of a file or a redelivered message adds nothing (ADR 0017).
    """

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    source: Mapped[str] = mapped_column(String(16), index=True)
    source_name: Mapped[str | None] = mapped_column(String(512))
    source_row: Mapped[int | None] = mapped_column(BigInteger)
    event_id: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    errors: Mapped[str] = mapped_column(Text)  # JSON list of {"field", "reason"}
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    digest: Mapped[str] = mapped_column(String(64))  # sha256 of raw, hex
    input_key: Mapped[str] = mapped_column(String(64), unique=True)
