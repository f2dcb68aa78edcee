"""Keeping profiles, KYC reviews and ratings current from a batch of the event log.

The accounts follower (``riskops.accounts.tasks``) hands each profile event of a batch to an
``AccountWatch`` (``add``), and the signals of the monitor's decisions on the batch's range
(live alerts, held withdrawals, blocked events: ``signals``), then calls ``flush`` in the
batch's transaction, with its cursor. A replayed batch changes nothing (a review is unique
on its event, a signal on its reference, a rating is written only when it changed).

``flush`` does nothing for a batch with no profile event and no signal, and otherwise a
fixed few queries for all the accounts it touched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from riskops.accounts import kyc, rating
from riskops.accounts import risk_repository as repo
from riskops.accounts.models import AccountProfile
from riskops.events import schemas as s
from riskops.kernel.clock import utcnow

# The event types that change a profile (and so perhaps a rating or a review).
PROFILE_EVENTS: frozenset[type[s.Event]] = frozenset(
    {
        s.AccountCreated,
        s.KycSubmitted,
        s.KycDecided,
        s.KybSubmitted,
        s.KybDecided,
        s.SecurityChange,
    }
)


@dataclass
class FlushResult:
    profiles: int = 0  # profiles created or changed
    reviews: int = 0  # KYC / KYB reviews opened
    signals: int = 0  # signals recorded
    rated: int = 0  # accounts whose rating was recomputed (written only if it changed)


@dataclass
class AccountWatch:
    """Collects one batch's account facts (not thread-safe: the follower's passes run one
    at a time)."""

    checks: kyc.Checks = field(default_factory=kyc.Checks)
    policy: rating.RatingPolicy = field(default_factory=rating.default_policy)
    links: rating.LinkSource = rating.no_links
    _changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    _submissions: list[tuple[int, s.KycSubmitted | s.KybSubmitted]] = field(default_factory=list)
    _signals: list[rating.Signal] = field(default_factory=list)
    _named: list[tuple[int, str, str]] = field(default_factory=list)  # (seq, account, name)

    def add(self, event: s.Event, seq: int) -> None:
        """Note one event of the batch (in log order)."""
        if type(event) not in PROFILE_EVENTS:
            return
        changes = _profile_changes(event)
        if changes:
            self._changes.setdefault(event.account_id, {}).update(changes)
            if changes.get("name_key"):
                self._named.append((seq, event.account_id, changes["name_key"]))
        if isinstance(event, s.KycSubmitted | s.KybSubmitted):
            self._submissions.append((seq, event))

    def signal(self, signal: rating.Signal) -> None:
        """Note a fact of the batch the rating weighs (an alert, a hold, a block)."""
        self._signals.append(signal)

    def signals(self, signals: Iterable[rating.Signal]) -> None:
        self._signals.extend(signals)

    def clear(self) -> None:
        """Forget the batch (it failed and will be replayed)."""
        self._changes, self._submissions, self._signals, self._named = {}, [], [], []

    def flush(self, session: Session, *, now: datetime | None = None) -> FlushResult:
        """Write the batch's profiles, reviews, signals and changed ratings."""
        result = FlushResult()
        if not (self._changes or self._signals):
            return result
        now = now or utcnow()
        try:
            touched = set(self._changes)
            before: dict[str, list[str]] | None = None
            if self._submissions:  # who held the submitted names before this batch
                keys = {key for _, _, key in self._named}
                before = repo.accounts_named_many(session, keys)
            profiles = apply_profile_changes(session, self._changes, now)
            result.profiles = len(self._changes)
            if self._submissions:
                reviews = kyc.observe_submissions(
                    session,
                    self._submissions,
                    profiles,
                    checks=self.checks,
                    now=now,
                    names_before=before,
                    named=self._named,
                )
                result.reviews = len(reviews)
            if self._signals:
                touched |= rating.record_signals(session, self._signals)
                result.signals = len(self._signals)
            rated = rating.recompute_many(
                session, touched, trigger="monitor", now=now, policy=self.policy, links=self.links
            )
            result.rated = len(rated)
        finally:
            self.clear()
        return result


def _profile_changes(event: s.Event) -> dict[str, Any]:
    """What an event says of its account's profile (only the fields it names)."""
    out: dict[str, Any] = {}
    if isinstance(event, s.AccountCreated):
        out["opened_at"] = event.occurred_at
        out["corporate"] = event.corporate
        for name, value in (("country", event.country), ("phone", event.phone)):
            if value is not None:
                out[name] = value
        if event.ip is not None:
            out["signup_ip"] = event.ip
    elif isinstance(event, s.KycSubmitted | s.KycDecided):
        if isinstance(event, s.KycSubmitted):
            out["kyc_status"] = "submitted"
        else:
            out["kyc_status"] = event.result.value
            if event.result is s.KycResult.APPROVED:
                out["kyc_level"] = event.level
        stated: dict[str, object] = {
            "nationality": event.nationality,
            "document_country": event.document_country,
            "birth_date": event.date_of_birth,
            "full_name": event.full_name,
        }
        out.update({name: value for name, value in stated.items() if value is not None})
        if event.full_name:
            out["name_key"] = kyc.name_key(event.full_name)
    elif isinstance(event, s.KybSubmitted | s.KybDecided):
        out["corporate"] = True
        out["kyb_status"] = "submitted" if isinstance(event, s.KybSubmitted) else event.result.value
        if event.country is not None:
            out["kyb_country"] = event.country
        if event.legal_name:
            out["full_name"] = event.legal_name
            out["name_key"] = kyc.name_key(event.legal_name)
    elif (
        isinstance(event, s.SecurityChange)
        and event.change is s.SecurityChangeKind.PHONE_CHANGED
        and event.new_value
    ):
        out["phone"] = event.new_value
    return out


def apply_profile_changes(
    session: Session, changes: dict[str, dict[str, Any]], now: datetime
) -> dict[str, AccountProfile]:
    """Create or update the profiles of ``changes`` (account -> fields); returns them.

    New profiles (most of a batch's: an account opens, then submits its KYC) are inserted
    in one statement; the few that exist are updated through the session."""
    profiles = repo.profiles(session, changes)
    new: list[dict[str, Any]] = []
    for account, fields in changes.items():
        profile = profiles.get(account)
        if profile is None:
            row = {"account_id": account, "corporate": False, "kyc_level": 0, **fields}
            row["updated_at"] = now
            new.append(row)
            profiles[account] = AccountProfile(**row)  # not in the session: read by the checks
            continue
        for name, value in fields.items():
            setattr(profile, name, value)
        profile.updated_at = now
    repo.insert_profiles(session, new)
    session.flush()
    return profiles
