"""The account risk rating: a score (0-100) and a band, with the reasons that make them.

Inputs, each a reason code with its points (``RatingPolicy`` holds every weight):

- KYC: the level approved, a rejection, a submission waiting; a corporate account without
  an approved KYB; the account's age.
- Country risk (``accounts.countries``): the declared, nationality, document and KYB
  countries against the FATF lists of a stated date and the deployment's own lists; a
  prohibited country makes the band prohibited.
- Behaviour: live monitor alerts by severity, held and blocked withdrawals over the last
  ``lookback_days`` (signals the monitor pushes, ``record_signals``).
- Account controls: active restrictions (a closed account is prohibited).
- Case history: outcomes the cases push (``record_case_outcome``).
- Links to restricted or offboarded accounts (``links``, read through a ``LinkSource``).
- Screening hits: a confirmed match is prohibited, an open one weighs while it waits.

The rating reads only the accounts' tables and what lower layers hold (screening hits,
links); the layers above push (the monitor's batch, a case decision, a KYC decision) and
call ``recompute_many``. A rating is written, with a history row, only when its score, band
or reasons changed: a batch in which nothing changed for an account writes nothing for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy.orm import Session

from riskops.accounts import risk_repository as repo
from riskops.accounts.countries import CountryPolicy, CountryRisk, country_name
from riskops.accounts.models import (
    AccountRating,
    AccountRatingChange,
    RatingBand,
    RestrictionKind,
    SignalKind,
)
from riskops.audit import service as audit
from riskops.auth.permissions import Permission, Principal, require
from riskops.kernel.clock import utcnow
from riskops.screening.models import HitStatus


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason of a rating: a stable code, its points and what it is about."""

    code: str
    points: int
    detail: str
    prohibits: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "points": self.points,
            "detail": self.detail,
            "prohibits": self.prohibits,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reason:
        return cls(
            str(data["code"]),
            int(data["points"]),
            str(data.get("detail", "")),
            bool(data.get("prohibits", False)),
        )


@dataclass(frozen=True, slots=True)
class Rating:
    account_id: str
    score: int
    band: RatingBand
    reasons: tuple[Reason, ...]
    computed_at: datetime

    @classmethod
    def of(cls, row: AccountRating | AccountRatingChange) -> Rating:
        return cls(
            row.account_id,
            row.score,
            RatingBand(row.band),
            tuple(Reason.from_json(r) for r in row.reasons),
            row.computed_at,
        )


@dataclass(frozen=True, slots=True)
class RatingChange:
    """A rating as it changed (``history``), with the band before it."""

    id: int
    rating: Rating
    previous_band: RatingBand | None
    trigger: str


@dataclass(frozen=True, slots=True)
class Signal:
    """A fact pushed by the domain that knows it (the monitor, cases)."""

    account_id: str
    kind: SignalKind
    ref: str  # unique per account and kind: the same ref again is the same fact
    severity: int
    detail: str
    occurred_at: datetime

    def row(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "kind": self.kind,
            "ref": self.ref[:256],
            "severity": max(0, min(100, self.severity)),
            "detail": self.detail[:256],
            "occurred_at": self.occurred_at,
        }


@dataclass(frozen=True)
class RatingPolicy:
    """Every weight and threshold of the rating, in one place."""

    countries: CountryPolicy = field(default_factory=CountryPolicy)
    medium_from: int = 30
    high_from: int = 60
    lookback_days: int = 180
    new_account_days: int = 30
    kyc_points: Mapping[int, int] = field(default_factory=lambda: {0: 25, 1: 10, 2: 0, 3: 0})
    kyc_rejected: int = 25
    kyc_pending: int = 5
    kyb_missing: int = 15
    new_account: int = 10
    unknown_age: int = 5
    country_points: Mapping[CountryRisk, int] = field(
        default_factory=lambda: {
            CountryRisk.UNKNOWN: 5,
            CountryRisk.INCREASED_MONITORING: 20,
            CountryRisk.DEPLOYMENT_HIGH_RISK: 25,
            CountryRisk.CALL_FOR_ACTION: 40,
            CountryRisk.PROHIBITED: 50,
        }
    )
    # alerts: (from severity, points each, at most)
    alert_tiers: tuple[tuple[int, int, int], ...] = ((60, 15, 30), (30, 5, 15), (0, 1, 5))
    hold_points: tuple[int, int] = (5, 15)
    block_points: tuple[int, int] = (10, 20)
    restriction_points: int = 10
    freeze_points: int = 30
    case_points: Mapping[str, int] = field(
        default_factory=lambda: {"restricted": 20, "sar_referred": 35, "escalated": 10}
    )
    linked_restricted: tuple[int, int] = (10, 30)
    linked_offboarded: tuple[int, int] = (20, 40)
    screening_open: int = 30


@lru_cache(maxsize=1)
def default_policy() -> RatingPolicy:
    """The deployment's policy: the FATF lists plus its own country lists
    (``{data_dir}/lists/high_risk_countries.txt``, ``prohibited_countries.txt``), read once
    per process; a change of those files takes a restart and ``riskops rating recompute``."""
    from riskops.kernel.config import get_settings

    return RatingPolicy(countries=CountryPolicy.from_dir(get_settings().data_dir / "lists"))


class ProfileView(Protocol):
    """What the rating reads of a profile (an ``AccountProfile`` or a ``ProfileRow``)."""

    @property
    def opened_at(self) -> datetime | None: ...
    @property
    def country(self) -> str | None: ...
    @property
    def corporate(self) -> bool: ...
    @property
    def kyc_level(self) -> int: ...
    @property
    def kyc_status(self) -> str | None: ...
    @property
    def kyb_status(self) -> str | None: ...
    @property
    def nationality(self) -> str | None: ...
    @property
    def document_country(self) -> str | None: ...
    @property
    def kyb_country(self) -> str | None: ...


class SignalView(Protocol):
    """What the rating reads of a signal (an ``AccountSignal`` or a ``SignalRow``)."""

    @property
    def kind(self) -> SignalKind: ...
    @property
    def severity(self) -> int: ...
    @property
    def detail(self) -> str: ...


@dataclass
class Facts:
    """Everything one account's rating reads."""

    profile: ProfileView | None = None
    signals: Sequence[SignalView] = ()
    restrictions: Collection[RestrictionKind] = ()
    linked_restricted: Collection[str] = ()
    linked_offboarded: Collection[str] = ()
    screening: Mapping[HitStatus, int] = field(default_factory=dict)


# --- the pure part ----------------------------------------------------------------------


def assess(
    facts: Facts, policy: RatingPolicy, now: datetime
) -> tuple[int, RatingBand, list[Reason]]:
    """Score, band and reasons (heaviest first) of one account's facts. Never raises on
    odd input: an unknown country code or a missing date is a reason, not an error."""
    reasons: list[Reason] = []
    reasons += _kyc(facts.profile, policy, now)
    reasons += _countries(facts.profile, policy)
    reasons += _behaviour(facts.signals, policy)
    reasons += _controls(facts.restrictions, policy)
    reasons += _links(facts, policy)
    reasons += _screening(facts.screening, policy)
    reasons.sort(key=lambda r: (not r.prohibits, -r.points, r.code, r.detail))
    score = max(0, min(100, sum(r.points for r in reasons)))
    if any(r.prohibits for r in reasons):
        band = RatingBand.PROHIBITED
    elif score >= policy.high_from:
        band = RatingBand.HIGH
    elif score >= policy.medium_from:
        band = RatingBand.MEDIUM
    else:
        band = RatingBand.LOW
    return score, band, reasons


def _kyc(profile: ProfileView | None, policy: RatingPolicy, now: datetime) -> list[Reason]:
    if profile is None:
        return [
            Reason("KYC_NONE", policy.kyc_points.get(0, 0), "no KYC on record"),
            Reason("ACCOUNT_AGE_UNKNOWN", policy.unknown_age, "no account.created seen"),
        ]
    out: list[Reason] = []
    level = profile.kyc_level or 0
    status = profile.kyc_status
    if status == "rejected":
        out.append(Reason("KYC_REJECTED", policy.kyc_rejected, "the last KYC was rejected"))
    elif status in ("submitted", "resubmit"):
        out.append(Reason("KYC_PENDING", policy.kyc_pending, f"KYC {status}, not approved yet"))
    points = policy.kyc_points.get(level, 0)
    if points:
        code = "KYC_NONE" if level == 0 else f"KYC_LEVEL_{level}"
        out.append(Reason(code, points, f"KYC level {level} approved"))
    if profile.corporate and profile.kyb_status != "approved":
        state = profile.kyb_status or "not submitted"
        out.append(
            Reason("KYB_NOT_APPROVED", policy.kyb_missing, f"corporate account, KYB {state}")
        )
    if profile.opened_at is None:
        out.append(Reason("ACCOUNT_AGE_UNKNOWN", policy.unknown_age, "no account.created seen"))
    else:
        age = now - profile.opened_at
        if age < timedelta(days=policy.new_account_days):
            days = max(0, age.days)
            out.append(Reason("ACCOUNT_NEW", policy.new_account, f"account opened {days} days ago"))
    return out


_COUNTRY_CODES = {
    CountryRisk.UNKNOWN: "COUNTRY_UNKNOWN",
    CountryRisk.INCREASED_MONITORING: "COUNTRY_FATF_INCREASED_MONITORING",
    CountryRisk.DEPLOYMENT_HIGH_RISK: "COUNTRY_HIGH_RISK",
    CountryRisk.CALL_FOR_ACTION: "COUNTRY_FATF_CALL_FOR_ACTION",
    CountryRisk.PROHIBITED: "COUNTRY_PROHIBITED",
}


def _countries(profile: ProfileView | None, policy: RatingPolicy) -> list[Reason]:
    """The worst-risk country the account names, and what names it (one reason per risk)."""
    if profile is None:
        return []
    named = {
        "residence": profile.country,
        "nationality": profile.nationality,
        "document": profile.document_country,
        "registration": profile.kyb_country,
    }
    by_risk: dict[CountryRisk, list[str]] = {}
    for role, code in named.items():
        risk = policy.countries.risk(code)
        if risk is None or risk is CountryRisk.STANDARD:
            continue
        by_risk.setdefault(risk, []).append(f"{role} {code}")
    known = [r for r in by_risk if r is not CountryRisk.UNKNOWN]
    chosen = ([max(known)] if known else []) + [r for r in by_risk if r is CountryRisk.UNKNOWN]
    out = []
    for risk in chosen:
        roles = ", ".join(by_risk[risk])
        if risk is CountryRisk.UNKNOWN:
            detail = f"not an ISO 3166-1 country code: {roles}"
        elif risk in (CountryRisk.CALL_FOR_ACTION, CountryRisk.INCREASED_MONITORING):
            names = ", ".join(sorted({country_name(r.split()[-1]) for r in by_risk[risk]}))
            detail = f"{roles} ({names}), FATF list of {policy.countries.as_of.isoformat()}"
        else:
            detail = roles
        out.append(
            Reason(
                _COUNTRY_CODES[risk],
                policy.country_points.get(risk, 0),
                detail,
                prohibits=risk is CountryRisk.PROHIBITED,
            )
        )
    return out


def _capped(count: int, each: int, most: int) -> int:
    return min(most, count * each)


def _behaviour(signals: Sequence[SignalView], policy: RatingPolicy) -> list[Reason]:
    out: list[Reason] = []
    alerts = [s for s in signals if s.kind is SignalKind.ALERT]
    names = {0: "ALERTS_LOW", 1: "ALERTS_MEDIUM", 2: "ALERTS_HIGH"}
    tiers = policy.alert_tiers
    counted: dict[int, int] = {}
    for signal in alerts:
        for index, (floor, _, _) in enumerate(tiers):
            if signal.severity >= floor:
                counted[index] = counted.get(index, 0) + 1
                break
    for index, count in sorted(counted.items()):
        floor, each, most = tiers[index]
        code = names.get(len(tiers) - 1 - index, f"ALERTS_{floor}")
        detail = f"{count} alert(s) of severity {floor}+ in {policy.lookback_days} days"
        out.append(Reason(code, _capped(count, each, most), detail))
    holds = sum(1 for s in signals if s.kind is SignalKind.HOLD)
    if holds:
        each, most = policy.hold_points
        out.append(Reason("HELD_WITHDRAWALS", _capped(holds, each, most), f"{holds} held"))
    blocks = sum(1 for s in signals if s.kind is SignalKind.BLOCK)
    if blocks:
        each, most = policy.block_points
        out.append(Reason("BLOCKED_EVENTS", _capped(blocks, each, most), f"{blocks} blocked"))
    outcomes: dict[str, int] = {}
    for s in signals:
        if s.kind is SignalKind.CASE_OUTCOME:
            outcomes[s.detail] = outcomes.get(s.detail, 0) + 1
    for outcome, count in sorted(outcomes.items()):
        detail = f"{count} case(s) closed {outcome}"
        if outcome == "offboarded":
            out.append(Reason("CASE_OFFBOARDED", 0, detail, prohibits=True))
        elif policy.case_points.get(outcome):
            out.append(Reason(f"CASE_{outcome.upper()}", policy.case_points[outcome], detail))
    return out


def _controls(restrictions: Collection[RestrictionKind], policy: RatingPolicy) -> list[Reason]:
    if not restrictions:
        return []
    if RestrictionKind.ACCOUNT_CLOSED in restrictions:
        return [Reason("ACCOUNT_CLOSED", 0, "the account is offboarded", prohibits=True)]
    if RestrictionKind.FULL_FREEZE in restrictions:
        return [Reason("ACCOUNT_FROZEN", policy.freeze_points, "a full freeze is active")]
    kinds = ", ".join(sorted(str(k) for k in restrictions))
    return [Reason("ACCOUNT_RESTRICTED", policy.restriction_points, f"active: {kinds}")]


def _links(facts: Facts, policy: RatingPolicy) -> list[Reason]:
    out = []
    for accounts, code, (each, most) in (
        (facts.linked_offboarded, "LINKED_OFFBOARDED", policy.linked_offboarded),
        (facts.linked_restricted, "LINKED_RESTRICTED", policy.linked_restricted),
    ):
        if accounts:
            shown = ", ".join(sorted(accounts)[:5]) + (" ..." if len(accounts) > 5 else "")
            detail = f"linked to {len(accounts)} account(s): {shown}"
            out.append(Reason(code, _capped(len(accounts), each, most), detail))
    return out


def _screening(counts: Mapping[HitStatus, int], policy: RatingPolicy) -> list[Reason]:
    out = []
    if counts.get(HitStatus.CONFIRMED):
        n = counts[HitStatus.CONFIRMED]
        out.append(Reason("SCREENING_CONFIRMED", 0, f"{n} confirmed list match(es)", True))
    if counts.get(HitStatus.OPEN):
        n = counts[HitStatus.OPEN]
        out.append(Reason("SCREENING_OPEN", policy.screening_open, f"{n} hit(s) to review"))
    return out


# --- where lower layers' inputs come from -------------------------------------------------

LinkSource = Callable[[Session, Collection[str]], Mapping[str, Collection[str]]]
"""Given accounts, the accounts each one is linked to (directly, through no hub value)."""


def no_links(_session: Session, _account_ids: Collection[str]) -> Mapping[str, Collection[str]]:
    return {}


def graph_links(session: Session, account_ids: Collection[str]) -> Mapping[str, Collection[str]]:
    """The accounts that share a non-hub value with each account (``riskops.links``)."""
    from riskops.links import repository as links_repo

    values = links_repo.values_of(session, account_ids, hubs=False)
    owners: dict[tuple[str, str], set[str]] = {}
    for account, kind, value, *_ in values:
        owners.setdefault((kind, value), set()).add(account)
    users = links_repo.accounts_of(session, list(owners))
    out: dict[str, set[str]] = {}
    for key, accounts in owners.items():
        others = {a for a, _, _ in users.get(key, [])}
        for account in accounts:
            out.setdefault(account, set()).update(others - {account})
    return out


# --- the service ---------------------------------------------------------------------------


def record_signals(session: Session, signals: Iterable[Signal]) -> set[str]:
    """Store facts pushed by the monitor or cases; returns the accounts they concern (to
    recompute). A fact already stored (same account, kind and ref) changes nothing."""
    rows = [s.row() for s in signals]
    repo.insert_signals(session, rows)
    return {r["account_id"] for r in rows}


def record_case_outcome(
    session: Session,
    account_id: str,
    case_id: int,
    outcome: str,
    *,
    at: datetime | None = None,
    policy: RatingPolicy | None = None,
    links: LinkSource = no_links,
) -> Rating:
    """What cases call after a case decision: the outcome is a signal, and the account's
    rating is recomputed in the caller's transaction."""
    now = at or utcnow()
    # one signal per case and outcome: a reopened case closed otherwise counts again
    ref = f"case:{case_id}:{outcome}"
    signal = Signal(account_id, SignalKind.CASE_OUTCOME, ref, 0, outcome, now)
    record_signals(session, [signal])
    return recompute(session, account_id, trigger="case", now=now, policy=policy, links=links)


def recompute(
    session: Session,
    account_id: str,
    *,
    trigger: str = "manual",
    now: datetime | None = None,
    policy: RatingPolicy | None = None,
    links: LinkSource = no_links,
) -> Rating:
    """Compute one account's rating and store it if it changed; returns it."""
    return recompute_many(
        session, [account_id], trigger=trigger, now=now, policy=policy, links=links
    )[account_id]


def recompute_many(
    session: Session,
    account_ids: Collection[str],
    *,
    trigger: str,
    now: datetime | None = None,
    policy: RatingPolicy | None = None,
    links: LinkSource = no_links,
) -> dict[str, Rating]:
    """Ratings of many accounts in a fixed number of queries; only those that changed are
    written (the current row and a history row). Returns every account's rating."""
    if not account_ids:
        return {}
    now = now or utcnow()
    policy = policy or default_policy()
    ids = set(account_ids)
    profiles = repo.profile_rows(session, ids)
    signals = repo.signals_since(session, ids, now - timedelta(days=policy.lookback_days))
    restrictions = repo.active_restrictions(session, ids, now)
    screening = repo.screening_hit_counts(session, ids)
    linked = links(session, ids)
    others = {o for found in linked.values() for o in found}
    other_restrictions = repo.active_restrictions(session, others, now) if others else {}
    stored = repo.ratings(session, ids)
    out: dict[str, Rating] = {}
    written: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    for account in sorted(ids):
        near = linked.get(account, ())
        facts = Facts(
            profile=profiles.get(account),
            signals=signals.get(account, []),
            restrictions=restrictions.get(account, set()),
            linked_offboarded=[
                o for o in near if RestrictionKind.ACCOUNT_CLOSED in other_restrictions.get(o, ())
            ],
            linked_restricted=[
                o
                for o in near
                if other_restrictions.get(o)
                and RestrictionKind.ACCOUNT_CLOSED not in other_restrictions[o]
            ],
            screening=screening.get(account, {}),
        )
        score, band, reasons = assess(facts, policy, now)
        payload = [r.to_json() for r in reasons]
        row = stored.get(account)
        if row is not None and (row.score, row.band, row.reasons) == (score, band, payload):
            out[account] = Rating.of(row)
            continue
        previous = RatingBand(row.band) if row is not None else None
        written.append(
            {
                "account_id": account,
                "score": score,
                "band": band,
                "reasons": payload,
                "computed_at": now,
            }
        )
        history.append(
            {
                "account_id": account,
                "score": score,
                "band": band,
                "previous_band": previous,
                "reasons": payload,
                "trigger": trigger[:64],
                "computed_at": now,
            }
        )
        out[account] = Rating(account, score, band, tuple(reasons), now)
    repo.upsert_ratings(session, written)
    repo.add_history(session, history)
    return out


def current(session: Session, account_id: str) -> Rating | None:
    """The account's stored rating (None if never rated). The caller checks
    ``account:view`` and audits the page that shows it (the account 360)."""
    row = repo.ratings(session, [account_id]).get(account_id)
    return Rating.of(row) if row is not None else None


def current_many(session: Session, account_ids: Collection[str]) -> dict[str, Rating]:
    """Stored ratings of many accounts (a queue page shows each case's band)."""
    return {a: Rating.of(r) for a, r in repo.ratings(session, account_ids).items()}


class RatingCache:
    """The bands the monitor's rules read as ``account.rating`` and ``account.rating_band``:
    loaded once, then refreshed before each batch with the ratings others wrote since (the
    accounts follower, case and KYC decisions, ``riskops rating recompute``), one indexed
    query that is usually short. A rule sees the rating as it stood when its batch began.

    A rating's time is taken before its transaction commits, so one committed late with an
    earlier time than the last seen is read again within ``overlap``; re-reading that window
    on every batch read back every rating the follower wrote in the last ``overlap`` (27k
    rows for 50k events, +3.5 µs an event, ``bench.bench_rating``), so the window is re-read
    at most every ``recheck_s`` seconds and the batches in between read only what is newer
    than the newest seen: a late commit reaches the rules within ``recheck_s``."""

    def __init__(
        self,
        overlap: timedelta = timedelta(seconds=5),
        recheck_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._by_account: dict[str, tuple[int, str]] = {}
        self._since: datetime | None = None
        self._loaded = False
        self.overlap = overlap
        self.recheck_s = recheck_s
        self._clock = clock
        self._rechecked = clock()
        # the times of the monitor's own batches (``note``), which the cache has already
        self._own: set[datetime] = set()

    def refresh(self, session: Session) -> int:
        """Read the ratings written since the last refresh; returns how many."""
        since = self._since
        if since is not None and self._clock() - self._rechecked >= self.recheck_s:
            since -= self.overlap  # the window, for late commits
            self._rechecked = self._clock()
            self._own = {at for at in self._own if at > since}
        if not self._loaded:
            rows = repo.ratings_changed_since(session, None)
        else:
            rows = repo.ratings_changed_since(session, since, self._own)
        for account, score, band, at in rows:
            self._by_account[account] = (score, band)
            if self._since is None or at > self._since:
                self._since = at
        self._loaded = True
        return len(rows)

    def note(self, ratings: Mapping[str, Rating], at: datetime) -> None:
        """The ratings a monitor batch computed at ``at`` (written with its commit)."""
        for account, found in ratings.items():
            self._by_account[account] = (found.score, found.band.value)
        self._own.add(at)
        if self._since is None or at > self._since:
            self._since = at

    def get(self, account_id: str) -> tuple[int, str] | None:
        return self._by_account.get(account_id)


def history(
    session: Session, account_id: str, *, limit: int = 50, before_id: int | None = None
) -> list[RatingChange]:
    """The account's rating changes, newest first, each with the band before it and what
    asked for it: why a band changed."""
    rows = repo.rating_history(session, account_id, max(1, min(limit, 500)), before_id)
    return [
        RatingChange(
            r.id,
            Rating.of(r),
            RatingBand(r.previous_band) if r.previous_band is not None else None,
            r.trigger,
        )
        for r in rows
    ]


# --- reads for a person (the API and console): permission and audit ----------------------


def view(session: Session, reader: Principal, account_id: str) -> Rating | None:
    """The account's rating (``account:view``); audited (``account_rating.view``)."""
    require(reader, Permission.ACCOUNT_VIEW)
    found = current(session, account_id)
    audit.record(session, reader, "account_rating.view", "account", account_id)
    return found


def view_history(
    session: Session,
    reader: Principal,
    account_id: str,
    *,
    limit: int = 50,
    before_id: int | None = None,
) -> list[RatingChange]:
    """The account's rating changes, newest first (``account:view``); audited."""
    require(reader, Permission.ACCOUNT_VIEW)
    found = history(session, account_id, limit=limit, before_id=before_id)
    audit.record(session, reader, "account_rating.history", "account", account_id)
    return found
