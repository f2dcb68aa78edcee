"""All SQL of screening. Functions take the caller's session and never commit."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from riskops.events import follow
from riskops.screening.models import (
    Cursor,
    Hit,
    HitStatus,
    ListedAddress,
    ListVersion,
    ScreeningList,
    Subject,
    SubjectRole,
)

# --- lists and their versions -----------------------------------------------------------


def current_versions(session: Session) -> list[tuple[str, int]]:
    """(list name, current version id) of every list, by name: the cheap check a process
    holding screeners makes before each use."""
    stmt = select(ScreeningList.name, ScreeningList.version_id).order_by(ScreeningList.name)
    return [(name, version_id) for name, version_id in session.execute(stmt)]


def current_digests(session: Session) -> list[tuple[str, int, str]]:
    """(list name, current version id, its digest) of every list, by name. The digest tells
    two databases' versions of the same id apart (a process may hold more than one)."""
    stmt = (
        select(ScreeningList.name, ScreeningList.version_id, ListVersion.digest)
        .join(ListVersion, ListVersion.id == ScreeningList.version_id)
        .order_by(ScreeningList.name)
    )
    return [(name, version_id, digest) for name, version_id, digest in session.execute(stmt)]


def get_list(session: Session, name: str, *, for_update: bool = False) -> ScreeningList | None:
    stmt = select(ScreeningList).where(ScreeningList.name == name)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def version_by_digest(session: Session, list_name: str, digest: str) -> ListVersion | None:
    """The newest version of ``list_name`` loaded from exactly these files, if any."""
    stmt = (
        select(ListVersion)
        .options(defer(ListVersion.entries))
        .where(ListVersion.list_name == list_name, ListVersion.digest == digest)
        .order_by(ListVersion.id.desc())
        .limit(1)
    )
    return session.scalars(stmt).one_or_none()


def last_version_number(session: Session, list_name: str) -> int:
    stmt = select(func.max(ListVersion.version)).where(ListVersion.list_name == list_name)
    return int(session.scalar(stmt) or 0)


class Raced(Exception):
    """A unique key was taken by a concurrent transaction (two loads of one list at once)."""


def add(session: Session, row: Any) -> None:
    """Insert one row now (its id is known on return); ``Raced`` if its unique key was
    taken meanwhile (the caller's transaction is then lost: it raises on)."""
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Raced(str(exc.orig)) from exc


def entries_blob(session: Session, version_id: int) -> bytes | None:
    stmt = select(ListVersion.entries).where(ListVersion.id == version_id)
    blob: bytes | None = session.scalar(stmt)
    return blob


def list_versions(
    session: Session, list_name: str | None, limit: int, offset: int
) -> list[ListVersion]:
    """Versions newest first, without their entries."""
    stmt = select(ListVersion).options(defer(ListVersion.entries))
    if list_name is not None:
        stmt = stmt.where(ListVersion.list_name == list_name)
    stmt = stmt.order_by(ListVersion.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(stmt))


def lists(session: Session) -> list[ScreeningList]:
    return list(session.scalars(select(ScreeningList).order_by(ScreeningList.name)))


def insert_addresses(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Store a version's listed addresses (``addresses.address_rows``)."""
    if rows:
        session.execute(insert(ListedAddress), list(rows))


def has_addresses(session: Session, version_id: int) -> bool:
    stmt = select(ListedAddress.id).where(ListedAddress.list_version_id == version_id).limit(1)
    return session.scalar(stmt) is not None


def current_addresses(session: Session) -> list[Any]:
    """(list_name, entry_id, entry_name, currency, key) of every address the lists' current
    versions name."""
    stmt = select(
        ListedAddress.list_name,
        ListedAddress.entry_id,
        ListedAddress.entry_name,
        ListedAddress.currency,
        ListedAddress.key,
    ).join(ScreeningList, ScreeningList.version_id == ListedAddress.list_version_id)
    return list(session.execute(stmt))


# --- subjects ---------------------------------------------------------------------------


def subjects_by_identity(
    session: Session, identities: Collection[tuple[str, SubjectRole, str]]
) -> list[Subject]:
    """The stored subjects of these (account, role, ref), a query per 2,000 (SQLite takes
    at most 32,766 parameters a statement)."""
    ordered = sorted(identities)
    found: list[Subject] = []
    key = tuple_(Subject.account_id, Subject.role, Subject.ref)
    for start in range(0, len(ordered), _CHUNK):
        stmt = select(Subject).where(key.in_(ordered[start : start + _CHUNK]))
        found.extend(session.scalars(stmt))
    return found


_CHUNK = 2_000


def subjects_of_account(session: Session, account_id: str) -> list[Subject]:
    stmt = select(Subject).where(Subject.account_id == account_id).order_by(Subject.id)
    return list(session.scalars(stmt))


def insert_subjects_ignore(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert subjects, skipping those whose (account, role, ref) exists (a concurrent
    follower stored it first); the caller reads them back."""
    if rows:
        session.execute(_insert_ignore(session, Subject), list(rows))


def stale_subjects(session: Session, key: str, after_id: int, limit: int) -> list[Subject]:
    """Subjects not screened against the lists of ``key``, by id after ``after_id``."""
    stmt = (
        select(Subject)
        .where(
            Subject.id > after_id,
            (Subject.screened_key.is_(None)) | (Subject.screened_key != key),
        )
        .order_by(Subject.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def count_stale_subjects(session: Session, key: str) -> int:
    stmt = (
        select(func.count())
        .select_from(Subject)
        .where((Subject.screened_key.is_(None)) | (Subject.screened_key != key))
    )
    return int(session.scalar(stmt) or 0)


# --- hits -------------------------------------------------------------------------------


def insert_hits(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert hits whose key is new; returns the ids of those inserted (a key that exists,
    open or decided, inserts nothing: that is what keeps "not a match" from returning)."""
    if not rows:
        return []
    # executemany with RETURNING: SQLAlchemy batches the rows ("insertmanyvalues") within
    # each database's parameter limit, and returns the ids of the rows inserted.
    stmt = _insert_ignore(session, Hit).returning(Hit.id)
    return sorted(int(i) for i in session.scalars(stmt, list(rows)))


def get_hits(session: Session, hit_ids: Collection[int], *, for_update: bool = False) -> list[Hit]:
    if not hit_ids:
        return []
    stmt = select(Hit).where(Hit.id.in_(sorted(hit_ids))).order_by(Hit.id)
    if for_update:
        stmt = stmt.with_for_update()
    return list(session.scalars(stmt))


def get_hit(session: Session, hit_id: int, *, for_update: bool = False) -> Hit | None:
    stmt = select(Hit).where(Hit.id == hit_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def decide_hit(
    session: Session, hit_id: int, status: HitStatus, by: str, note: str, now: datetime
) -> bool:
    """Record a decision on an open hit; False if it was decided meanwhile."""
    result = session.execute(
        update(Hit)
        .where(Hit.id == hit_id, Hit.status == HitStatus.OPEN)
        .values(status=status, decided_by=by, decided_at=now, note=note)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def hits(
    session: Session,
    *,
    account_id: str | None,
    status: HitStatus | None,
    limit: int,
    offset: int,
) -> list[Hit]:
    """Hits newest first, of one account and/or one status."""
    stmt = select(Hit)
    if account_id is not None:
        stmt = stmt.where(Hit.account_id == account_id)
    if status is not None:
        stmt = stmt.where(Hit.status == status)
    stmt = stmt.order_by(Hit.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(stmt))


def subject_roles(session: Session, subject_ids: Collection[int]) -> dict[int, SubjectRole]:
    if not subject_ids:
        return {}
    stmt = select(Subject.id, Subject.role).where(Subject.id.in_(sorted(subject_ids)))
    return {subject_id: role for subject_id, role in session.execute(stmt)}


# --- the event log ----------------------------------------------------------------------


def cursor(session: Session, name: str) -> int:
    return follow.cursor(session, Cursor, name)


def advance_cursor(session: Session, name: str, seq: int, now: datetime) -> None:
    """Move the cursor to ``seq`` (never back)."""
    follow.advance(session, Cursor, name, seq, now)


def events_after(
    session: Session, after: int, types: Collection[str], limit: int
) -> tuple[list[tuple[int, str]], int]:
    """The (seq, payload) of up to ``limit`` events of ``types`` after ``after``, in log
    order, and how far they cover the log (``riskops.events.follow.events_after``)."""
    return follow.events_after(session, after, types, limit)


def _insert_ignore(session: Session, model: type[Any]) -> Any:
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(model).on_conflict_do_nothing()
