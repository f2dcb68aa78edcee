"""Shapes that cross the cases package boundary (API bodies, what the alert sources send)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec

from riskops.accounts.models import RestrictionKind
from riskops.cases.models import ActionKind, AlertSource
from riskops.kernel.bounds import NAME_CHARS, LongText, Name, RowId


class AlertIn(msgspec.Struct, kw_only=True):
    """An alert from any of the four sources, before it joins a case.

    ``source_ref`` is the source's own id (monitor alert id, Message-ID, provider signal id,
    service request id): receiving the same (source, source_ref) again changes nothing.
    ``account_id`` is None when the source could not be linked to an account: the alert opens
    a case in the triage queue, so it is never lost.
    """

    source: AlertSource
    source_ref: str
    account_id: str | None
    kind: str  # rule id, "sim_swap", "number_ported", "otp_failure", "dispute", "email", ...
    title: str
    severity: int = 50  # 0-100
    typology: str | None = None
    amount_usd: Decimal = Decimal(0)
    reason: str = ""
    detail: dict[str, Any] = msgspec.field(default_factory=dict)
    occurred_at: datetime | None = None  # defaults to when it was received
    queue_key: str | None = None  # force a queue (e.g. "service_requests"); else routed


# --- decisions ------------------------------------------------------------------------

# Why a case was dismissed as legitimate.
DISMISS_REASONS = (
    "false_positive",
    "verified_by_customer",
    "known_behaviour",
    "duplicate",
    "other",
)


class NoteSections(msgspec.Struct, kw_only=True):
    """The note every decision needs; each section is required (checked with field details)."""

    summary: LongText = ""
    evidence: LongText = ""  # what was reviewed
    findings: LongText = ""
    decision: LongText = ""
    rationale: LongText = ""


MAX_HOLD_CHOICES = 1000  # a case with more held withdrawals is decided in several steps


class HoldChoice(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What a decision does with one held withdrawal of the case."""

    hold_id: RowId
    resolution: Literal["release", "reject"]


class DecisionIn(msgspec.Struct, kw_only=True):
    """An analyst's decision on a case: the action, its note and the action's parameters.

    - dismiss: ``reason_code`` (one of DISMISS_REASONS)
    - restrict: ``restriction`` and/or ``restrictions``, optional ``expires_at``
      (a ``full_freeze`` waits for a second person's approval)
    - lift_restriction: ``restriction_id``
    - release_hold / reject_hold: ``hold_id`` (optional when the case has one held withdrawal)
    - request_info: ``due_at`` (the SLA pauses until the reply or that time)
    - require_rekyc, escalate: nothing more; offboard, refer_sar: wait for approval

    Every decision may resolve the case's held withdrawals: ``holds`` names release or
    reject for each (resolved with the decision, or with its approval for a four-eyes
    action). A decision that closes the case must resolve every hold of the case still
    held, or say in ``holds_reason`` why they stay held (recorded in the history and audit).
    """

    action: ActionKind
    note: NoteSections
    restriction: RestrictionKind | None = None
    restrictions: list[RestrictionKind] = msgspec.field(default_factory=list)
    expires_at: datetime | None = None
    restriction_id: RowId | None = None
    hold_id: RowId | None = None
    reason_code: Name | None = None
    due_at: datetime | None = None
    holds: Annotated[list[HoldChoice], msgspec.Meta(max_length=MAX_HOLD_CHOICES)] = msgspec.field(
        default_factory=list
    )
    holds_reason: LongText = ""


class AssignIn(msgspec.Struct, kw_only=True):
    user_id: RowId | None = None  # None: unassign


class TakeNextIn(msgspec.Struct, kw_only=True):
    queue_keys: list[Name] | None = None


class CommentIn(msgspec.Struct, kw_only=True):
    comment: LongText = ""


class TextIn(msgspec.Struct, kw_only=True):
    text: LongText


class ReasonIn(msgspec.Struct, kw_only=True):
    reason: LongText


class QueueUpdateIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Queue settings to change; fields left out stay as they are."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=NAME_CHARS)] | None = None
    description: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    sla_minutes: Annotated[int, msgspec.Meta(ge=1, le=60 * 24 * 30)] | None = None
    position: Annotated[int, msgspec.Meta(ge=0, le=1000)] | None = None


class ShiftIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A shift on the calendar: who, when, and which queues (none: every queue)."""

    user_id: RowId
    starts_at: datetime
    ends_at: datetime
    queue_keys: list[Name] = msgspec.field(default_factory=list)


# --- responses ------------------------------------------------------------------------


class QueueSettingsOut(msgspec.Struct):
    key: str
    name: str
    description: str
    sla_minutes: int
    position: int


class ShiftOut(msgspec.Struct):
    id: int
    user_id: int
    starts_at: datetime
    ends_at: datetime
    queue_keys: list[str]


class QueueOut(msgspec.Struct):
    key: str
    name: str
    sla_minutes: int
    open: int
    unassigned: int
    oldest_open_at: datetime | None
    breached: int
    due_soon: int


class CaseOut(msgspec.Struct):
    id: int
    account_id: str | None
    queue_key: str
    status: str
    title: str
    typology: str | None
    severity: int
    amount_at_risk_usd: Decimal
    priority: int
    assignee_id: int | None
    alert_count: int
    opened_at: datetime
    due_at: datetime
    sla_paused_at: datetime | None
    waiting_until: datetime | None
    closed_at: datetime | None
    outcome: str | None
    reason_code: str | None


class AlertOut(msgspec.Struct):
    id: int
    source: str
    source_ref: str
    account_id: str | None
    kind: str
    typology: str | None
    severity: int
    amount_usd: Decimal
    title: str
    reason: str
    detail: dict[str, Any]
    occurred_at: datetime
    received_at: datetime
    duplicate_of: int | None


class EventOut(msgspec.Struct):
    id: int
    at: datetime
    actor: str
    kind: str
    from_status: str | None
    to_status: str | None
    reason: str
    detail: dict[str, Any]


class AmendmentOut(msgspec.Struct):
    id: int
    author: str
    created_at: datetime
    text: str


class NoteOut(msgspec.Struct):
    id: int
    author: str
    created_at: datetime
    sections: dict[str, str]
    amendments: list[AmendmentOut]


class ActionOut(msgspec.Struct):
    id: int
    case_id: int
    note_id: int
    kind: str
    params: dict[str, Any]
    status: str
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_comment: str | None
    result: dict[str, Any]


class CaseDetailOut(msgspec.Struct):
    case: CaseOut
    alerts: list[AlertOut]
    events: list[EventOut]
    notes: list[NoteOut]
    actions: list[ActionOut]
    assignee: str | None


class DecisionOut(msgspec.Struct):
    case: CaseOut
    action: ActionOut
    note_id: int
    pending_approval: bool


def _columns(row: Any, cls: type[Any]) -> dict[str, Any]:
    return {f: getattr(row, f) for f in cls.__struct_fields__ if hasattr(row, f)}


def case_out(case: Any) -> CaseOut:
    return CaseOut(**_columns(case, CaseOut))


def alert_out(alert: Any) -> AlertOut:
    return AlertOut(**_columns(alert, AlertOut))


def event_out(event: Any) -> EventOut:
    return EventOut(**_columns(event, EventOut))


def action_out(action: Any) -> ActionOut:
    return ActionOut(**_columns(action, ActionOut))


def amendment_out(amendment: Any) -> AmendmentOut:
    return AmendmentOut(**_columns(amendment, AmendmentOut))


def queue_settings_out(queue: Any) -> QueueSettingsOut:
    return QueueSettingsOut(**_columns(queue, QueueSettingsOut))


def shift_out(shift: Any) -> ShiftOut:
    return ShiftOut(**_columns(shift, ShiftOut))


def queue_out(stats: Any) -> QueueOut:
    return QueueOut(**_columns(stats, QueueOut))


def detail_out(detail: Any) -> CaseDetailOut:
    return CaseDetailOut(
        case=case_out(detail.case),
        alerts=[alert_out(a) for a in detail.alerts],
        events=[event_out(e) for e in detail.events],
        notes=[
            NoteOut(
                v.note.id,
                v.note.author,
                v.note.created_at,
                v.note.sections,
                [amendment_out(a) for a in v.amendments],
            )
            for v in detail.notes
        ],
        actions=[action_out(a) for a in detail.actions],
        assignee=detail.assignee.username if detail.assignee else None,
    )


def decision_out(result: Any) -> DecisionOut:
    return DecisionOut(
        case_out(result.case), action_out(result.action), result.note.id, result.pending_approval
    )
