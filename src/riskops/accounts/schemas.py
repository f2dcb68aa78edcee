"""The API shapes of restrictions and account actions (msgspec). What the account pages
show (the account 360) is ``riskops.investigation.schemas``."""

from __future__ import annotations

from datetime import datetime

import msgspec

from riskops.accounts.models import AccountAction, Restriction, RestrictionKind
from riskops.kernel.bounds import LongText, Name

# --- API shapes: restrictions and account actions -------------------------------------

# ``actor`` in the bodies below is accepted for older clients and ignored: who acts is the
# authenticated caller (session or API token), never a name the body claims.


class RestrictionRequest(msgspec.Struct, forbid_unknown_fields=True):
    kind: RestrictionKind
    reason: LongText
    expires_at: datetime | None = None
    actor: Name | None = None  # ignored


class LiftRequest(msgspec.Struct, forbid_unknown_fields=True):
    reason: LongText = ""  # required: the service refuses a lift without one
    actor: Name | None = None  # ignored


class CommentIn(msgspec.Struct, forbid_unknown_fields=True):
    comment: LongText = ""


class RestrictionOut(msgspec.Struct):
    id: int
    account_id: str
    kind: str
    reason: str
    created_by: str  # the maker
    approved_by: str | None  # the second person, when four-eyes asked for one
    created_at: datetime
    expires_at: datetime | None
    lifted_at: datetime | None
    lifted_by: str | None
    active: bool


class AccountActionOut(msgspec.Struct):
    """An account action waiting for (or decided by) a second person."""

    id: int
    account_id: str
    kind: str  # full_freeze, offboard
    restriction: str  # the restriction it imposes once approved
    expires_at: datetime | None
    reason: str
    maker: str
    requested_at: datetime
    status: str  # pending_approval, approved, refused
    approver: str | None
    decided_at: datetime | None
    comment: str | None
    restriction_id: int | None


def restriction_out(r: Restriction, now: datetime) -> RestrictionOut:
    return RestrictionOut(
        r.id,
        r.account_id,
        str(r.kind),
        r.reason,
        r.created_by,
        r.approved_by,
        r.created_at,
        r.expires_at,
        r.lifted_at,
        r.lifted_by,
        r.active_at(now),
    )


def action_out(a: AccountAction) -> AccountActionOut:
    expires = a.params.get("expires_at")
    return AccountActionOut(
        a.id,
        a.account_id,
        str(a.kind),
        str(a.params.get("restriction", "")),
        datetime.fromisoformat(expires) if expires else None,
        a.reason,
        a.requested_by,
        a.requested_at,
        str(a.status),
        a.decided_by,
        a.decided_at,
        a.decision_comment,
        a.restriction_id,
    )
