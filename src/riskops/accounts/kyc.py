"""KYC / KYB review: a queue of submissions with their consistency checks, and a decision.

Each ``kyc.submitted`` and ``kyb.submitted`` event becomes a review (once per event), with
what the event carried (level, document type and country, name, date of birth,
nationality; for a KYB the legal name, registration and beneficial owners) and the
findings of the consistency checks:

- name and date of birth screened against the sanctions and PEP lists loaded
  (``riskops.screening``); each beneficial owner, and the company's legal name, too;
- nationality vs document country vs declared country vs phone country vs sign-up IP
  country (``riskops.intel``); each pair that names two countries is a finding;
- age: under 18, over 100, a missing or impossible date of birth;
- countries on the FATF lists or the deployment's own (``accounts.countries``);
- the same name on other accounts, and each owner linked to the accounts that name it
  (as their KYC holder or as one of their owners).

A review becomes a case in the "kyc" queue the way every alert does: its messages go on the
kernel outbox topic ``monitor.alert_raised`` in the transaction that stores it (one alert
for the review, one per finding that matters, so the case's reasons are the findings), and
cases take them. The decision (approve, reject, ask for more information) needs
``kyc:review`` and a note; it is audited, updates the account's KYC standing, recomputes its
rating and is told on ``KYC_DECIDED`` for whoever closes the case. Bad input (unknown
countries, missing dates, empty names) gives findings, never an exception.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from riskops.accounts import rating
from riskops.accounts import risk_repository as repo
from riskops.accounts.countries import CountryPolicy, CountryRisk, is_country
from riskops.accounts.models import (
    AccountProfile,
    KycReview,
    KycReviewKind,
    KycReviewStatus,
)
from riskops.audit import service as audit
from riskops.auth.permissions import Permission, Principal, require
from riskops.events import schemas as s
from riskops.kernel import outbox
from riskops.kernel.clock import utcnow
from riskops.kernel.errors import Conflict, NotFound, ValidationFailed
from riskops.kernel.logging import get_logger
from riskops.screening.service import owner_ref

log = get_logger(__name__)

# The topic every alert that makes a case goes out on (``riskops.monitor.service.ALERT_RAISED``;
# the monitor sits above accounts, so the name is repeated here and a test holds them equal).
ALERT_RAISED = "monitor.alert_raised"
KYC_DECIDED = "accounts.kyc_review_decided"
"""Told when a review is decided: {review_id, account_id, kind, decision, note, decided_by}."""
SUBMISSIONS = frozenset({"kyc.submitted", "kyb.submitted"})
MAX_OWNERS_CHECKED = 50  # owners screened and linked per KYB (the event bounds the list too)


class Severity(enum.IntEnum):
    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3


_ALERT_SCORE = {Severity.INFO: 0, Severity.LOW: 10, Severity.MEDIUM: 30, Severity.HIGH: 60}


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    severity: Severity
    detail: str
    subject: str = "holder"  # holder | company | owner: NAME

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity.name.lower(),
            "detail": self.detail,
            "subject": self.subject,
        }


@dataclass(frozen=True, slots=True)
class ScreenMatch:
    list_name: str
    entry_id: str
    matched_name: str
    score: float


# (name, birth date ISO or None, country or None, kind "person" | "organization") -> matches,
# or None when no list is loaded (the check is then left out, and says so).
Screen = Callable[[Session, str, str | None, str | None, str], list[ScreenMatch] | None]
CountryOf = Callable[[str], str | None]
PhoneCountryOf = Callable[[str, str | None], str | None]


def screen_with_lists(
    session: Session, name: str, birth_date: str | None, country: str | None, kind: str
) -> list[ScreenMatch] | None:
    """Screen against the current version of every loaded list (``riskops.screening``)."""
    from riskops.screening.lists import Query
    from riskops.screening.service import default_cache

    # the lists' current versions are read once per transaction (a batch's reviews share them)
    screeners = session.info.get("riskops.kyc.screeners")
    if screeners is None:
        screeners = session.info["riskops.kyc.screeners"] = default_cache.get(session)
    if not screeners.screeners:
        return None
    query = Query(name=name, birth_date=birth_date, country=country, kind=kind)
    out = []
    for (list_name, _), screener in zip(screeners.versions, screeners.screeners, strict=True):
        for match in screener.screen(query):
            out.append(
                ScreenMatch(list_name, match.entry.entry_id, match.matched_name, match.score)
            )
    return out


def ip_country(ip: str) -> str | None:
    """The country DB-IP City gives an address (``riskops.intel``'s data, memory-mapped);
    None for a private or unknown address. Only the country: the ASN table is not needed
    here, and loading it would stall the monitor's batch."""
    from riskops.intel.ips import parse_ip
    from riskops.intel.service import default_service

    address = parse_ip(ip)
    if address is None or not address.is_global:
        return None
    city = default_service().ips.city.get(str(address), address.version)
    return city.country if city is not None else None


def phone_country(phone: str, region: str | None) -> str | None:
    """The country of a phone number's numbering plan (``riskops.intel``)."""
    from riskops.intel.phones import phone_country as of_phone

    return of_phone(phone, region if region and is_country(region) else None)


@dataclass(frozen=True)
class Checks:
    """What the checks consult; tests pass fakes."""

    screen: Screen = screen_with_lists
    ip_country: CountryOf = ip_country
    phone_country: PhoneCountryOf = phone_country
    countries: CountryPolicy = field(default_factory=lambda: rating.default_policy().countries)


def name_key(name: str | None) -> str | None:
    """The matching key of a name: case, accents of spacing and order of parts ignored."""
    if not name:
        return None
    parts = sorted(name.casefold().split())
    return " ".join(parts)[:256] or None


# --- the checks -----------------------------------------------------------------------------


def age_findings(birth: date | None, on: date, subject: str = "holder") -> list[Finding]:
    if birth is None:
        return [Finding("BIRTH_DATE_MISSING", Severity.MEDIUM, "no date of birth given", subject)]
    if birth > on:
        detail = f"date of birth {birth.isoformat()} is in the future"
        return [Finding("BIRTH_DATE_INVALID", Severity.HIGH, detail, subject)]
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    if years < 18:
        return [Finding("UNDER_18", Severity.HIGH, f"{years} years old", subject)]
    if years > 100:
        return [Finding("OVER_100", Severity.MEDIUM, f"{years} years old", subject)]
    return []


def country_findings(
    named: dict[str, str | None], policy: CountryPolicy, subject: str = "holder"
) -> list[Finding]:
    """Unknown codes, pairwise mismatches, and list risks of the countries the evidence names
    (``named``: evidence -> code, e.g. nationality, document, phone, IP)."""
    out: list[Finding] = []
    valid: dict[str, str] = {}
    for evidence, code in named.items():
        if code is None or code == "":
            continue
        if not is_country(code):
            detail = f"{evidence}: {code[:16]!r} is not an ISO 3166-1 country code"
            out.append(Finding("COUNTRY_UNKNOWN", Severity.LOW, detail, subject))
            continue
        valid[evidence] = code
    items = sorted(valid.items())
    for i, (left, a) in enumerate(items):
        for right, b in items[i + 1 :]:
            if a != b:
                detail = f"{left} {a} differs from {right} {b}"
                out.append(Finding("COUNTRY_MISMATCH", Severity.MEDIUM, detail, subject))
    for evidence, code in items:
        risk = policy.risk(code)
        if risk is CountryRisk.PROHIBITED:
            detail = f"{evidence} {code} is a prohibited jurisdiction"
            out.append(Finding("COUNTRY_PROHIBITED", Severity.HIGH, detail, subject))
        elif risk is CountryRisk.CALL_FOR_ACTION:
            detail = f"{evidence} {code}: FATF call for action ({policy.as_of.isoformat()})"
            out.append(Finding("COUNTRY_FATF_BLACK_LIST", Severity.HIGH, detail, subject))
        elif risk is CountryRisk.DEPLOYMENT_HIGH_RISK:
            detail = f"{evidence} {code} is on the deployment's high-risk list"
            out.append(Finding("COUNTRY_HIGH_RISK", Severity.MEDIUM, detail, subject))
        elif risk is CountryRisk.INCREASED_MONITORING:
            detail = f"{evidence} {code}: FATF increased monitoring ({policy.as_of.isoformat()})"
            out.append(Finding("COUNTRY_FATF_GREY_LIST", Severity.MEDIUM, detail, subject))
    return out


def screening_findings(
    session: Session,
    checks: Checks,
    name: str | None,
    birth: date | None,
    country: str | None,
    kind: str,
    subject: str,
) -> list[Finding]:
    if not name or not name.strip():
        return [Finding("NAME_MISSING", Severity.MEDIUM, "no name given: not screened", subject)]
    try:
        matches = checks.screen(
            session,
            name,
            birth.isoformat() if birth else None,
            country if country and is_country(country) else None,
            kind,
        )
    except Exception as exc:  # a screening failure is a finding, never a lost review
        log.warning("accounts.kyc_screening_failed", error=type(exc).__name__)
        detail = f"screening failed ({type(exc).__name__}): screen by hand"
        return [Finding("SCREENING_FAILED", Severity.MEDIUM, detail, subject)]
    if matches is None:
        detail = "no sanctions or PEP list is loaded: the name was not screened"
        return [Finding("SCREENING_NO_LISTS", Severity.LOW, detail, subject)]
    out = []
    for m in sorted(matches, key=lambda m: -m.score)[:5]:
        detail = f"{name!r} matches {m.matched_name!r} ({m.list_name} {m.entry_id}, {m.score:.2f})"
        out.append(Finding("SCREENING_MATCH", Severity.HIGH, detail[:512], subject))
    return out


def _evidence_countries(
    checks: Checks, profile: AccountProfile | None, findings: list[Finding]
) -> dict[str, str | None]:
    """Declared, phone and sign-up IP country from the account's profile."""
    if profile is None or profile.opened_at is None:
        detail = "no account.created seen: no declared, phone or sign-up IP country to compare"
        findings.append(Finding("SIGNUP_MISSING", Severity.INFO, detail))
    if profile is None:
        return {}
    named: dict[str, str | None] = {"declared country": profile.country}
    for label, value, lookup in (
        ("phone", profile.phone, lambda v: checks.phone_country(v, profile.country)),
        ("sign-up IP", profile.signup_ip, checks.ip_country),
    ):
        if not value:
            continue
        try:
            found = lookup(value)
        except Exception as exc:  # intelligence data missing or broken: say so
            found = None
            log.warning("accounts.kyc_intel_failed", evidence=label, error=type(exc).__name__)
        if found is None:
            detail = f"{label}: names no country"
            findings.append(Finding("COUNTRY_NOT_FOUND", Severity.INFO, detail))
        named[label] = found
    return named


def check_kyc(
    session: Session,
    event: s.KycSubmitted,
    profile: AccountProfile | None,
    checks: Checks,
    today: date,
    names: dict[str, list[str]] | None = None,
) -> list[Finding]:
    """``names``: the accounts of each name key, read for a whole batch (else one query)."""
    findings: list[Finding] = []
    if not event.document_type:
        findings.append(Finding("DOCUMENT_MISSING", Severity.MEDIUM, "no document type given"))
    if event.document_country is None:
        findings.append(Finding("DOCUMENT_COUNTRY_MISSING", Severity.LOW, "no document country"))
    findings += age_findings(event.date_of_birth, today)
    named: dict[str, str | None] = {
        "nationality": event.nationality,
        "document": event.document_country,
    }
    named.update(_evidence_countries(checks, profile, findings))
    findings += country_findings(named, checks.countries)
    findings += screening_findings(
        session,
        checks,
        event.full_name,
        event.date_of_birth,
        event.nationality,
        "person",
        "holder",
    )
    key = name_key(event.full_name)
    if key:
        same = names.get(key, []) if names is not None else repo.accounts_named(session, key)
        others = [a for a in same if a != event.account_id]
        if others:
            detail = f"the same name holds {len(others)} other account(s): {', '.join(others[:5])}"
            findings.append(Finding("NAME_ON_OTHER_ACCOUNTS", Severity.MEDIUM, detail))
    return findings


def check_kyb(
    session: Session,
    event: s.KybSubmitted,
    profile: AccountProfile | None,
    checks: Checks,
    today: date,
) -> list[Finding]:
    findings: list[Finding] = []
    named: dict[str, str | None] = {"registration": event.country}
    if profile is not None:
        named["declared country"] = profile.country
    findings += country_findings(named, checks.countries, "company")
    findings += screening_findings(
        session, checks, event.legal_name, None, event.country, "organization", "company"
    )
    owners = event.beneficial_owners
    if not owners:
        detail = "no beneficial owner declared"
        findings.append(Finding("NO_BENEFICIAL_OWNERS", Severity.HIGH, detail, "company"))
    total = sum(o.ownership_pct for o in owners)
    if total > 100.0001:
        detail = f"ownership adds up to {total:.2f}%"
        findings.append(Finding("OWNERSHIP_OVER_100", Severity.MEDIUM, detail, "company"))
    for owner in owners[:MAX_OWNERS_CHECKED]:
        subject = f"owner: {owner.full_name}"[:128]
        findings += age_findings(owner.date_of_birth, today, subject)
        if owner.nationality is None:
            detail = "no nationality given"
            findings.append(Finding("NATIONALITY_MISSING", Severity.LOW, detail, subject))
        findings += country_findings({"nationality": owner.nationality}, checks.countries, subject)
        findings += screening_findings(
            session,
            checks,
            owner.full_name,
            owner.date_of_birth,
            owner.nationality,
            "person",
            subject,
        )
        findings += _owner_links(session, event.account_id, owner.full_name, subject)
    if len(owners) > MAX_OWNERS_CHECKED:
        detail = f"{len(owners)} owners: only the first {MAX_OWNERS_CHECKED} were checked"
        findings.append(Finding("OWNERS_NOT_ALL_CHECKED", Severity.MEDIUM, detail, "company"))
    return findings


def _owner_links(session: Session, account_id: str, name: str, subject: str) -> list[Finding]:
    """The other accounts that name this owner: as their KYC holder, or as their owner."""
    holders = set(repo.accounts_named(session, name_key(name) or ""))
    owning = set(repo.owner_accounts(session, owner_ref(name)))
    others = sorted((holders | owning) - {account_id})
    if not others:
        return []
    detail = f"also named by account(s) {', '.join(others[:10])}"
    if holders - {account_id}:
        detail += f" (KYC holder of {', '.join(sorted(holders - {account_id})[:5])})"
    return [Finding("OWNER_LINKED", Severity.LOW, detail[:512], subject)]


# --- intake: a submission becomes a review and a case ------------------------------------


def _submission(event: s.KycSubmitted | s.KybSubmitted) -> dict[str, Any]:
    if isinstance(event, s.KycSubmitted):
        return {
            "level": event.level,
            "document_type": event.document_type,
            "document_country": event.document_country,
            "full_name": event.full_name,
            "date_of_birth": event.date_of_birth.isoformat() if event.date_of_birth else None,
            "nationality": event.nationality,
        }
    return {
        "legal_name": event.legal_name,
        "registration_number": event.registration_number,
        "country": event.country,
        "beneficial_owners": [
            {
                "full_name": o.full_name,
                "ownership_pct": o.ownership_pct,
                "date_of_birth": o.date_of_birth.isoformat() if o.date_of_birth else None,
                "nationality": o.nationality,
            }
            for o in event.beneficial_owners
        ],
    }


def observe_submissions(
    session: Session,
    events: Sequence[tuple[int, s.KycSubmitted | s.KybSubmitted]],
    profiles: dict[str, AccountProfile],
    *,
    checks: Checks | None = None,
    now: datetime | None = None,
    names_before: Mapping[str, list[str]] | None = None,
    named: Sequence[tuple[int, str, str]] = (),
) -> list[KycReview]:
    """A review (and its case alerts) for each submission not reviewed yet; ``events`` are
    (log seq, event) in log order. Returns the reviews stored by this call.

    The other accounts of a submitted name are those that held it before the submission,
    in log order: ``names_before`` (name key -> accounts, read before the batch's profiles
    were written) and the batch's own statements of a name before it (``named``: seq,
    account, name key). So a review's findings do not depend on where the batches of the
    log were cut (the follower's cuts follow the monitor's progress). Without
    ``names_before``, the stored profiles as they are now."""
    checks = checks or Checks()
    now = now or utcnow()
    reviewed = repo.reviewed_events(session, [e.event_id for _, e in events])
    todo = [(seq, e) for seq, e in events if e.event_id not in reviewed]
    if not todo:
        return []  # a replayed batch: reviewed before
    keys = {name_key(e.full_name) for _, e in todo if isinstance(e, s.KycSubmitted)}
    if names_before is None:
        names_before = repo.accounts_named_many(session, {k for k in keys if k})
    rows: list[dict[str, Any]] = []
    found_by_event: dict[str, tuple[int, list[Finding]]] = {}
    for seq, event in todo:
        if event.event_id in found_by_event:
            continue  # the same event twice in one batch
        profile = profiles.get(event.account_id)
        today = event.occurred_at.date()
        if isinstance(event, s.KycSubmitted):
            kind = KycReviewKind.KYC
            key = name_key(event.full_name)
            holders = set(names_before.get(key, ())) if key else set()
            holders |= {a for at, a, k in named if k == key and at < seq}
            names = {key: sorted(holders)} if key else {}
            found = check_kyc(session, event, profile, checks, today, names)
        else:
            kind, found = KycReviewKind.KYB, check_kyb(session, event, profile, checks, today)
        found.sort(key=lambda f: (-f.severity, f.subject, f.code))
        found_by_event[event.event_id] = (seq, found)
        rows.append(
            {
                "account_id": event.account_id,
                "kind": kind,
                "event_id": event.event_id,
                "submitted_at": event.occurred_at,
                "submission": _submission(event),
                "findings": [f.to_json() for f in found],
                "status": KycReviewStatus.PENDING,
                "created_at": now,
            }
        )
    repo.insert_reviews(session, rows)
    stored = repo.reviews_by_events(session, list(found_by_event))
    messages: list[dict[str, Any]] = []
    for review in stored:
        seq, found = found_by_event[review.event_id]
        messages += _alert_messages(review, seq, found, now)
    if messages:
        outbox.publish_many(session, ALERT_RAISED, messages, now=now)
    return stored


def _alert_messages(
    review: KycReview, seq: int, findings: list[Finding], now: datetime
) -> list[dict[str, Any]]:
    """The ``ALERT_RAISED`` messages of a review (the shape of the monitor's): one for the
    review, one per finding of low severity or worse; keyed by the event and the row, so a
    redelivery is the same case alert."""
    typology = f"{review.kind.value}_review"
    worst = max((f.severity for f in findings), default=Severity.INFO)
    counted = [f for f in findings if f.severity >= Severity.LOW]
    summary = "; ".join(f"{f.code} ({f.subject})" for f in counted[:5]) or "no findings"
    base = {
        "rule_version": 1,
        "typology": typology,
        "event_id": review.event_id,
        "account_id": review.account_id,
        "seq": seq,
        "action": "review",
        "shadow": False,
        "created_at": now.isoformat(),
        "usd_value": None,
        "event_type": f"{review.kind.value}.submitted",
        "occurred_at": review.submitted_at.isoformat(),
        "review_id": review.id,
    }
    label = review.kind.value.upper()
    messages = [
        {
            **base,
            "rule_id": typology,
            "row": 0,
            "score": max(20, _ALERT_SCORE[worst]),
            "reason": f"{label} review {review.id}: {len(counted)} finding(s): {summary}"[:1000],
        }
    ]
    for index, finding in enumerate(counted, start=1):
        messages.append(
            {
                **base,
                "rule_id": f"{label}-{finding.code}"[:64],
                "row": index,
                "score": _ALERT_SCORE[finding.severity],
                "reason": f"{finding.subject}: {finding.detail}"[:1000],
            }
        )
    return messages


# --- the decision -------------------------------------------------------------------------


class Decision(enum.StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    MORE_INFO = "more_info"


_OUTCOMES = {
    Decision.APPROVE: KycReviewStatus.APPROVED,
    Decision.REJECT: KycReviewStatus.REJECTED,
    Decision.MORE_INFO: KycReviewStatus.MORE_INFO,
}
# A review waiting for the customer's answer can still be decided.
_DECIDABLE = (KycReviewStatus.PENDING, KycReviewStatus.MORE_INFO)
_STANDING = {
    KycReviewStatus.APPROVED: "approved",
    KycReviewStatus.REJECTED: "rejected",
    KycReviewStatus.MORE_INFO: "resubmit",
}


def decide(
    session: Session,
    actor: Principal,
    review_id: int,
    decision: str,
    note: str,
    *,
    now: datetime | None = None,
    links: rating.LinkSource = rating.no_links,
) -> KycReview:
    """Approve, reject or ask for more information (``kyc:review``), with a note.

    The account's KYC (or KYB) standing follows the decision (an approved KYC sets its
    level), its rating is recomputed, and the decision is audited and told on
    ``KYC_DECIDED``, all in the caller's transaction."""
    require(actor, Permission.KYC_REVIEW)
    try:
        chosen = Decision(decision)
    except ValueError:
        raise ValidationFailed(
            f"unknown decision {decision!r}",
            details=[{"field": "$.decision", "reason": "approve, reject or more_info"}],
        ) from None
    if not note or not note.strip():
        raise ValidationFailed(
            "a KYC review is decided with a note",
            details=[{"field": "$.note", "reason": "a note explaining the decision is required"}],
        )
    review = repo.get_review(session, review_id, for_update=True)
    if review is None:
        raise NotFound(f"KYC review {review_id} not found")
    if review.status not in _DECIDABLE:
        raise Conflict(f"KYC review {review_id} is already {review.status.value}")
    now = now or utcnow()
    note = note.strip()
    status = _OUTCOMES[chosen]
    if not repo.set_review_decision(session, review_id, _DECIDABLE, status, actor.name, now, note):
        raise Conflict(f"KYC review {review_id} was decided meanwhile")
    session.refresh(review)
    _update_standing(session, review, status, now)
    rating.recompute(session, review.account_id, trigger="kyc", now=now, links=links)
    detail = {
        "account_id": review.account_id,
        "kind": review.kind.value,
        "decision": chosen.value,
        "note": note,
        "event_id": review.event_id,
    }
    audit.record(session, actor, "kyc_review.decide", "kyc_review", review_id, detail, now=now)
    outbox.publish(session, KYC_DECIDED, decided_message(review, chosen, actor.name, now), now=now)
    return review


def decided_message(
    review: KycReview, decision: str, decided_by: str, at: datetime
) -> dict[str, Any]:
    """The ``KYC_DECIDED`` message of a decision: what the review's case follows."""
    return {
        "review_id": review.id,
        "account_id": review.account_id,
        "kind": review.kind.value,
        "decision": str(decision),
        "note": review.note or "",
        "event_id": review.event_id,
        "decided_by": decided_by,
        "at": at.isoformat(),
    }


# The exchange's own decision (``kyc.decided`` / ``kyb.decided``) on a review still waiting.
EXCHANGE = "exchange"
_EXCHANGE_OUTCOMES = {
    s.KycResult.APPROVED: (Decision.APPROVE, KycReviewStatus.APPROVED),
    s.KycResult.REJECTED: (Decision.REJECT, KycReviewStatus.REJECTED),
    s.KycResult.RESUBMIT: (Decision.MORE_INFO, KycReviewStatus.MORE_INFO),
}


def exchange_decided(
    session: Session,
    events: Sequence[s.KycDecided | s.KybDecided],
    *,
    now: datetime | None = None,
) -> list[KycReview]:
    """The exchange decided: each review of the event's account and kind submitted before the
    decision and still waiting (pending, or waiting for more information) takes the
    exchange's result, decided by ``exchange``, audited (``kyc_review.exchange_decided``) and
    told on ``KYC_DECIDED`` so its case follows. A review an analyst approved or rejected
    keeps that decision. The account's standing is the follower's, from the same event.
    Returns the reviews decided (none for a replayed batch: they are decided already)."""
    now = now or utcnow()
    system = Principal.system("accounts")
    decided: list[KycReview] = []
    for event in events:
        kind = KycReviewKind.KYC if isinstance(event, s.KycDecided) else KycReviewKind.KYB
        chosen, status = _EXCHANGE_OUTCOMES[event.result]
        note = f"decided by the exchange ({event.event_id}): {event.result.value}"
        if event.reason:
            note += f"; {event.reason}"
        for review in repo.reviews_of_account(session, event.account_id, 100):
            if (
                review.kind is not kind
                or review.status not in _DECIDABLE
                or review.submitted_at > event.occurred_at
                or (review.decided_by, review.status) == (EXCHANGE, status)  # a replay
            ):
                continue
            if not repo.set_review_decision(
                session, review.id, _DECIDABLE, status, EXCHANGE, now, note
            ):
                continue
            session.refresh(review)
            detail = {
                "account_id": review.account_id,
                "kind": review.kind.value,
                "decision": chosen.value,
                "note": note,
                "event_id": review.event_id,
                "decided_by_event": event.event_id,
            }
            audit.record(
                session,
                system,
                "kyc_review.exchange_decided",
                "kyc_review",
                review.id,
                detail,
                now=now,
            )
            message = decided_message(review, chosen, EXCHANGE, now)
            outbox.publish(session, KYC_DECIDED, message, now=now)
            decided.append(review)
    return decided


def _update_standing(
    session: Session, review: KycReview, status: KycReviewStatus, now: datetime
) -> None:
    profile = repo.profiles(session, [review.account_id]).get(review.account_id)
    if profile is None:
        profile = AccountProfile(account_id=review.account_id, corporate=False, kyc_level=0)
        repo.add(session, profile)
    standing = _STANDING[status]
    if review.kind is KycReviewKind.KYB:
        profile.kyb_status = standing
        profile.corporate = True
    else:
        profile.kyc_status = standing
        level = review.submission.get("level")
        if status is KycReviewStatus.APPROVED and isinstance(level, int):
            profile.kyc_level = level
    profile.updated_at = now
    session.flush()


# --- reads ----------------------------------------------------------------------------------


def reviews_for_account(
    session: Session, reader: Principal, account_id: str, *, limit: int = 20
) -> list[KycReview]:
    """The account's reviews, newest first (``account:view``); audited."""
    require(reader, Permission.ACCOUNT_VIEW)
    rows = repo.reviews_of_account(session, account_id, max(1, min(limit, 100)))
    if rows:
        shown = {account_id: [r.id for r in rows]}
        audit.record_views(session, reader, "kyc_review.list", "account", shown)
    return rows


def review_for_account(session: Session, reader: Principal, account_id: str) -> KycReview | None:
    """The account's latest review (the account 360 shows it); audited."""
    rows = reviews_for_account(session, reader, account_id, limit=1)
    return rows[0] if rows else None


def queue(
    session: Session,
    reader: Principal,
    *,
    statuses: Sequence[KycReviewStatus] = _DECIDABLE,
    limit: int = 50,
    offset: int = 0,
) -> list[KycReview]:
    """Reviews waiting (pending or waiting for more information), oldest first
    (``kyc:review``); audited per account shown."""
    require(reader, Permission.KYC_REVIEW)
    rows = repo.reviews_by_status(session, statuses, max(1, min(limit, 200)), max(0, offset))
    shown: dict[str, list[int]] = {}
    for row in rows:
        shown.setdefault(row.account_id, []).append(row.id)
    audit.record_views(session, reader, "kyc_review.list", "account", shown)
    return rows


def get_review(session: Session, reader: Principal, review_id: int) -> KycReview:
    """One review (``account:view``); audited."""
    require(reader, Permission.ACCOUNT_VIEW)
    review = repo.get_review(session, review_id)
    if review is None:
        raise NotFound(f"KYC review {review_id} not found")
    audit.record(
        session, reader, "kyc_review.view", "account", review.account_id, {"id": review_id}
    )
    return review
