"""Roles, permissions and the one check every service calls (``require``).

Permissions are checked in the service layer, not only in the page: a service function that
changes or shows something takes the acting ``Principal`` and calls ``require`` first. A person
acts through their role's permissions; an exchange service acts through an API token whose
scopes are a subset of the same permissions.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from riskops.kernel.errors import Forbidden


class Role(enum.StrEnum):
    ANALYST = "analyst"
    SENIOR_ANALYST = "senior_analyst"
    MANAGER = "manager"
    RULE_AUTHOR = "rule_author"
    COMPLIANCE = "compliance"
    ADMIN = "admin"


class Permission(enum.StrEnum):
    # cases and queues
    CASE_VIEW = "case:view"
    CASE_WORK = "case:work"  # take next, review, notes, decisions on own cases
    CASE_ASSIGN = "case:assign"  # assign or reassign to someone else
    CASE_APPROVE = "case:approve"  # four-eyes approval of high-impact actions
    CASE_REOPEN = "case:reopen"
    QUEUE_MANAGE = "queue:manage"  # queue settings, shifts
    # accounts and money
    ACCOUNT_VIEW = "account:view"
    ACCOUNT_RESTRICT = "account:restrict"
    HOLD_RESOLVE = "hold:resolve"
    SAR_REFER = "sar:refer"
    SAR_FILE = "sar:file"
    # screening
    SCREENING_REVIEW = "screening:review"  # decide a hit: match or not a match
    SCREENING_LOAD = "screening:load"  # load a new version of a sanctions / PEP list
    # KYC / KYB
    KYC_REVIEW = "kyc:review"  # decide a KYC or KYB review: approve, reject, ask for more
    # rules
    RULE_AUTHOR = "rule:author"
    RULE_PROMOTE = "rule:promote"
    # administration and oversight
    USER_MANAGE = "user:manage"
    TOKEN_MANAGE = "token:manage"
    AUDIT_VIEW = "audit:view"
    DEAD_LETTER_VIEW = "dead_letter:view"  # refused input, with its raw payload
    DEAD_LETTER_REPLAY = "dead_letter:replay"  # ingest or decide a dead letter again
    # machine-to-machine (API token scopes for the exchange's services)
    EVENT_INGEST = "event:ingest"
    DECISION_REQUEST = "decision:request"
    SIGNAL_SUBMIT = "signal:submit"
    SERVICE_REQUEST_CREATE = "service_request:create"

    CONTACT_SEND = "contact:send"  # preview and send a message to an account holder
    OUTBOX_VIEW = "outbox:view"  # what riskops sent or tries to send, with delivery status
    OUTBOX_RETRY = "outbox:retry"  # send a dead message again
    WEBHOOK_MANAGE = "webhook:manage"  # subscriptions of the exchange's systems
    REPORT_VIEW = "report:view"  # trends, dashboards, digests
    QA_REVIEW = "qa:review"  # second review of a sampled closed case
    QA_MANAGE = "qa:manage"  # the sampling plan
    SAR_DRAFT = "sar:draft"  # write and edit a SAR draft from a case
    SAR_APPROVE = "sar:approve"  # compliance's four-eyes approval of a draft
    RETENTION_MANAGE = "retention:manage"  # legal holds, the purge


P = Permission
_ANALYST = frozenset(
    {
        P.CASE_VIEW,
        P.CASE_WORK,
        P.ACCOUNT_VIEW,
        P.ACCOUNT_RESTRICT,
        P.HOLD_RESOLVE,
        P.SAR_REFER,
        P.SERVICE_REQUEST_CREATE,
        P.SCREENING_REVIEW,
        P.CONTACT_SEND,
        P.OUTBOX_VIEW,
        P.SAR_DRAFT,
    }
)
_SENIOR = _ANALYST | {P.CASE_ASSIGN, P.CASE_APPROVE, P.CASE_REOPEN, P.KYC_REVIEW, P.QA_REVIEW}
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ANALYST: _ANALYST,
    Role.SENIOR_ANALYST: frozenset(_SENIOR),
    Role.MANAGER: frozenset(
        _SENIOR
        | {P.QUEUE_MANAGE, P.AUDIT_VIEW, P.DEAD_LETTER_VIEW, P.SCREENING_LOAD}
        | {P.REPORT_VIEW, P.QA_MANAGE, P.OUTBOX_RETRY}
    ),
    Role.RULE_AUTHOR: frozenset(
        {P.CASE_VIEW, P.ACCOUNT_VIEW, P.RULE_AUTHOR, P.RULE_PROMOTE, P.DEAD_LETTER_VIEW}
    ),
    Role.COMPLIANCE: frozenset(
        {P.CASE_VIEW, P.ACCOUNT_VIEW, P.CASE_APPROVE, P.CASE_REOPEN, P.SAR_REFER, P.SAR_FILE}
        | {P.AUDIT_VIEW, P.SCREENING_REVIEW, P.KYC_REVIEW}
        | {P.SAR_DRAFT, P.SAR_APPROVE, P.REPORT_VIEW, P.QA_REVIEW, P.QA_MANAGE, P.OUTBOX_VIEW}
        | {P.RETENTION_MANAGE}
    ),
    Role.ADMIN: frozenset(
        {P.USER_MANAGE, P.TOKEN_MANAGE, P.AUDIT_VIEW, P.QUEUE_MANAGE, P.CASE_VIEW, P.ACCOUNT_VIEW}
        | {P.DEAD_LETTER_VIEW, P.DEAD_LETTER_REPLAY, P.SCREENING_LOAD}
        | {P.WEBHOOK_MANAGE, P.OUTBOX_VIEW, P.OUTBOX_RETRY}
    ),
}

# What an API token may be granted: the machine-facing permissions and read access.
TOKEN_SCOPES: frozenset[Permission] = frozenset(
    {
        P.EVENT_INGEST,
        P.DECISION_REQUEST,
        P.SIGNAL_SUBMIT,
        P.SERVICE_REQUEST_CREATE,
        P.CASE_VIEW,
        P.ACCOUNT_VIEW,
        P.HOLD_RESOLVE,
        P.ACCOUNT_RESTRICT,
        P.DEAD_LETTER_VIEW,
        P.DEAD_LETTER_REPLAY,
        P.WEBHOOK_MANAGE,
        P.OUTBOX_VIEW,
        P.REPORT_VIEW,
    }
)


class PrincipalKind(enum.StrEnum):
    USER = "user"
    TOKEN = "token"
    SYSTEM = "system"
    ANONYMOUS = "anonymous"  # not logged in: what a refused login is recorded as


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting: a logged-in user, an API token, or riskops itself (the monitor, intake)."""

    kind: PrincipalKind
    id: int | None
    name: str  # username, token name, or "system:<component>"; what the audit trail shows
    role: Role | None = None
    permissions: frozenset[Permission] = field(default_factory=frozenset)

    @classmethod
    def for_user(cls, user_id: int, username: str, role: Role) -> Principal:
        return cls(PrincipalKind.USER, user_id, username, role, ROLE_PERMISSIONS[role])

    @classmethod
    def system(cls, component: str) -> Principal:
        """riskops acting on its own (intake of alerts, SLA sweeps): every permission."""
        return cls(PrincipalKind.SYSTEM, None, f"system:{component}", None, frozenset(Permission))

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions


def require(principal: Principal, permission: Permission) -> None:
    """Refuse (403) unless the principal holds the permission."""
    if permission not in principal.permissions:
        who = principal.role or principal.kind
        raise Forbidden(
            f"{who} {principal.name!r} may not do this (needs {permission})",
            permission=permission.value,
        )


def require_second_person(approver: Principal, maker: str, acts: str = "approve or refuse") -> None:
    """Four-eyes: refuse (403) when the approver is the maker of the action (``acts`` names
    what the maker may not do to it, for the message)."""
    if approver.name == maker:
        raise Forbidden(f"four-eyes: the maker of an action cannot {acts} it")
