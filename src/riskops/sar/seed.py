"""Demo SARs: one approved report with a validated goAML export (ready to be filed) and one
draft (to walk through the console), from open cases of the demo's people.

Called by the composition after the case work is seeded (``riskops.demo``):
``riskops.sar.seed.seed(session, now, rng)``. The demo's account holders are synthetic:
what their KYC lacks for goAML (gender, an identity document) is made up here, names in
ASCII (goAML's name pattern).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from anyascii import anyascii
from sqlalchemy import select
from sqlalchemy.orm import Session

from riskops.auth import repository as auth_repo
from riskops.auth.permissions import Principal
from riskops.auth.service import user_principal
from riskops.cases.models import Case, CaseStatus
from riskops.kernel.errors import RiskopsError
from riskops.sar import service
from riskops.sar.models import ExportFormat
from riskops.sar.schemas import EditIn, SubjectIn, TransactionIn

DRAFTER, APPROVER = "ana", "cora"
_TYPOLOGIES = ("structuring", "mule", "pass_through", "scam_victim", "account_takeover")


@dataclass
class SarSeed:
    approved: list[int] = field(default_factory=list)
    drafts: list[int] = field(default_factory=list)
    exports: list[int] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _principal(session: Session, username: str) -> Principal | None:
    user = auth_repo.user_by_username(session, username)
    return user_principal(user) if user is not None else None


def _cases(session: Session, limit: int) -> list[Case]:
    """Open cases about an account, strongest first, typologies a SAR is made of first."""
    stmt = (
        select(Case)
        .where(Case.status != CaseStatus.CLOSED, Case.account_id.is_not(None))
        .order_by(Case.typology.in_(_TYPOLOGIES).desc(), Case.severity.desc(), Case.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def _ascii(text: str) -> str:
    return " ".join("".join(c for c in anyascii(text) if c.isalnum() or c in " .'-").split())


def _subject(raw: dict[str, object], account_id: str, rng: random.Random) -> SubjectIn:
    full = _ascii(str(raw.get("name") or "")) or f"Holder {account_id}"
    first, _, last = full.rpartition(" ")
    country = str(raw.get("country") or "") or "US"
    born = raw.get("birth_date")
    return SubjectIn(
        kind="person",
        first_name=first or "Unknown",
        last_name=last,
        gender=rng.choice(("F", "M")),
        birth_date=date.fromisoformat(str(born)) if born else date(1985, 6, 15),
        nationality=str(raw.get("nationality") or "") or country,
        country=country,
        id_type="PASSP",
        id_number=f"P{rng.randrange(10**7, 10**8)}",
        id_country=str(raw.get("id_country") or "") or country,
        id_issued=date(2021, 3, 1),
        id_expires=date(2031, 3, 1),
        phone=str(raw.get("phone") or ""),
        account_id=account_id,
    )


def _report(
    session: Session, case: Case, now: datetime, rng: random.Random, drafter: Principal
) -> int | None:
    report = service.draft_from_case(session, drafter, case.id, now=now)
    offered = service.candidates(session, drafter, report.id)
    chosen = offered[:5] or [
        {
            "event_id": f"demo-{case.id}",
            "at": (now - timedelta(days=2)).isoformat(),
            "type": "withdrawal.requested",
            "direction": "out",
            "amount": "0.5",
            "asset": "BTC",
            "usd_value": "21000.00",
            "counterparty": "bc1qdemo",
        }
    ]
    transactions = [
        TransactionIn(
            event_id=str(t["event_id"]),
            at=datetime.fromisoformat(str(t["at"])),
            type=str(t["type"]),
            direction="in" if t["direction"] == "in" else "out",
            amount=Decimal(str(t["amount"])),
            asset=str(t["asset"]),
            usd_value=Decimal(str(t["usd_value"])),
            counterparty=_ascii(str(t["counterparty"])),
        )
        for t in chosen
    ]
    times = sorted(t.at for t in transactions)
    raw = report.subjects[0] if report.subjects else {}
    edit = EditIn(
        typology=case.typology or "structuring",
        narrative=report.narrative
        + "\n\nThe account received funds and moved them on within hours, in amounts that "
        "kept each transfer below the reporting threshold.",
        activity_from=times[0],
        activity_to=times[-1],
        subjects=[_subject(raw, str(case.account_id), rng)],
        transactions=transactions,
    )
    service.edit(session, drafter, report.id, edit, now=now)
    return report.id


def seed(session: Session, now: datetime, rng: random.Random) -> SarSeed:
    """One approved SAR with a valid goAML export and one draft, in the caller's
    transaction; skipped (and said why) when the demo people or cases are missing."""
    out = SarSeed()
    drafter, approver = _principal(session, DRAFTER), _principal(session, APPROVER)
    if drafter is None or approver is None:
        out.skipped.append(f"no users {DRAFTER!r} and {APPROVER!r}")
        return out
    cases = _cases(session, limit=2)
    if not cases:
        out.skipped.append("no open case about an account")
        return out
    for i, case in enumerate(cases):
        try:
            sar_id = _report(session, case, now, rng, drafter)
            if sar_id is None:
                continue
            if i == 0:
                service.submit(session, drafter, sar_id, now=now)
                service.approve(session, approver, sar_id, comment="Complete; file it.", now=now)
                sent = service.export(session, approver, sar_id, ExportFormat.GOAML, now=now)
                out.approved.append(sar_id)
                out.exports.append(sent.id)
            else:
                out.drafts.append(sar_id)
        except RiskopsError as error:
            out.skipped.append(f"case {case.id}: {error.message} {error.details or ''}")
    return out
