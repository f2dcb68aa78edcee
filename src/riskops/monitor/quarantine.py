"""Quarantine: an event the monitor cannot decide is set aside, so the monitor moves on.

The event stays in the log; a dead letter of source ``monitor`` (``source_row`` = the
event's ``seq``) keeps it with the reason. Its replay, after a fix, is an audit entry
``dead_letter.replayed``: the audit trail is append-only, so a replay is never undone
and always says who did it (ADR 0016). A quarantined event that was not replayed is
skipped when the monitor rebuilds its state from a snapshot; a replayed one is decided in
log order again, as if it had never failed.

Which failures quarantine: anything an event does to the monitor (undecodable payload, an
evaluator exception, an alert the intake refuses, a write the database refuses for its
values). A lost database is *transient* (``transient``): it quarantines nothing, the
monitor waits and retries, or every event of an outage would be set aside.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from riskops.audit import service as audit
from riskops.auth.permissions import Permission, Principal, require
from riskops.events import repository as events_repo
from riskops.events.models import DeadLetter, Source
from riskops.events.service import ingest
from riskops.events.validation import Rejection, decode
from riskops.kernel.errors import Conflict, NotFound, RiskopsError, ValidationFailed
from riskops.monitor import repository as repo
from riskops.monitor.service import LogRecord

REPLAYED = events_repo.DEAD_LETTER_REPLAYED
SUBJECT = events_repo.DEAD_LETTER_SUBJECT
_MAX_REASON = 4_000
_any = msgspec.json.Decoder()


class Undecidable(RiskopsError):
    """The event is in the log but the monitor could not decide it: it is quarantined.

    A synchronous caller must treat it as not approved (a withdrawal is not sent)."""

    status_code = 503
    code = "undecidable"


def transient(exc: BaseException) -> bool:
    """Whether ``exc`` says the database (not the event) failed: connection lost, server
    gone, locked or unreadable file, pool exhausted. Such failures are retried, never
    quarantined. A statement the database refuses for its values (``DataError``,
    ``IntegrityError``, a trigger's exception) is the event's doing."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(
        exc,
        sa_exc.OperationalError
        | sa_exc.InterfaceError
        | sa_exc.DisconnectionError
        | sa_exc.TimeoutError
        | ConnectionError,
    )


def reason_of(exc: BaseException) -> str:
    """The reason stored with a quarantined event: the error's type and message."""
    return f"{type(exc).__name__}: {exc}"[:_MAX_REASON]


def quarantine(
    session: Session, record: LogRecord, exc: BaseException, *, checkpoint: str, now: datetime
) -> None:
    """Set the event at ``record.seq`` aside: a dead letter with the reason, the event in
    its account's timeline when its account is readable, and the checkpoint past it (every
    event before it was decided and committed first)."""
    fields = _fields(record.payload)
    event_id = fields.get("event_id")
    account_id = fields.get("account_id")
    reason = reason_of(exc)
    errors = [{"field": "$", "reason": reason}]
    events_repo.insert_dead_letters(
        session,
        [
            {
                "received_at": now,
                "source": Source.MONITOR.value,
                "source_name": checkpoint,
                "source_row": record.seq,
                "event_id": event_id if isinstance(event_id, str) else None,
                "reason": reason,
                "errors": msgspec.json.encode(errors).decode(),
                "raw": record.payload,
            }
        ],
    )
    if isinstance(account_id, str) and 0 < len(account_id) <= 128:
        repo.insert_timeline(session, [account_id], [record.seq])
    repo.advance_checkpoint(session, checkpoint, record.seq, now)


def event_id_of(payload: str) -> str | None:
    """The payload's ``event_id``, if it has a readable one."""
    event_id = _fields(payload).get("event_id")
    return event_id if isinstance(event_id, str) else None


def _fields(payload: str) -> dict[str, Any]:
    """The top-level fields of a payload, as far as it is JSON at all."""
    try:
        obj = _any.decode(payload)
    except (msgspec.DecodeError, UnicodeError):
        return {}
    if not isinstance(obj, dict):
        return {}
    return {k: v for k, v in obj.items() if k in ("event_id", "account_id")}


def quarantined_seqs(session: Session, after: int) -> set[int]:
    """The log positions after ``after`` that the monitor must skip (not replayed)."""
    return repo.quarantined_seqs(session, after, Source.MONITOR.value, SUBJECT, REPLAYED)


def undecided(session: Session, event_ids: Sequence[str]) -> dict[str, int]:
    """Of these events, those quarantined and not replayed: ``event_id -> dead letter id``."""
    return repo.quarantined_events(session, event_ids, Source.MONITOR.value, SUBJECT, REPLAYED)


def replayable(session: Session, actor: Principal, dead_letter_id: int) -> DeadLetter:
    """The dead letter to replay, checked: it exists, the actor may replay it, and it
    was not replayed before."""
    require(actor, Permission.DEAD_LETTER_REPLAY)
    dead = events_repo.get_dead_letter(session, dead_letter_id)
    if dead is None:
        raise NotFound(f"no dead letter {dead_letter_id}")
    if events_repo.replayed_dead_letters(session, [dead.id]):
        raise Conflict(f"dead letter {dead_letter_id} was replayed already")
    return dead


def mark_replayed(
    session: Session, actor: Principal, dead: DeadLetter, detail: dict[str, Any]
) -> dict[str, Any]:
    """Record the replay (the dead letter's replayed state) and return what it did."""
    audit.record(session, actor, REPLAYED, SUBJECT, dead.id, detail)
    return {"dead_letter_id": dead.id, "source": dead.source, **detail}


def replay_input(
    session: Session, actor: Principal, dead: DeadLetter, *, max_event_bytes: int
) -> dict[str, Any]:
    """Validate a refused input again and ingest it if it is valid now (the rules of the
    edge changed, or the producer's conflict was resolved). Still invalid: refused with
    the field-level reasons, and nothing changes."""
    result = decode(events_repo.raw_bytes(dead.raw), max_bytes=max_event_bytes)
    if isinstance(result, Rejection):
        details = [{"field": e.field, "reason": e.reason} for e in result.errors]
        raise ValidationFailed("the stored input is still invalid", details=details)
    report = ingest(
        session,
        [(dead.source_row, result)],
        source=dead.source,
        source_name=dead.source_name,
    )
    if report.rejected:
        reasons = "; ".join(e.reason for e in report.rejected[0].errors)
        raise Conflict(f"the stored input is still refused: {reasons}")
    outcome = "ingested" if report.accepted else "duplicate"
    detail = {"outcome": outcome, "event_id": result.event_id, "seq": report.last_seq}
    return mark_replayed(session, actor, dead, detail)
