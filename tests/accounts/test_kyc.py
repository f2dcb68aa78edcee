"""KYC / KYB review: a submission in a monitor batch becomes a review with its consistency
findings and a case in the "kyc" queue; beneficial owners are screened and linked; bad input
gives findings, never an exception; the decision needs kyc:review and a note, moves the
account's KYC standing and rating, and is audited. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from riskops.accounts import kyc, rating
from riskops.accounts.models import (
    AccountProfile,
    KycReview,
    KycReviewKind,
    KycReviewStatus,
    RatingBand,
)
from riskops.accounts.watch import AccountWatch
from riskops.audit.models import AuditEntry
from riskops.auth.permissions import Principal, Role
from riskops.cases.alert_intake import drain_outbox
from riskops.cases.models import Case, CaseAlert
from riskops.events import schemas as s
from riskops.kernel import outbox
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from riskops.monitor.service import ALERT_RAISED

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ANA = Principal.for_user(1, "ana", Role.ANALYST)
SAM = Principal.for_user(3, "sam", Role.SENIOR_ANALYST)
MIA = Principal.for_user(5, "mia", Role.MANAGER)


class FakeIntel:
    """Phone and IP countries by prefix; screening against a fixed list of names."""

    def __init__(self, listed: dict[str, str] | None = None, *, lists: bool = True) -> None:
        self.listed = listed or {}
        self.lists = lists
        self.screened: list[tuple[str, str | None, str | None, str]] = []

    def screen(
        self, _session: Session, name: str, birth: str | None, country: str | None, kind: str
    ) -> list[kyc.ScreenMatch] | None:
        self.screened.append((name, birth, country, kind))
        if not self.lists:
            return None
        entry = self.listed.get(name.casefold())
        return [kyc.ScreenMatch("un", entry, name.upper(), 0.95)] if entry else []

    @staticmethod
    def ip_country(ip: str) -> str | None:
        return {"81.": "DE", "41.": "NG"}.get(ip[:3])

    @staticmethod
    def phone_country(phone: str, _region: str | None) -> str | None:
        return {"+49": "DE", "+33": "FR"}.get(phone[:3])

    def checks(self) -> kyc.Checks:
        return kyc.Checks(
            screen=self.screen, ip_country=self.ip_country, phone_country=self.phone_country
        )


def created(account: str, *, phone: str = "+4915112345678", ip: str = "81.2.3.4") -> s.Event:
    return s.AccountCreated(
        event_id=f"{account}-created",
        account_id=account,
        occurred_at=NOW - timedelta(days=60),
        country="DE",
        phone=phone,
        ip=ip,
    )


def submitted(account: str, **fields: Any) -> s.KycSubmitted:
    base: dict[str, Any] = {
        "event_id": f"{account}-kyc",
        "account_id": account,
        "occurred_at": NOW - timedelta(days=1),
        "level": 2,
        "document_type": "passport",
        "document_country": "DE",
        "full_name": "Anna Schmidt",
        "date_of_birth": date(1990, 5, 17),
        "nationality": "DE",
    }
    base.update(fields)
    return s.KycSubmitted(**base)


def run_batch(
    session: Session, events: list[s.Event], intel: FakeIntel, now: datetime = NOW
) -> AccountWatch:
    watch = AccountWatch(checks=intel.checks())
    for seq, event in enumerate(events, start=1):
        watch.add(event, seq)
    watch.flush(session, now=now)
    return watch


def review_of(session: Session, event_id: str) -> KycReview:
    return session.scalars(select(KycReview).where(KycReview.event_id == event_id)).one()


def codes(review: KycReview) -> list[str]:
    return [f["code"] for f in review.findings]


def test_the_topic_is_the_monitors() -> None:
    assert kyc.ALERT_RAISED == ALERT_RAISED


def test_a_consistent_kyc_gives_a_review_with_no_findings_and_a_kyc_case(engine: Engine) -> None:
    intel = FakeIntel()
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        run_batch(session, [created("acc-1"), submitted("acc-1")], intel)
        review = review_of(session, "acc-1-kyc")
        assert review.kind is KycReviewKind.KYC and review.status is KycReviewStatus.PENDING
        assert review.findings == []
        assert review.submission["full_name"] == "Anna Schmidt"
        assert review.submission["date_of_birth"] == "1990-05-17"
        assert intel.screened == [("Anna Schmidt", "1990-05-17", "DE", "person")]
    with unit_of_work(sessions) as session:
        assert drain_outbox(session, now=NOW) == 1
        case = session.scalars(select(Case)).one()
        alert = session.scalars(select(CaseAlert)).one()
        assert alert.account_id == "acc-1" and alert.typology == "kyc_review"
        assert case.queue_key == "kyc"
        assert "no findings" in alert.reason


def test_mismatches_age_and_screening_become_findings_and_the_case_reasons(
    engine: Engine,
) -> None:
    intel = FakeIntel({"ivan petrov": "QDi.42"})
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        events = [
            created("acc-2", phone="+33612345678", ip="41.1.1.1"),
            submitted(
                "acc-2",
                full_name="Ivan Petrov",
                nationality="VE",
                document_country="DE",
                date_of_birth=date(2010, 1, 1),
            ),
        ]
        run_batch(session, events, intel)
        review = review_of(session, "acc-2-kyc")
        found = codes(review)
        assert found[:2] == ["SCREENING_MATCH", "UNDER_18"]  # high first
        mismatches = [f["detail"] for f in review.findings if f["code"] == "COUNTRY_MISMATCH"]
        assert "nationality VE differs from phone FR" in mismatches
        assert "declared country DE differs from sign-up IP NG" in mismatches
        assert "COUNTRY_FATF_GREY_LIST" in found
        rated = rating.current(session, "acc-2")
        assert rated is not None and "COUNTRY_FATF_INCREASED_MONITORING" in {
            r.code for r in rated.reasons
        }
    with unit_of_work(sessions) as session:
        drain_outbox(session, now=NOW)
        alerts = session.scalars(select(CaseAlert).order_by(CaseAlert.id)).all()
        assert len({a.case_id for a in alerts}) == 1  # one case, the findings its reasons
        kinds = [a.kind for a in alerts]
        assert kinds[0] == "kyc_review" and "KYC-SCREENING_MATCH" in kinds
        assert "KYC-UNDER_18" in kinds and "KYC-COUNTRY_MISMATCH" in kinds
        match = next(a for a in alerts if a.kind == "KYC-SCREENING_MATCH")
        assert "QDi.42" in match.reason and match.severity == 60


def test_a_replayed_batch_opens_no_second_review(engine: Engine) -> None:
    intel = FakeIntel()
    with unit_of_work(session_factory(engine)) as session:
        events = [created("acc-1"), submitted("acc-1")]
        run_batch(session, events, intel)
        run_batch(session, events, intel)
        assert len(session.scalars(select(KycReview)).all()) == 1
        assert outbox.pending(session, ALERT_RAISED) == 1


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"date_of_birth": None}, "BIRTH_DATE_MISSING"),
        ({"date_of_birth": date(1910, 2, 1)}, "OVER_100"),
        ({"nationality": "ZZ"}, "COUNTRY_UNKNOWN"),
        ({"full_name": None}, "NAME_MISSING"),
        ({"document_type": None, "document_country": None}, "DOCUMENT_MISSING"),
        ({"nationality": "KP"}, "COUNTRY_PROHIBITED"),
        ({"nationality": "MM"}, "COUNTRY_FATF_BLACK_LIST"),
    ],
)
def test_bad_or_missing_input_gives_a_clear_finding(
    engine: Engine, fields: dict[str, Any], expected: str
) -> None:
    with unit_of_work(session_factory(engine)) as session:
        run_batch(session, [created("acc-3"), submitted("acc-3", **fields)], FakeIntel())
        review = review_of(session, "acc-3-kyc")
        assert expected in codes(review)
        finding = next(f for f in review.findings if f["code"] == expected)
        assert finding["detail"] and finding["severity"] in ("low", "medium", "high")


def test_a_submission_without_any_profile_or_lists_still_gets_a_review(engine: Engine) -> None:
    intel = FakeIntel(lists=False)
    with unit_of_work(session_factory(engine)) as session:
        run_batch(session, [submitted("acc-4", nationality="FR")], intel)
        found = codes(review_of(session, "acc-4-kyc"))
        assert "SIGNUP_MISSING" in found and "SCREENING_NO_LISTS" in found
        assert "COUNTRY_MISMATCH" in found  # nationality FR vs document DE


def test_intel_that_fails_is_a_note_not_an_error(engine: Engine) -> None:
    def broken(_ip: str) -> str | None:
        raise OSError("no mmdb")

    intel = FakeIntel()
    checks = kyc.Checks(screen=intel.screen, ip_country=broken, phone_country=intel.phone_country)
    with unit_of_work(session_factory(engine)) as session:
        watch = AccountWatch(checks=checks)
        for seq, event in enumerate([created("acc-5"), submitted("acc-5")], start=1):
            watch.add(event, seq)
        watch.flush(session, now=NOW)
        review = review_of(session, "acc-5-kyc")
        notes = [f["detail"] for f in review.findings if f["code"] == "COUNTRY_NOT_FOUND"]
        assert notes == ["sign-up IP: names no country"]


def test_the_same_name_on_another_account_is_a_finding(engine: Engine) -> None:
    """On the later submission, whatever batch the earlier was in: the findings are those
    of the log before the submission, so they do not depend on where the batches of the
    log were cut."""
    events = [created("acc-6"), submitted("acc-6"), created("acc-7")]
    events.append(submitted("acc-7", full_name="SCHMIDT  anna"))
    events += [created("acc-8"), submitted("acc-8", full_name="Otto Meier")]
    for cut in (len(events), 2, 3):  # one batch; acc-6 before; acc-7 opened before
        sessions = session_factory(engine)
        with unit_of_work(sessions) as session:
            session.execute(delete(KycReview))
            session.execute(delete(AccountProfile))
        with unit_of_work(sessions) as session:
            run_batch(session, events[:cut], FakeIntel())
        with unit_of_work(sessions) as session:
            watch = AccountWatch(checks=FakeIntel().checks())
            for seq, event in enumerate(events[cut:], start=cut + 1):
                watch.add(event, seq)
            watch.flush(session, now=NOW)
        with sessions() as session:
            assert "NAME_ON_OTHER_ACCOUNTS" in codes(review_of(session, "acc-7-kyc")), cut
            assert "NAME_ON_OTHER_ACCOUNTS" not in codes(review_of(session, "acc-6-kyc")), cut
            assert "NAME_ON_OTHER_ACCOUNTS" not in codes(review_of(session, "acc-8-kyc")), cut


def kyb(account: str, owners: list[s.BeneficialOwner], **fields: Any) -> s.KybSubmitted:
    base: dict[str, Any] = {
        "event_id": f"{account}-kyb",
        "account_id": account,
        "occurred_at": NOW - timedelta(days=1),
        "legal_name": "Acme Trading GmbH",
        "registration_number": "HRB 1234",
        "country": "DE",
        "beneficial_owners": owners,
    }
    base.update(fields)
    return s.KybSubmitted(**base)


def test_kyb_owners_are_each_screened_and_linked(engine: Engine) -> None:
    intel = FakeIntel({"boris listed": "QDi.7"})
    owners = [
        s.BeneficialOwner(
            full_name="Anna Schmidt",
            ownership_pct=60,
            date_of_birth=date(1990, 5, 17),
            nationality="DE",
        ),
        s.BeneficialOwner(full_name="Boris Listed", ownership_pct=50),
    ]
    with unit_of_work(session_factory(engine)) as session:
        events: list[s.Event] = [created("person"), submitted("person"), created("corp")]
        events.append(kyb("corp", owners))
        run_batch(session, events, intel)
        review = review_of(session, "corp-kyb")
        assert review.kind is KycReviewKind.KYB
        assert [o["full_name"] for o in review.submission["beneficial_owners"]] == [
            "Anna Schmidt",
            "Boris Listed",
        ]
        screened = {(name, kind) for name, _, _, kind in intel.screened}
        assert {
            ("Acme Trading GmbH", "organization"),
            ("Anna Schmidt", "person"),
            ("Boris Listed", "person"),
        } <= screened
        by_subject = {(f["subject"], f["code"]) for f in review.findings}
        assert ("owner: Boris Listed", "SCREENING_MATCH") in by_subject
        assert ("owner: Boris Listed", "BIRTH_DATE_MISSING") in by_subject
        assert ("company", "OWNERSHIP_OVER_100") in by_subject
        linked = next(f for f in review.findings if f["code"] == "OWNER_LINKED")
        assert linked["subject"] == "owner: Anna Schmidt" and "person" in linked["detail"]
        profile = session.get(AccountProfile, "corp")
        assert profile is not None and profile.corporate and profile.kyb_status == "submitted"


def test_a_kyb_without_owners_is_a_high_finding(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        run_batch(session, [kyb("corp", [], country="ZZ")], FakeIntel())
        found = codes(review_of(session, "corp-kyb"))
        assert found[0] == "NO_BENEFICIAL_OWNERS" and "COUNTRY_UNKNOWN" in found


def test_screening_against_a_loaded_list(engine: Engine, tmp_path: Path) -> None:
    """The default check screens with the lists ``riskops.screening`` holds."""
    from riskops.screening import service as screening

    path = tmp_path / "list.ftm.json"
    entity = {
        "id": "Q-1",
        "schema": "Person",
        "properties": {"name": ["Viktor Bout"], "birthDate": ["1967-01-13"]},
    }
    path.write_text(json.dumps(entity) + "\n")
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        assert kyc.screen_with_lists(session, "Viktor Bout", None, None, "person") is None
        screening.load_list(session, MIA, "ftm", [path], name="test-list", now=NOW)
    with unit_of_work(sessions) as session:  # the lists are read once per transaction
        found = kyc.screen_with_lists(session, "Victor Bout", "1967-01-13", None, "person")
        assert found and found[0].entry_id == "Q-1" and found[0].list_name == "test-list"
        assert kyc.screen_with_lists(session, "Anna Schmidt", None, None, "person") == []


# --- the decision -----------------------------------------------------------------------


def _pending(session: Session, account: str = "acc-1") -> KycReview:
    run_batch(session, [created(account), submitted(account)], FakeIntel())
    return review_of(session, f"{account}-kyc")


def test_approval_sets_the_level_recomputes_the_rating_and_is_audited(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        review = _pending(session)
        before = rating.current(session, "acc-1")
        assert before is not None and "KYC_NONE" in {r.code for r in before.reasons}
        decided = kyc.decide(session, SAM, review.id, "approve", " documents verified ", now=NOW)
        assert decided.status is KycReviewStatus.APPROVED
        assert (decided.decided_by, decided.note) == ("sam", "documents verified")
        profile = session.get(AccountProfile, "acc-1")
        assert profile is not None and (profile.kyc_level, profile.kyc_status) == (2, "approved")
        after = rating.current(session, "acc-1")
        assert after is not None and after.band is RatingBand.LOW and after.score == 0
        assert rating.history(session, "acc-1")[0].trigger == "kyc"
        session.flush()
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "kyc_review.decide")
        ).one()
        assert entry.actor == "sam"
        assert outbox.pending(session, kyc.KYC_DECIDED) == 1
        with pytest.raises(Conflict):
            kyc.decide(session, SAM, review.id, "reject", "again", now=NOW)


def test_more_information_then_a_rejection(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        review = _pending(session)
        kyc.decide(session, SAM, review.id, "more_info", "address proof missing", now=NOW)
        profile = session.get(AccountProfile, "acc-1")
        assert profile is not None and profile.kyc_status == "resubmit"
        assert [r.id for r in kyc.queue(session, SAM)] == [review.id]
        kyc.decide(session, SAM, review.id, "reject", "forged document", now=NOW)
        assert kyc.queue(session, SAM) == []
        rated = rating.current(session, "acc-1")
        assert rated is not None and "KYC_REJECTED" in {r.code for r in rated.reasons}


def test_a_decision_is_refused_without_permission_note_or_a_known_decision(
    engine: Engine,
) -> None:
    with unit_of_work(session_factory(engine)) as session:
        review = _pending(session)
        with pytest.raises(Forbidden):
            kyc.decide(session, ANA, review.id, "approve", "ok", now=NOW)
        with pytest.raises(ValidationFailed):
            kyc.decide(session, SAM, review.id, "approve", "   ", now=NOW)
        with pytest.raises(ValidationFailed):
            kyc.decide(session, SAM, review.id, "maybe", "hm", now=NOW)
        with pytest.raises(NotFound):
            kyc.decide(session, SAM, 999_999, "approve", "ok", now=NOW)
        with pytest.raises(Forbidden):
            kyc.queue(session, ANA)


def test_reads_for_the_account_360_are_audited(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        review = _pending(session)
        latest = kyc.review_for_account(session, ANA, "acc-1")
        assert latest is not None and latest.id == review.id
        assert kyc.get_review(session, ANA, review.id).event_id == "acc-1-kyc"
        assert kyc.review_for_account(session, ANA, "nobody") is None
        session.flush()  # audit entries are added to the session (autoflush is off)
        actions = set(session.scalars(select(AuditEntry.action)))
        assert {"kyc_review.list", "kyc_review.view"} <= actions
