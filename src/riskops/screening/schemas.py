"""Shapes that cross the screening package's boundary: the outbox message a new hit is told
on, and the API's bodies and answers (msgspec)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from riskops.kernel.bounds import LongText
from riskops.screening.models import Hit, ListVersion, SubjectRole

# The kernel outbox topic each new hit is told on (``HitMessage`` as a dict); cases drain it
# into case alerts of the screening queue. Screening names no subscriber (ADR 0023).
HIT_RAISED = "screening.hit_raised"


class HitMessage(msgspec.Struct, kw_only=True):
    """What a subscriber of ``HIT_RAISED`` gets: enough to open a case alert without a query."""

    hit_id: int
    account_id: str
    subject_id: int
    subject_role: str  # kyc, kyb, owner, p2p_counterparty
    subject_name: str
    list_name: str
    list_version_id: int
    entry_id: str
    entry_kind: str
    matched_name: str
    score: float
    reasons: list[str]
    programs: list[str]
    created_at: datetime  # when the hit was stored
    occurred_at: datetime  # when the event that named the subject happened (or the rescreen)


def hit_message(hit: Hit, role: SubjectRole, occurred_at: datetime) -> dict[str, Any]:
    """The JSON-able payload of ``HIT_RAISED`` for a new hit."""
    message = HitMessage(
        hit_id=hit.id,
        account_id=hit.account_id,
        subject_id=hit.subject_id,
        subject_role=role.value,
        subject_name=hit.subject_name,
        list_name=hit.list_name,
        list_version_id=hit.list_version_id,
        entry_id=hit.entry_id,
        entry_kind=str(hit.entry.get("kind", "")),
        matched_name=hit.matched_name,
        score=hit.score,
        reasons=list(hit.reasons),
        programs=[str(p) for p in hit.entry.get("programs", [])],
        created_at=hit.created_at,
        occurred_at=occurred_at,
    )
    payload: dict[str, Any] = msgspec.to_builtins(message)
    return payload


# --- API ----------------------------------------------------------------------------------


class ReviewIn(msgspec.Struct, forbid_unknown_fields=True):
    """A reviewer's decision on a hit: the subject is the listed party, or is not; the note
    says why (required)."""

    decision: Literal["match", "not_a_match"]
    note: LongText = ""


class HitOut(msgspec.Struct):
    id: int
    account_id: str
    subject_id: int
    subject_name: str
    list_name: str
    list_version_id: int
    entry_id: str
    matched_name: str
    score: float
    reasons: list[str]
    entry: dict[str, Any]
    status: str  # open, confirmed, not_a_match
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    note: str | None


def hit_out(hit: Hit) -> HitOut:
    return HitOut(
        hit.id,
        hit.account_id,
        hit.subject_id,
        hit.subject_name,
        hit.list_name,
        hit.list_version_id,
        hit.entry_id,
        hit.matched_name,
        hit.score,
        list(hit.reasons),
        dict(hit.entry),
        str(hit.status),
        hit.created_at,
        hit.decided_by,
        hit.decided_at,
        hit.note,
    )


class ListVersionOut(msgspec.Struct):
    id: int
    list_name: str
    version: int
    source: str
    current: bool
    files: list[dict[str, Any]]  # [{name, sha256, bytes}]
    entry_count: int
    loaded_at: datetime
    loaded_by: str


def version_out(version: ListVersion, current: bool) -> ListVersionOut:
    return ListVersionOut(
        version.id,
        version.list_name,
        version.version,
        version.source,
        current,
        [dict(f) for f in version.files],
        version.entry_count,
        version.loaded_at,
        version.loaded_by,
    )
