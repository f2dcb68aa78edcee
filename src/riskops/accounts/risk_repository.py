"""All SQL of the rating and the KYC/KYB reviews: profiles, signals, ratings, reviews.

Kept apart from ``accounts.repository`` (the account 360 and the controls) so each stays a
readable size. Functions take the caller's session and never commit; every read of many
accounts is one query per chunk of ids, so a monitor batch costs a fixed few queries.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from riskops.accounts.models import (
    AccountProfile,
    AccountRating,
    AccountRatingChange,
    AccountSignal,
    KycReview,
    KycReviewStatus,
    Restriction,
    RestrictionKind,
    SignalKind,
)
from riskops.screening.models import Hit, HitStatus, Subject, SubjectRole

_CHUNK = 500


class SignalRow(NamedTuple):
    """What the rating reads of a signal (no ORM object: a batch reads thousands)."""

    kind: SignalKind
    severity: int
    detail: str


@dataclass(frozen=True, slots=True)
class ProfileRow:
    """What the rating reads of a profile."""

    account_id: str
    opened_at: datetime | None
    country: str | None
    corporate: bool
    kyc_level: int
    kyc_status: str | None
    kyb_status: str | None
    nationality: str | None
    document_country: str | None
    kyb_country: str | None


_PROFILE_COLUMNS = [getattr(AccountProfile, f) for f in ProfileRow.__slots__]


def _chunks(items: Collection[str]) -> Iterable[list[str]]:
    ordered = sorted(set(items))
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


def _insert_ignore(session: Session, model: type[Any]) -> Any:
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(model).on_conflict_do_nothing()


# --- profiles -------------------------------------------------------------------------


def profiles(session: Session, account_ids: Collection[str]) -> dict[str, AccountProfile]:
    out: dict[str, AccountProfile] = {}
    for part in _chunks(account_ids):
        stmt = select(AccountProfile).where(AccountProfile.account_id.in_(part))
        out.update({p.account_id: p for p in session.scalars(stmt)})
    return out


def insert_profiles(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert new profiles (all columns given, so one executemany statement)."""
    if rows:
        columns = [c.name for c in AccountProfile.__table__.columns]
        full = [{c: row.get(c) for c in columns} for row in rows]
        session.execute(insert(AccountProfile), full)


def profile_ids_after(session: Session, after: str, limit: int) -> list[str]:
    """A page of profiled accounts in account order, after ``after``."""
    stmt = (
        select(AccountProfile.account_id)
        .where(AccountProfile.account_id > after)
        .order_by(AccountProfile.account_id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def profile_rows(session: Session, account_ids: Collection[str]) -> dict[str, ProfileRow]:
    """``profiles`` as plain rows, for reading only (the rating of a batch)."""
    out: dict[str, ProfileRow] = {}
    for part in _chunks(account_ids):
        stmt = select(*_PROFILE_COLUMNS).where(AccountProfile.account_id.in_(part))
        for row in session.execute(stmt):
            out[row[0]] = ProfileRow(*row)
    return out


def add(session: Session, row: Any) -> None:
    session.add(row)
    session.flush()


def accounts_named(session: Session, name_key: str, *, limit: int = 20) -> list[str]:
    """Accounts whose KYC holder (or KYB legal name) has this matching key."""
    stmt = (
        select(AccountProfile.account_id)
        .where(AccountProfile.name_key == name_key)
        .order_by(AccountProfile.account_id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def accounts_named_many(
    session: Session, name_keys: Collection[str], *, limit: int = 20
) -> dict[str, list[str]]:
    """``accounts_named`` for many keys in one query per chunk (at most ``limit`` each)."""
    out: dict[str, list[str]] = {}
    for part in _chunks(name_keys):
        stmt = (
            select(AccountProfile.name_key, AccountProfile.account_id)
            .where(AccountProfile.name_key.in_(part))
            .order_by(AccountProfile.name_key, AccountProfile.account_id)
        )
        for key, account in session.execute(stmt):
            found = out.setdefault(str(key), [])
            if len(found) < limit:
                found.append(account)
    return out


# --- signals --------------------------------------------------------------------------


def insert_signals(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Store signals; one already stored (same account, kind and ref) is left as it is."""
    if rows:
        session.execute(_insert_ignore(session, AccountSignal), list(rows))


def signals_since(
    session: Session, account_ids: Collection[str], since: datetime
) -> dict[str, list[SignalRow]]:
    out: dict[str, list[SignalRow]] = {a: [] for a in account_ids}
    t = AccountSignal
    for part in _chunks(account_ids):
        stmt = (
            select(t.account_id, t.kind, t.severity, t.detail)
            .where(t.account_id.in_(part), t.occurred_at >= since)
            .order_by(t.account_id, t.occurred_at)
        )
        for account, kind, severity, detail in session.execute(stmt):
            out[account].append(SignalRow(kind, severity, detail))
    return out


def active_restrictions(
    session: Session, account_ids: Collection[str], now: datetime
) -> dict[str, set[RestrictionKind]]:
    out: dict[str, set[RestrictionKind]] = {}
    r = Restriction
    for part in _chunks(account_ids):
        stmt = select(r.account_id, r.kind).where(
            r.account_id.in_(part),
            r.lifted_at.is_(None),
            or_(r.expires_at.is_(None), r.expires_at > now),
        )
        for account, kind in session.execute(stmt):
            out.setdefault(account, set()).add(kind)
    return out


# --- what lower layers hold: screening hits, and subjects that name an owner ------------


def screening_hit_counts(
    session: Session, account_ids: Collection[str]
) -> dict[str, dict[HitStatus, int]]:
    """Per account, how many screening hits of each status."""
    out: dict[str, dict[HitStatus, int]] = {}
    for part in _chunks(account_ids):
        stmt = (
            select(Hit.account_id, Hit.status, func.count())
            .where(Hit.account_id.in_(part))
            .group_by(Hit.account_id, Hit.status)
        )
        for account, status, count in session.execute(stmt):
            out.setdefault(account, {})[HitStatus(status)] = int(count)
    return out


def owner_accounts(session: Session, owner_ref: str, *, limit: int = 20) -> list[str]:
    """Accounts that name this beneficial owner (its screening subject ref)."""
    stmt = (
        select(Subject.account_id)
        .where(Subject.role == SubjectRole.OWNER, Subject.ref == owner_ref)
        .distinct()
        .order_by(Subject.account_id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


# --- ratings --------------------------------------------------------------------------


def ratings(session: Session, account_ids: Collection[str]) -> dict[str, AccountRating]:
    out: dict[str, AccountRating] = {}
    for part in _chunks(account_ids):
        # ratings are written with Core (``upsert_ratings``): refresh what the session holds
        stmt = (
            select(AccountRating)
            .where(AccountRating.account_id.in_(part))
            .execution_options(populate_existing=True)
        )
        out.update({r.account_id: r for r in session.scalars(stmt)})
    return out


def _ratings_changed() -> tuple[Any, Any, Any]:
    """The three forms of ``ratings_changed_since``'s read, built once: the monitor reads it
    in every decision transaction, and building it cost more than running it."""
    table = AccountRating.__table__
    every = select(table.c.account_id, table.c.score, table.c.band, table.c.computed_at)
    since = every.where(table.c.computed_at > bindparam("since"))
    skipping = since.where(table.c.computed_at.not_in(bindparam("skip", expanding=True)))
    by_time = table.c.computed_at
    return every.order_by(by_time), since.order_by(by_time), skipping.order_by(by_time)


_RATINGS_ALL, _RATINGS_SINCE, _RATINGS_SINCE_SKIPPING = _ratings_changed()


def ratings_changed_since(
    session: Session, since: datetime | None, skip: Collection[datetime] = ()
) -> list[tuple[str, int, str, datetime]]:
    """(account, score, band, computed_at) of the ratings written after ``since`` (all if
    None), oldest first, but for those written at one of the times in ``skip``."""
    if since is None:
        rows = session.connection().execute(_RATINGS_ALL)
    elif skip:
        params = {"since": since, "skip": sorted(skip)}
        rows = session.connection().execute(_RATINGS_SINCE_SKIPPING, params)
    else:
        rows = session.connection().execute(_RATINGS_SINCE, {"since": since})
    return [(a, int(score), str(band), at) for a, score, band, at in rows]


def upsert_ratings(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write ratings (insert, or replace the account's), one statement for all."""
    if not rows:
        return
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = module.insert(AccountRating)
    stmt = stmt.on_conflict_do_update(
        index_elements=["account_id"],
        set_={
            "score": stmt.excluded.score,
            "band": stmt.excluded.band,
            "reasons": stmt.excluded.reasons,
            "computed_at": stmt.excluded.computed_at,
        },
    )
    session.execute(stmt, list(rows))


def add_history(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        session.execute(insert(AccountRatingChange), list(rows))


def rating_history(
    session: Session, account_id: str, limit: int, before_id: int | None
) -> list[AccountRatingChange]:
    stmt = select(AccountRatingChange).where(AccountRatingChange.account_id == account_id)
    if before_id is not None:
        stmt = stmt.where(AccountRatingChange.id < before_id)
    stmt = stmt.order_by(AccountRatingChange.id.desc()).limit(limit)
    return list(session.scalars(stmt))


# --- KYC / KYB reviews ------------------------------------------------------------------


def insert_reviews(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Store reviews; one whose event has a review already is left out."""
    if rows:
        session.execute(_insert_ignore(session, KycReview), list(rows))


def reviewed_events(session: Session, event_ids: Collection[str]) -> set[str]:
    out: set[str] = set()
    for part in _chunks(event_ids):
        out.update(session.scalars(select(KycReview.event_id).where(KycReview.event_id.in_(part))))
    return out


def reviews_by_events(session: Session, event_ids: Collection[str]) -> list[KycReview]:
    out: list[KycReview] = []
    for part in _chunks(event_ids):
        stmt = select(KycReview).where(KycReview.event_id.in_(part)).order_by(KycReview.id)
        out.extend(session.scalars(stmt))
    return sorted(out, key=lambda r: r.id)


def review_by_event(session: Session, event_id: str) -> KycReview | None:
    return session.scalar(select(KycReview).where(KycReview.event_id == event_id))


def get_review(session: Session, review_id: int, *, for_update: bool = False) -> KycReview | None:
    stmt = select(KycReview).where(KycReview.id == review_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def reviews_of_account(session: Session, account_id: str, limit: int) -> list[KycReview]:
    stmt = (
        select(KycReview)
        .where(KycReview.account_id == account_id)
        .order_by(KycReview.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def reviews_by_status(
    session: Session, statuses: Collection[KycReviewStatus], limit: int, offset: int
) -> list[KycReview]:
    stmt = (
        select(KycReview)
        .where(KycReview.status.in_(list(statuses)))
        .order_by(KycReview.id)
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(stmt))


def set_review_decision(
    session: Session,
    review_id: int,
    expected: Collection[KycReviewStatus],
    status: KycReviewStatus,
    by: str,
    at: datetime,
    note: str,
) -> bool:
    """Decide a review still in one of ``expected``; False if it was decided meanwhile."""
    result = session.execute(
        update(KycReview)
        .where(KycReview.id == review_id, KycReview.status.in_(list(expected)))
        .values(status=status, decided_by=by, decided_at=at, note=note)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))
