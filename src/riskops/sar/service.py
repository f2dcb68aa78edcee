"""SAR use cases: draft from a case, edit, submit, approve (four-eyes), export, file,
withdraw, legal hold and retention. Each takes the caller's session and principal, checks
the permission, writes its audit entry in the same transaction and never commits.

A report moves draft -> awaiting_approval -> approved -> filed, or is withdrawn (from any
state but filed). Every change bumps its ``version``; an export records the version it
shows, and filing takes only an export of the approved report's current version that
validated against its schema (ADR 0034).
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy.orm import Session

from riskops.accounts import risk_repository as accounts_repo
from riskops.accounts.models import AccountProfile
from riskops.audit.service import record
from riskops.auth.permissions import Permission, Principal, require, require_second_person
from riskops.cases import repository as cases_repo
from riskops.cases.models import ActionKind, ActionStatus, Case, CaseOutcome, CaseStatus
from riskops.kernel.clock import utcnow
from riskops.kernel.config import Settings, get_settings
from riskops.kernel.errors import Conflict, NotFound, ValidationFailed
from riskops.monitor import repository as monitor_repo
from riskops.sar import checks, fincen, goaml, xsd
from riskops.sar import repository as repo
from riskops.sar.filing import Entity, filing
from riskops.sar.models import ExportFormat, SarExport, SarReport, SarStatus
from riskops.sar.schemas import EditIn

P = Permission
S = SarStatus
VIEW = (P.SAR_DRAFT, P.SAR_APPROVE, P.SAR_FILE)
# Events of the timeline that move money, and which way for the account.
MONEY_TYPES = ("deposit", "withdrawal.requested", "transfer.internal", "p2p.order")
CANDIDATES = 200  # timeline events offered to pick from
_BUILD = {ExportFormat.GOAML: goaml.build, ExportFormat.FINCEN: fincen.build}
_json = msgspec.json.Decoder()


def accounts_under_sar(session: Session, account_ids: Collection[str]) -> set[str]:
    """Of ``account_ids``, those for which a SAR is being considered (a case referred for
    SAR or with a pending REFER_SAR action, a draft, an awaiting, approved or filed report).

    The tipping-off guard's question: nothing may tell these accounts' holders that a report
    is being made. No permission check: it reveals nothing to the caller's user, the guard
    only refuses a message."""
    return repo.accounts_under_sar(session, account_ids)


# --- reading --------------------------------------------------------------------------


def require_any(principal: Principal, permissions: Sequence[Permission]) -> None:
    """Refuse (403) unless the principal holds one of ``permissions``."""
    if not any(principal.can(p) for p in permissions):
        require(principal, permissions[0])


def _load(session: Session, sar_id: int, *, for_update: bool = True) -> SarReport:
    # The session does not autoflush and the read refreshes the row: flush what this
    # transaction changed first, so a refresh never drops it.
    session.flush()
    report = repo.get(session, sar_id, for_update=for_update)
    if report is None:
        raise NotFound(f"SAR {sar_id} not found")
    return report


def get(
    session: Session, principal: Principal, sar_id: int, *, now: datetime | None = None
) -> tuple[SarReport, list[str]]:
    """The report and the accounts it names; audited (it shows personal data)."""
    require_any(principal, VIEW)
    report = _load(session, sar_id, for_update=False)
    record(session, principal, "sar.view", "sar", report.id, now=now)
    return report, repo.accounts_of(session, report.id)


def listing(
    session: Session,
    principal: Principal,
    *,
    status: SarStatus | None = None,
    case_id: int | None = None,
    account_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[SarReport], int]:
    """A page of reports, newest first (no personal data: status, case, people, dates)."""
    require_any(principal, VIEW)
    return repo.listing(
        session, status=status, case_id=case_id, account_id=account_id, limit=limit, offset=offset
    )


def accounts_of(session: Session, sar_id: int) -> list[str]:
    """The accounts a report names (for the answer of a call that was allowed to see it)."""
    return repo.accounts_of(session, sar_id)


def of_case(session: Session, principal: Principal, case_id: int) -> list[SarReport]:
    """The case's reports, newest first (for its panel)."""
    require_any(principal, VIEW)
    return repo.of_case(session, case_id)


def exports(session: Session, principal: Principal, sar_id: int) -> list[SarExport]:
    require_any(principal, VIEW)
    return repo.exports_of(session, sar_id)


def export_file(session: Session, principal: Principal, sar_id: int, export_id: int) -> SarExport:
    """One stored export (the file itself); audited as a view of the report."""
    require_any(principal, VIEW)
    found = repo.get_export(session, export_id)
    if found is None or found.sar_id != sar_id:
        raise NotFound(f"export {export_id} of SAR {sar_id} not found")
    record(session, principal, "sar.download", "sar", sar_id, {"export_id": export_id})
    return found


def candidates(session: Session, principal: Principal, sar_id: int) -> list[dict[str, Any]]:
    """The money-moving events of the report's accounts' timelines, newest first: what the
    drafter picks the report's transactions from."""
    require_any(principal, VIEW)
    report = _load(session, sar_id, for_update=False)
    found: list[dict[str, Any]] = []
    for account in repo.accounts_of(session, report.id):
        found.extend(_timeline(session, account))
    found.sort(key=lambda t: str(t["at"]), reverse=True)
    return found[:CANDIDATES]


def _timeline(session: Session, account_id: str) -> list[dict[str, Any]]:
    rows = monitor_repo.account_timeline(
        session, account_id, types=MONEY_TYPES, before_seq=None, limit=CANDIDATES
    )
    return [_transaction(r.event_id, r.type, r.occurred_at, _json.decode(r.payload)) for r in rows]


def _transaction(event_id: str, kind: str, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    direction = "in" if kind == "deposit" else "out"
    if kind == "p2p.order":
        direction = "in" if data.get("side") == "buy" else "out"
    counterparty = (
        data.get("address")
        or data.get("source_address")
        or data.get("counterparty_name")
        or data.get("counterparty_id")
        or ""
    )
    return {
        "event_id": event_id,
        "at": _utc(at).isoformat(),
        "type": kind,
        "direction": direction,
        "amount": str(data.get("amount", "0")),
        "asset": str(data.get("asset", "")),
        "usd_value": str(data.get("usd_value", "0")),
        "counterparty": str(counterparty),
    }


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


# --- drafting -------------------------------------------------------------------------


def retention_until(moment: datetime, settings: Settings) -> datetime:
    """``moment`` plus the retention policy's years (29 February keeps to the 28th)."""
    years = settings.sar_retention_years
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


def _referred(session: Session, case: Case) -> bool:
    if case.outcome is CaseOutcome.SAR_REFERRED:
        return True
    return any(
        a.kind is ActionKind.REFER_SAR and a.status is not ActionStatus.REFUSED
        for a in cases_repo.actions_of(session, case.id)
    )


def _subject(profile: AccountProfile | None, account_id: str) -> dict[str, Any]:
    if profile is None:
        return {"kind": "person", "account_id": account_id}
    name = (profile.full_name or "").strip()
    if profile.corporate:
        return {
            "kind": "entity",
            "name": name,
            "country": profile.kyb_country or profile.country or "",
            "phone": profile.phone or "",
            "account_id": account_id,
        }
    first, _, last = name.rpartition(" ")
    return {
        "kind": "person",
        "first_name": first,
        "last_name": last,
        "name": name,
        "birth_date": profile.birth_date.isoformat() if profile.birth_date else None,
        "nationality": profile.nationality or "",
        "country": profile.country or "",
        "id_country": profile.document_country or "",
        "phone": profile.phone or "",
        "account_id": account_id,
    }


def _narrative(session: Session, case: Case) -> str:
    """The case's notes as the narrative's first draft (the drafter rewrites it)."""
    parts = [f"Case {case.id}: {case.title}."]
    for note in cases_repo.notes_of(session, case.id):
        for section in ("summary", "evidence", "findings", "decision", "rationale"):
            text = (note.sections.get(section) or "").strip()
            if text:
                parts.append(f"{section.capitalize()}: {text}")
    return "\n\n".join(parts)


def draft_from_case(
    session: Session,
    principal: Principal,
    case_id: int,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> SarReport:
    """A draft from a case referred for SAR (or at least open with an account): its
    account's KYC as the subject, the events its alerts name as the transactions, its notes
    as the narrative. One live report per case (409 while another is not withdrawn)."""
    require(principal, P.SAR_DRAFT)
    now = now or utcnow()
    settings = settings or get_settings()
    case = cases_repo.get_case(session, case_id)
    if case is None:
        raise NotFound(f"case {case_id} not found")
    if case.account_id is None:
        raise Conflict(f"case {case_id} is about no account yet: nothing to report")
    if case.status is CaseStatus.CLOSED and not _referred(session, case):
        raise Conflict(f"case {case_id} was closed without a SAR referral")
    live = [r for r in repo.of_case(session, case_id) if r.status is not S.WITHDRAWN]
    if live:
        raise Conflict(f"case {case_id} already has SAR {live[0].id} ({live[0].status.value})")
    named = {
        str(a.detail["event_id"])
        for a in cases_repo.alerts_of(session, case_id)
        if a.detail.get("event_id")
    }
    chosen = [t for t in _timeline(session, case.account_id) if t["event_id"] in named]
    chosen.sort(key=lambda t: str(t["at"]))
    profile = accounts_repo.profiles(session, [case.account_id]).get(case.account_id)
    report = repo.add(
        session,
        SarReport(
            case_id=case.id,
            status=S.DRAFT,
            typology=case.typology or "",
            activity_from=datetime.fromisoformat(chosen[0]["at"]) if chosen else case.opened_at,
            activity_to=datetime.fromisoformat(chosen[-1]["at"]) if chosen else None,
            narrative=_narrative(session, case),
            subjects=[_subject(profile, case.account_id)],
            transactions=chosen,
            drafted_by=principal.name,
            drafted_at=now,
            updated_at=now,
            retention_until=retention_until(now, settings),
            legal_hold=False,
            version=1,
        ),
    )
    repo.set_accounts(session, report.id, [case.account_id])
    detail = {"case_id": case.id, "account_id": case.account_id, "transactions": len(chosen)}
    record(session, principal, "sar.draft", "sar", report.id, detail, now=now)
    return report


def _diff(before: Any, after: Any) -> Any:
    if isinstance(before, str) and isinstance(after, str) and ("\n" in before or len(before) > 200):
        lines = difflib.unified_diff(
            before.splitlines(), after.splitlines(), "before", "after", lineterm="", n=1
        )
        return {"diff": list(lines)[:400]}
    return {"from": before, "to": after}


def _plain(value: Any) -> Any:
    return msgspec.to_builtins(value)


def edit(
    session: Session,
    principal: Principal,
    sar_id: int,
    body: EditIn,
    *,
    now: datetime | None = None,
) -> SarReport:
    """Change a draft (or a report awaiting approval, which goes back to draft); audited
    with a diff of what changed."""
    require(principal, P.SAR_DRAFT)
    now = now or utcnow()
    report = _load(session, sar_id)
    if report.status not in (S.DRAFT, S.AWAITING_APPROVAL):
        raise Conflict(f"SAR {sar_id} is {report.status.value}; only a draft can be edited")
    changes: dict[str, Any] = {}
    new: dict[str, Any] = {}
    if body.typology is not None:
        new["typology"] = body.typology.strip()
    if body.narrative is not None:
        new["narrative"] = body.narrative
    if body.activity_from is not None:
        new["activity_from"] = body.activity_from
    if body.activity_to is not None:
        new["activity_to"] = body.activity_to
    if body.subjects is not None:
        new["subjects"] = [_plain(s) for s in body.subjects]
    if body.transactions is not None:
        new["transactions"] = [_plain(t) for t in body.transactions]
    elif body.event_ids is not None:
        new["transactions"] = _picked(session, report, body.event_ids)
    for key, value in new.items():
        old = getattr(report, key)
        if old != value:
            changes[key] = _diff(_plain(old), _plain(value))
            setattr(report, key, value)
    problems = checks.text_problems(report)
    if problems:
        raise ValidationFailed("the report holds characters no file can carry", details=problems)
    if "subjects" in new:
        named = [str(s.get("account_id")) for s in report.subjects if s.get("account_id")]
        repo.set_accounts(session, report.id, sorted({*named, *repo.accounts_of(session, sar_id)}))
    if not changes:
        return report
    if report.status is S.AWAITING_APPROVAL:
        changes["status"] = {"from": report.status.value, "to": S.DRAFT.value}
        report.status = S.DRAFT
        report.submitted_at = None
    report.updated_at = now
    report.version += 1
    record(session, principal, "sar.edit", "sar", report.id, {"changes": changes}, now=now)
    return report


def _picked(session: Session, report: SarReport, event_ids: list[str]) -> list[dict[str, Any]]:
    wanted = list(dict.fromkeys(event_ids))
    offered: dict[str, dict[str, Any]] = {}
    for account in repo.accounts_of(session, report.id):
        offered.update({t["event_id"]: t for t in _timeline(session, account)})
    kept = {str(t.get("event_id")): t for t in report.transactions}
    unknown = [e for e in wanted if e not in offered and e not in kept]
    if unknown:
        raise ValidationFailed(
            "some events are not on the report's accounts' timelines",
            details=[
                {"field": f"event_ids[{wanted.index(e)}]", "reason": f"no event {e!r}"}
                for e in unknown
            ],
        )
    chosen = [offered.get(e) or kept[e] for e in wanted]
    return sorted(chosen, key=lambda t: str(t["at"]))


# --- approval -------------------------------------------------------------------------


def submit(
    session: Session, principal: Principal, sar_id: int, *, now: datetime | None = None
) -> SarReport:
    """Ask compliance to approve a complete draft (field-level reasons when it is not)."""
    require(principal, P.SAR_DRAFT)
    now = now or utcnow()
    report = _load(session, sar_id)
    if report.status is not S.DRAFT:
        raise Conflict(f"SAR {sar_id} is {report.status.value}; only a draft can be submitted")
    problems = checks.complete(report)
    if problems:
        raise ValidationFailed("the draft is not complete", details=problems)
    _move(session, principal, report, S.AWAITING_APPROVAL, now)
    report.submitted_at = now
    return report


def approve(
    session: Session,
    principal: Principal,
    sar_id: int,
    *,
    decision: str = "approve",
    comment: str = "",
    now: datetime | None = None,
) -> SarReport:
    """Compliance's four-eyes decision: approve, or return to the drafter with a comment.
    The drafter cannot decide their own report."""
    require(principal, P.SAR_APPROVE)
    now = now or utcnow()
    report = _load(session, sar_id)
    require_second_person(principal, report.drafted_by, "approve or return")
    if report.status is not S.AWAITING_APPROVAL:
        raise Conflict(f"SAR {sar_id} is {report.status.value}, not awaiting approval")
    if decision == "return":
        if not comment.strip():
            raise ValidationFailed(
                "say why the report goes back",
                details=[{"field": "comment", "reason": "required to return a report"}],
            )
        _move(session, principal, report, S.DRAFT, now, {"comment": comment})
        report.submitted_at = None
        return report
    _move(session, principal, report, S.APPROVED, now, {"comment": comment} if comment else None)
    report.approved_by = principal.name
    report.approved_at = now
    return report


def withdraw(
    session: Session,
    principal: Principal,
    sar_id: int,
    reason: str,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> SarReport:
    """Decide not to file (compliance); the record is kept for the retention period."""
    require(principal, P.SAR_APPROVE)
    now = now or utcnow()
    report = _load(session, sar_id)
    if report.status in (S.FILED, S.WITHDRAWN):
        raise Conflict(f"SAR {sar_id} is {report.status.value}")
    if not reason.strip():
        raise ValidationFailed(
            "say why", details=[{"field": "reason", "reason": "required to withdraw a report"}]
        )
    _move(session, principal, report, S.WITHDRAWN, now, {"reason": reason})
    report.withdrawn_reason = reason
    report.retention_until = retention_until(now, settings or get_settings())
    return report


def _move(
    session: Session,
    principal: Principal,
    report: SarReport,
    to: SarStatus,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    moved = {"from": report.status.value, "to": to.value, **(detail or {})}
    report.status = to
    report.updated_at = now
    report.version += 1
    record(session, principal, f"sar.{to.value}", "sar", report.id, moved, now=now)


# --- export and filing ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Preview:
    """An export that was built and checked, valid or not (not stored)."""

    format: ExportFormat
    content: bytes
    sha256: str
    errors: list[dict[str, str]]


def check(
    session: Session,
    principal: Principal,
    sar_id: int,
    fmt: ExportFormat,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> Preview:
    """Build the report in ``fmt`` and validate it against the format's schema: the report's
    own field reasons first, then the schema's (by element path). Nothing is stored."""
    require_any(principal, (P.SAR_DRAFT, P.SAR_FILE))
    now = now or utcnow()
    settings = settings or get_settings()
    report = _load(session, sar_id, for_update=False)
    if report.status is S.WITHDRAWN:
        raise Conflict(f"SAR {sar_id} is withdrawn")
    problems = checks.for_format(report, fmt)
    if checks.text_problems(report):
        return Preview(fmt, b"", "", problems)
    # The filing date of an export is the day it is made; a filed report's, its filing's.
    prepared = report.filed_at or now
    accounts = repo.accounts_of(session, sar_id)
    opened = {
        a: p.opened_at
        for a, p in accounts_repo.profiles(session, accounts).items()
        if p.opened_at is not None
    }
    shaped = filing(report, accounts, Entity.from_settings(settings), prepared, opened)
    checked = xsd.validate(_BUILD[fmt](shaped), fmt, settings)
    return Preview(fmt, checked.content, checked.sha256, problems + checked.errors)


def export(
    session: Session,
    principal: Principal,
    sar_id: int,
    fmt: ExportFormat,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> SarExport:
    """Export the report in ``fmt`` and keep the file, once it validates against the
    format's schema; otherwise refuse (422) with every reason, field by field."""
    now = now or utcnow()
    preview = check(session, principal, sar_id, fmt, now=now, settings=settings)
    if preview.errors:
        raise ValidationFailed(
            f"the {fmt.value} export does not validate against its schema",
            details=preview.errors,
        )
    report = _load(session, sar_id, for_update=False)
    stored = repo.add(
        session,
        SarExport(
            sar_id=sar_id,
            format=fmt,
            created_at=now,
            created_by=principal.name,
            report_version=report.version,
            sha256=preview.sha256,
            content=preview.content.decode(),
        ),
    )
    detail = {"format": fmt.value, "export_id": stored.id, "sha256": preview.sha256}
    record(session, principal, "sar.export", "sar", sar_id, detail, now=now)
    return stored


def file(
    session: Session,
    principal: Principal,
    sar_id: int,
    export_id: int,
    *,
    fiu_reference: str = "",
    now: datetime | None = None,
    settings: Settings | None = None,
) -> SarReport:
    """Mark an approved report filed with the export sent: a validated export of its current
    version. Keeps the file's hash, who and when, the FIU's reference; retention runs from
    the filing."""
    require(principal, P.SAR_FILE)
    now = now or utcnow()
    report = _load(session, sar_id)
    if report.status is not S.APPROVED:
        raise Conflict(f"SAR {sar_id} is {report.status.value}; only an approved one is filed")
    sent = repo.get_export(session, export_id)
    if sent is None or sent.sar_id != sar_id:
        raise ValidationFailed(
            "no such export of this report",
            details=[{"field": "export_id", "reason": f"no export {export_id} of SAR {sar_id}"}],
        )
    if sent.report_version != report.version:
        raise Conflict(
            f"export {export_id} shows version {sent.report_version} of the report, which is "
            f"now at version {report.version}: export the approved report again"
        )
    _move(session, principal, report, S.FILED, now, {"export_id": sent.id, "sha256": sent.sha256})
    report.filed_export_id = sent.id
    report.filed_format = sent.format.value
    report.filed_sha256 = sent.sha256
    report.filed_at = now
    report.filed_by = principal.name
    report.fiu_reference = fiu_reference.strip() or None
    report.retention_until = retention_until(now, settings or get_settings())
    return report


# --- retention ------------------------------------------------------------------------


def set_legal_hold(
    session: Session,
    principal: Principal,
    sar_id: int,
    *,
    hold: bool,
    reason: str,
    now: datetime | None = None,
) -> SarReport:
    """Set or lift a legal hold (a report under hold is never purged); the reason is
    required and audited."""
    require(principal, P.RETENTION_MANAGE)
    now = now or utcnow()
    if not reason.strip():
        raise ValidationFailed(
            "say why", details=[{"field": "reason", "reason": "required for a legal hold"}]
        )
    report = _load(session, sar_id)
    if report.legal_hold == hold:
        raise Conflict(f"SAR {sar_id} is {'already' if hold else 'not'} under legal hold")
    report.legal_hold = hold
    report.legal_hold_reason = reason if hold else None
    report.updated_at = now
    action = "sar.legal_hold" if hold else "sar.legal_hold_lifted"
    record(session, principal, action, "sar", report.id, {"reason": reason}, now=now)
    return report


@dataclass(frozen=True, slots=True)
class Purged:
    purged: list[int]
    kept_on_hold: list[int]
    dry_run: bool


def purge(
    session: Session,
    principal: Principal,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    limit: int = 1000,
) -> Purged:
    """Delete the reports past their retention date (with their exports), except those
    under legal hold; each deletion audited. ``dry_run`` says what would go."""
    require(principal, P.RETENTION_MANAGE)
    now = now or utcnow()
    session.flush()
    due = repo.expired(session, now, limit)
    held = [r.id for r in due if r.legal_hold]
    gone = [r for r in due if not r.legal_hold]
    if not dry_run:
        for r in gone:
            detail = {
                "case_id": r.case_id,
                "status": r.status.value,
                "retention_until": r.retention_until.isoformat(),
                "filed_sha256": r.filed_sha256,
            }
            record(session, principal, "sar.purge", "sar", r.id, detail, now=now)
        repo.purge(session, [r.id for r in gone])
    return Purged([r.id for r in gone], held, dry_run)


def total_usd(report: SarReport) -> Decimal:
    return sum((Decimal(str(t.get("usd_value", "0"))) for t in report.transactions), Decimal(0))
