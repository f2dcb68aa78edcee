"""Tables of screening: list versions, the subjects screened, their hits and the log cursor.

A list (``screening_lists``, one row per list name) points at its current version. A version
(``screening_list_versions``) holds every entry of one load as one compressed JSON blob, with
the files it came from (names and SHA-256), so loading the same files again finds the version
it made. Storing a version and pointing the list at it is one transaction: a reader sees the
old list or the new one, never half of either.

A subject is what is screened: an account's KYC identity, its KYB legal name and beneficial
owners, a P2P counterparty's name. A hit is unique on its ``key`` (the subject, the name it
was screened under, the list, the entry and the entry's name that matched), so a rescreen
finds the hits it already raised, open or decided, and raises only new ones. A "not a match"
decision stays on its hit: the same key never alerts again.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from riskops.events.follow import CursorColumns
from riskops.kernel.db import Base
from riskops.kernel.types import BigId, UtcDateTime, str_enum


class SubjectRole(enum.StrEnum):
    """What a subject is to its account."""

    KYC = "kyc"  # the account holder's identity (kyc.submitted / kyc.decided)
    KYB = "kyb"  # a corporate account's legal name (kyb.submitted / kyb.decided)
    OWNER = "owner"  # a beneficial owner of a corporate account
    P2P_COUNTERPARTY = "p2p_counterparty"  # the name a P2P order gives its counterparty


class HitStatus(enum.StrEnum):
    OPEN = "open"  # waiting for a reviewer
    CONFIRMED = "confirmed"  # a reviewer decided: the subject is the listed party
    NOT_A_MATCH = "not_a_match"  # a reviewer decided: a different party; never raised again


class ScreeningList(Base):
    """A list by name (``un``, ``ofac-sdn``, ...) and the version readers use now."""

    __tablename__ = "screening_lists"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(16))  # the loader: ofac-sdn, un-xml, ftm, ...
    version_id: Mapped[int] = mapped_column(ForeignKey("screening_list_versions.id"))
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ListVersion(Base):
    """One load of a list: its files, its entries (zlib-compressed JSON) and who loaded it."""

    __tablename__ = "screening_list_versions"
    __table_args__ = (
        UniqueConstraint("list_name", "version", name="uq_screening_list_versions_version"),
        Index("ix_screening_list_versions_digest", "list_name", "digest"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    list_name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per list
    source: Mapped[str] = mapped_column(String(16))
    # SHA-256 of the source and the files' digests: the same files again find this version.
    digest: Mapped[str] = mapped_column(String(64))
    files: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{name, sha256, bytes}]
    entry_count: Mapped[int] = mapped_column(Integer)
    loaded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    loaded_by: Mapped[str] = mapped_column(String(128))
    entries: Mapped[bytes] = mapped_column(LargeBinary)


class Subject(Base):
    """A name screened for an account, with the evidence that comes with it."""

    __tablename__ = "screening_subjects"
    __table_args__ = (
        UniqueConstraint("account_id", "role", "ref", name="uq_screening_subjects_identity"),
        Index("ix_screening_subjects_account", "account_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(128))
    role: Mapped[SubjectRole] = mapped_column(str_enum(SubjectRole, "screening_subject_role"))
    # Which one of its role: "" for the KYC and KYB identity, the counterparty's account id,
    # a digest of a beneficial owner's name.
    ref: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str | None] = mapped_column(String(16), nullable=True)  # person, company
    name: Mapped[str] = mapped_column(String(256))
    birth_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    event_id: Mapped[str] = mapped_column(String(128))  # the event that last set it
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The list versions it was last screened against (``service.versions_key``); a subject
    # whose key is not the current one is rescreened.
    screened_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    screened_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # {list name: version id} it was last screened against: a rescreen after one list
    # changed screens it against that list only (None: against every list).
    screened_versions: Mapped[dict[str, int] | None] = mapped_column(JSON, nullable=True)


class Hit(Base):
    """A subject's name matched a list entry at or above the threshold."""

    __tablename__ = "screening_hits"
    __table_args__ = (
        Index("ix_screening_hits_account", "account_id", "id"),
        Index("ix_screening_hits_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # ``service.hit_key``
    subject_id: Mapped[int] = mapped_column(ForeignKey("screening_subjects.id"), index=True)
    account_id: Mapped[str] = mapped_column(String(128))
    subject_name: Mapped[str] = mapped_column(String(256))  # the name screened
    list_name: Mapped[str] = mapped_column(String(64))
    list_version_id: Mapped[int] = mapped_column(BigId)  # the version that raised it
    entry_id: Mapped[str] = mapped_column(String(128))  # the list's own id (SDN ent_num, ...)
    matched_name: Mapped[str] = mapped_column(String(512))
    score: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[str]] = mapped_column(JSON)
    # What the entry said when it matched: kind, names, birth dates, countries, programs.
    entry: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[HitStatus] = mapped_column(str_enum(HitStatus, "screening_hit_status"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class ListedAddress(Base):
    """A digital currency address a list version names (OFAC's "Digital Currency Address -
    XBT ..."), extracted at load: intel's listed addresses (``service.listed_addresses``)."""

    __tablename__ = "screening_addresses"
    __table_args__ = (
        Index("ix_screening_addresses_version", "list_version_id"),
        Index("ix_screening_addresses_key", "key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    list_version_id: Mapped[int] = mapped_column(ForeignKey("screening_list_versions.id"))
    list_name: Mapped[str] = mapped_column(String(64))
    entry_id: Mapped[str] = mapped_column(String(128))
    entry_name: Mapped[str] = mapped_column(String(256))  # the entry's primary name
    currency: Mapped[str] = mapped_column(String(16))  # the list's ticker: XBT, ETH, USDT...
    address: Mapped[str] = mapped_column(String(256))  # as the list writes it
    key: Mapped[str] = mapped_column(String(256))  # ``intel.addresses.lookup_key``


class Cursor(CursorColumns, Base):
    """How far the screening follower has read the event log (``tasks.follow``)."""

    __tablename__ = "screening_cursor"
