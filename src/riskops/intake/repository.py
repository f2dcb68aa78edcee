"""All SQL of intake: stored email, attachments, and the lookups that link input to accounts.

Account identifiers (email, phone, tx hash, withdrawal id) live in event payloads, and the
event log has no index on them. The lookups therefore filter by event type and a
case-insensitive ``LIKE`` on the payload text (the canonical msgspec JSON, ``"key":"value"``
without spaces), which works unchanged on SQLite and PostgreSQL; the caller decodes the rows
found and keeps only exact matches, so the ``LIKE`` only has to be a superset. Cost: one
scan of the events of those types per lookup (one query per kind of identifier per message,
all candidates OR-ed), fine for mail and signal volumes on a log of a few million events. A
larger deployment should add a projection table of account identifiers fed from the log.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import CompoundSelect, Select, Text, cast, func, or_, select, union
from sqlalchemy.orm import Session

from riskops.events.models import DeadLetter, EventRecord
from riskops.events.repository import insert_dead_letters
from riskops.intake.models import EmailAttachment, InboundEmail
from riskops.monitor.models import AccountEvent, Hold
from riskops.monitor.repository import unmonitored

_CHUNK = 500  # ids per IN (...) lookup


# --- stored email ---------------------------------------------------------------------


def email_by_ref(session: Session, ref: str) -> InboundEmail | None:
    return session.scalar(select(InboundEmail).where(InboundEmail.ref == ref))


def add_email(
    session: Session, email: InboundEmail, attachments: Sequence[EmailAttachment]
) -> InboundEmail:
    """Insert a message and its attachments (flushed, so ids are known)."""
    session.add(email)
    session.flush()
    for attachment in attachments:
        attachment.email_id = email.id
        session.add(attachment)
    session.flush()
    return email


def list_emails(
    session: Session, *, limit: int, offset: int, account_id: str | None = None
) -> tuple[list[InboundEmail], int]:
    """A page of received mail, newest first, and the total (``account_id``: linked to it,
    matched in the JSON text of ``account_ids``, a scan of the mail table)."""
    query = select(InboundEmail)
    total = select(func.count()).select_from(InboundEmail)
    if account_id is not None:
        pattern = f'%"{_escape(account_id)}"%'
        condition = cast(InboundEmail.account_ids, Text).like(pattern, escape="\\")
        query, total = query.where(condition), total.where(condition)
    query = query.order_by(InboundEmail.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(query)), int(session.scalar(total) or 0)


def get_email(session: Session, email_id: int) -> InboundEmail | None:
    return session.get(InboundEmail, email_id)


def attachments_of(session: Session, email_ids: Collection[int]) -> dict[int, list[Any]]:
    """Attachment metadata (no content) per message, in position order."""
    found: dict[int, list[Any]] = {i: [] for i in email_ids}
    if not email_ids:
        return found
    columns = (
        EmailAttachment.email_id,
        EmailAttachment.position,
        EmailAttachment.filename,
        EmailAttachment.content_type,
        EmailAttachment.size,
        EmailAttachment.sha256,
    )
    query = (
        select(*columns)
        .where(EmailAttachment.email_id.in_(list(email_ids)))
        .order_by(EmailAttachment.email_id, EmailAttachment.position)
    )
    for row in session.execute(query):
        found[row.email_id].append(row)
    return found


def get_attachment(session: Session, email_id: int, position: int) -> EmailAttachment | None:
    query = select(EmailAttachment).where(
        EmailAttachment.email_id == email_id, EmailAttachment.position == position
    )
    return session.scalar(query)


# --- dead letters ---------------------------------------------------------------------


def dead_letter_exists(session: Session, source: str, key: str) -> bool:
    """Whether input with this key (kept in ``event_id``) is already a dead letter."""
    query = select(DeadLetter.id).where(DeadLetter.source == source, DeadLetter.event_id == key)
    return session.scalar(query.limit(1)) is not None


def add_dead_letter(session: Session, row: dict[str, Any]) -> None:
    insert_dead_letters(session, [row])


# --- linking lookups ------------------------------------------------------------------


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def known_accounts(session: Session, account_ids: Collection[str]) -> set[str]:
    """The given ids that have at least one event in the log: in the monitor's account
    timeline, or in the log's tail it has not read yet (see ``monitor.repository.account_seqs``)."""
    ids = list(dict.fromkeys(account_ids))
    found: set[str] = set()
    tail = unmonitored(session)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        timeline = select(AccountEvent.account_id).where(AccountEvent.account_id.in_(chunk))
        query: Select[Any] | CompoundSelect[Any] = timeline.distinct()
        if tail is not None:
            unread = select(EventRecord.account_id).where(tail, EventRecord.account_id.in_(chunk))
            query = union(query, unread.distinct())
        found.update(session.scalars(query))
    return found


def events_mentioning(
    session: Session, types: Collection[str], fragments: Collection[str]
) -> list[tuple[str, str, str, str]]:
    """``(account_id, type, event_id, payload)`` of events of ``types`` whose payload
    contains any of ``fragments`` (compared lower-case; ``%`` in a fragment is a wildcard
    the caller put there on purpose, everything else is literal).

    A superset: the caller checks each payload exactly.
    """
    fragments = list(dict.fromkeys(f.lower() for f in fragments))
    if not fragments or not types:
        return []
    rows: list[tuple[str, str, str, str]] = []
    payload = func.lower(EventRecord.payload)
    for start in range(0, len(fragments), _CHUNK):
        chunk = fragments[start : start + _CHUNK]
        condition = or_(*(payload.like(f"%{f}%", escape="\\") for f in chunk))
        query = select(
            EventRecord.account_id, EventRecord.type, EventRecord.event_id, EventRecord.payload
        ).where(EventRecord.type.in_(list(types)), condition)
        rows.extend((r[0], r[1], r[2], r[3]) for r in session.execute(query))
    return rows


def json_fragment(key: str, value: str, *, any_prefix: bool = False) -> str:
    """The LIKE fragment of ``"key":"value"`` in canonical JSON; ``any_prefix`` lets the
    value start with anything (``0x`` before a hex hash)."""
    start = f'"{key}":"%' if any_prefix else f'"{key}":"'
    return f'{start}{_escape(value.lower())}"'


def holds_by_withdrawal(session: Session, withdrawal_ids: Collection[str]) -> list[tuple[str, str]]:
    """``(account_id, withdrawal_id)`` of held withdrawals with these ids (case-insensitive)."""
    ids = list(dict.fromkeys(w.lower() for w in withdrawal_ids))
    if not ids:
        return []
    query = select(Hold.account_id, Hold.withdrawal_id).where(
        func.lower(Hold.withdrawal_id).in_(ids)
    )
    return [(r[0], r[1]) for r in session.execute(query) if r[1] is not None]
