"""The account risk rating: bands and reasons of crafted profiles, recompute on change with
its history, and the inputs that come from other domains (signals, restrictions, screening
hits, links), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from riskops.accounts import rating
from riskops.accounts.countries import (
    FATF_AS_OF,
    FATF_CALL_FOR_ACTION,
    FATF_INCREASED_MONITORING,
    CountryPolicy,
    CountryRisk,
    is_country,
)
from riskops.accounts.models import (
    AccountProfile,
    AccountRatingChange,
    AccountSignal,
    RatingBand,
    Restriction,
    RestrictionKind,
    SignalKind,
)
from riskops.kernel.db import session_factory, unit_of_work
from riskops.screening.models import Hit, HitStatus, Subject, SubjectRole

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
POLICY = rating.RatingPolicy()


def profile(**fields: object) -> AccountProfile:
    base: dict[str, object] = {
        "account_id": "acc-1",
        "opened_at": NOW - timedelta(days=400),
        "country": "DE",
        "corporate": False,
        "kyc_level": 2,
        "kyc_status": "approved",
        "nationality": "DE",
        "document_country": "DE",
        "updated_at": NOW,
    }
    base.update(fields)
    return AccountProfile(**base)


def signal(kind: SignalKind, severity: int = 0, detail: str = "", days: int = 1) -> AccountSignal:
    return AccountSignal(
        account_id="acc-1",
        kind=kind,
        ref=f"{kind}:{severity}:{detail}:{days}",
        severity=severity,
        detail=detail,
        occurred_at=NOW - timedelta(days=days),
    )


def codes(reasons: list[rating.Reason]) -> set[str]:
    return {r.code for r in reasons}


# --- the pure assessment ----------------------------------------------------------------


def test_an_old_verified_account_in_a_standard_country_is_low_with_no_reasons() -> None:
    score, band, reasons = rating.assess(rating.Facts(profile=profile()), POLICY, NOW)
    assert (score, band, reasons) == (0, RatingBand.LOW, [])


def test_no_profile_at_all_is_rated_with_reasons_saying_so() -> None:
    score, band, reasons = rating.assess(rating.Facts(), POLICY, NOW)
    assert codes(reasons) == {"KYC_NONE", "ACCOUNT_AGE_UNKNOWN"}
    assert score == 30 and band is RatingBand.MEDIUM


def test_kyc_level_and_age_weigh() -> None:
    fresh = profile(kyc_level=1, opened_at=NOW - timedelta(days=3))
    score, band, reasons = rating.assess(rating.Facts(profile=fresh), POLICY, NOW)
    assert codes(reasons) == {"KYC_LEVEL_1", "ACCOUNT_NEW"}
    assert score == 20 and band is RatingBand.LOW
    assert any("3 days ago" in r.detail for r in reasons)
    rejected = profile(kyc_level=0, kyc_status="rejected")
    score, band, reasons = rating.assess(rating.Facts(profile=rejected), POLICY, NOW)
    assert codes(reasons) == {"KYC_REJECTED", "KYC_NONE"}
    assert score == 50 and band is RatingBand.MEDIUM


def test_fatf_grey_list_nationality_names_the_list_and_its_date() -> None:
    facts = rating.Facts(profile=profile(nationality="VE"))
    score, band, reasons = rating.assess(facts, POLICY, NOW)
    assert [r.code for r in reasons] == ["COUNTRY_FATF_INCREASED_MONITORING"]
    assert "nationality VE" in reasons[0].detail and FATF_AS_OF.isoformat() in reasons[0].detail
    assert score == 20 and band is RatingBand.LOW


def test_the_worst_country_counts_once_and_a_prohibited_one_prohibits() -> None:
    facts = rating.Facts(profile=profile(nationality="VE", document_country="MM"))
    score, band, reasons = rating.assess(facts, POLICY, NOW)
    assert [r.code for r in reasons] == ["COUNTRY_FATF_CALL_FOR_ACTION"]
    assert score == 40 and band is RatingBand.MEDIUM
    facts = rating.Facts(profile=profile(country="KP"))
    score, band, reasons = rating.assess(facts, POLICY, NOW)
    assert band is RatingBand.PROHIBITED and reasons[0].code == "COUNTRY_PROHIBITED"


def test_an_unknown_country_code_is_a_reason_not_an_error() -> None:
    facts = rating.Facts(profile=profile(country="ZZ", document_country="??"))
    _, band, reasons = rating.assess(facts, POLICY, NOW)
    unknown = [r for r in reasons if r.code == "COUNTRY_UNKNOWN"]
    assert len(unknown) == 1 and "residence ZZ" in unknown[0].detail
    assert "document ??" in unknown[0].detail and band is RatingBand.LOW


def test_the_deployment_list_is_read_from_its_files(tmp_path: Path) -> None:
    (tmp_path / "high_risk_countries.txt").write_text("# ours\nru\nnot-a-code\n")
    (tmp_path / "prohibited_countries.txt").write_text("CU\n")
    policy = CountryPolicy.from_dir(tmp_path)
    assert policy.risk("RU") is CountryRisk.DEPLOYMENT_HIGH_RISK
    assert policy.risk("CU") is CountryRisk.PROHIBITED
    assert policy.risk("KP") is CountryRisk.CALL_FOR_ACTION  # the file replaced the default
    assert policy.risk("XX") is CountryRisk.UNKNOWN and policy.risk(None) is None
    assert CountryPolicy.from_dir(tmp_path / "missing") == CountryPolicy()


def test_the_fatf_lists_are_country_codes() -> None:
    assert all(is_country(c) for c in FATF_CALL_FOR_ACTION | FATF_INCREASED_MONITORING)
    assert not FATF_CALL_FOR_ACTION & FATF_INCREASED_MONITORING


def test_behaviour_weighs_alerts_by_severity_holds_and_blocks_capped() -> None:
    signals = [signal(SignalKind.ALERT, 80, days=d) for d in range(1, 5)]  # 4 high: capped 30
    signals += [signal(SignalKind.ALERT, 40), signal(SignalKind.ALERT, 5)]
    signals += [signal(SignalKind.HOLD, days=d) for d in (1, 2)]
    signals.append(signal(SignalKind.BLOCK))
    score, band, reasons = rating.assess(
        rating.Facts(profile=profile(), signals=signals), POLICY, NOW
    )
    points = {r.code: r.points for r in reasons}
    assert points == {
        "ALERTS_HIGH": 30,
        "ALERTS_MEDIUM": 5,
        "ALERTS_LOW": 1,
        "HELD_WITHDRAWALS": 10,
        "BLOCKED_EVENTS": 10,
    }
    assert score == 56 and band is RatingBand.MEDIUM
    assert reasons[0].code == "ALERTS_HIGH"  # heaviest first


def test_case_outcomes_restrictions_links_and_screening() -> None:
    facts = rating.Facts(
        profile=profile(),
        signals=[signal(SignalKind.CASE_OUTCOME, detail="sar_referred")],
        restrictions={RestrictionKind.WITHDRAWAL_LOCK},
        linked_restricted=["b", "c"],
        screening={HitStatus.OPEN: 1, HitStatus.NOT_A_MATCH: 3},
    )
    score, band, reasons = rating.assess(facts, POLICY, NOW)
    points = {r.code: r.points for r in reasons}
    assert points == {
        "CASE_SAR_REFERRED": 35,
        "ACCOUNT_RESTRICTED": 10,
        "LINKED_RESTRICTED": 20,
        "SCREENING_OPEN": 30,
    }
    assert score == 95 and band is RatingBand.HIGH
    for prohibiting in (
        rating.Facts(profile=profile(), screening={HitStatus.CONFIRMED: 1}),
        rating.Facts(profile=profile(), restrictions={RestrictionKind.ACCOUNT_CLOSED}),
        rating.Facts(
            profile=profile(), signals=[signal(SignalKind.CASE_OUTCOME, detail="offboarded")]
        ),
    ):
        assert rating.assess(prohibiting, POLICY, NOW)[1] is RatingBand.PROHIBITED


def test_a_corporate_account_without_an_approved_kyb_weighs() -> None:
    facts = rating.Facts(profile=profile(corporate=True, kyb_status="submitted"))
    _, _, reasons = rating.assess(facts, POLICY, NOW)
    assert [r.code for r in reasons] == ["KYB_NOT_APPROVED"]


_codes = st.one_of(st.none(), st.text(max_size=3), st.sampled_from(["DE", "KP", "VE", "MM"]))


@settings(max_examples=60, deadline=None)
@given(
    level=st.integers(-2, 9),
    status=st.one_of(st.none(), st.text(max_size=10)),
    country=_codes,
    nationality=_codes,
    opened=st.one_of(st.none(), st.integers(-1000, 1000)),
    severities=st.lists(st.integers(-50, 500), max_size=8),
)
def test_any_profile_gets_a_score_in_range_and_a_band(
    level: int,
    status: str | None,
    country: str | None,
    nationality: str | None,
    opened: int | None,
    severities: list[int],
) -> None:
    p = profile(
        kyc_level=level,
        kyc_status=status,
        country=country,
        nationality=nationality,
        opened_at=None if opened is None else NOW - timedelta(days=opened),
    )
    signals = [signal(SignalKind.ALERT, s) for s in severities]
    score, band, reasons = rating.assess(rating.Facts(profile=p, signals=signals), POLICY, NOW)
    assert 0 <= score <= 100 and band in RatingBand
    assert (band is RatingBand.PROHIBITED) == any(r.prohibits for r in reasons)


# --- stored, recomputed on change, with history -----------------------------------------


def _add_profile(session: Session, account: str, **fields: object) -> None:
    session.add(profile(account_id=account, **fields))
    session.flush()


def test_recompute_stores_the_rating_and_history_only_when_it_changes(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        _add_profile(session, "acc-1")
        first = rating.recompute(session, "acc-1", trigger="test", now=NOW)
        assert (first.score, first.band, first.reasons) == (0, RatingBand.LOW, ())
        again = rating.recompute(session, "acc-1", trigger="test", now=NOW + timedelta(hours=1))
        assert again.computed_at == NOW  # nothing changed: nothing written
    with unit_of_work(sessions) as session:
        signals = [
            rating.Signal("acc-1", SignalKind.ALERT, f"ATO-1:e{i}:0", 90, "ATO", NOW)
            for i in range(3)
        ]
        assert rating.record_signals(session, signals + signals[:1]) == {"acc-1"}
        later = NOW + timedelta(hours=2)
        changed = rating.recompute(session, "acc-1", trigger="monitor", now=later)
        assert changed.score == 30 and changed.band is RatingBand.MEDIUM
    with unit_of_work(sessions) as session:
        current = rating.current(session, "acc-1")
        assert current is not None and current.band is RatingBand.MEDIUM
        assert (
            current.reasons[0].code == "ALERTS_HIGH" and "3 alert(s)" in current.reasons[0].detail
        )
        assert current.computed_at == NOW + timedelta(hours=2)
        history = rating.history(session, "acc-1")
        assert [(h.rating.band, h.previous_band, h.trigger) for h in history] == [
            (RatingBand.MEDIUM, RatingBand.LOW, "monitor"),
            (RatingBand.LOW, None, "test"),
        ]
        assert rating.history(session, "acc-1", before_id=history[0].id)[0].id == history[1].id
        count = session.scalar(select(func.count()).select_from(AccountSignal))
        assert count == 3  # the repeated ref was recorded once
        assert rating.current(session, "nobody") is None


def test_old_signals_fall_out_of_the_lookback(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        _add_profile(session, "acc-1")
        old = NOW - timedelta(days=POLICY.lookback_days + 1)
        rating.record_signals(session, [rating.Signal("acc-1", SignalKind.HOLD, "h1", 0, "", old)])
        assert rating.recompute(session, "acc-1", now=NOW).score == 0


def test_a_case_outcome_recomputes_and_an_active_restriction_counts(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        _add_profile(session, "acc-1")
        session.add(
            Restriction(
                account_id="acc-1",
                kind=RestrictionKind.FULL_FREEZE,
                reason="test",
                created_by="sam",
                created_at=NOW - timedelta(days=1),
            )
        )
        session.flush()
        result = rating.record_case_outcome(session, "acc-1", 7, "restricted", at=NOW)
        assert {r.code for r in result.reasons} == {"CASE_RESTRICTED", "ACCOUNT_FROZEN"}
        assert result.band is RatingBand.MEDIUM
        history = session.scalars(select(AccountRatingChange)).all()
        assert [h.trigger for h in history] == ["case"]


def test_screening_hits_and_links_to_offboarded_accounts_are_read(engine: Engine) -> None:
    def links(_s: Session, accounts: Collection[str]) -> Mapping[str, Collection[str]]:
        return {"acc-1": ["gone", "locked", "clean"]} if "acc-1" in accounts else {}

    with unit_of_work(session_factory(engine)) as session:
        _add_profile(session, "acc-1")
        for account, kind in (
            ("gone", RestrictionKind.ACCOUNT_CLOSED),
            ("locked", RestrictionKind.P2P_BAN),
        ):
            session.add(
                Restriction(
                    account_id=account,
                    kind=kind,
                    reason="t",
                    created_by="sam",
                    created_at=NOW - timedelta(days=2),
                )
            )
        subject = Subject(
            account_id="acc-1",
            role=SubjectRole.KYC,
            ref="",
            name="Jane Roe",
            event_id="k1",
            updated_at=NOW,
        )
        session.add(subject)
        session.flush()
        session.add(
            Hit(
                key="k" * 64,
                subject_id=subject.id,
                account_id="acc-1",
                subject_name="Jane Roe",
                list_name="un",
                list_version_id=1,
                entry_id="QDi.1",
                matched_name="JANE ROE",
                score=0.93,
                reasons=[],
                entry={},
                status=HitStatus.OPEN,
                created_at=NOW,
            )
        )
        session.flush()
        result = rating.recompute(session, "acc-1", now=NOW, links=links)
        points = {r.code: r.points for r in result.reasons}
        assert points == {"LINKED_OFFBOARDED": 20, "LINKED_RESTRICTED": 10, "SCREENING_OPEN": 30}
        assert result.band is RatingBand.HIGH
        detail = next(r.detail for r in result.reasons if r.code == "LINKED_OFFBOARDED")
        assert "gone" in detail


def test_many_accounts_in_one_call(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        for i in range(30):
            _add_profile(session, f"a{i:02}", country="VE" if i % 2 else "DE")
        rated = rating.recompute_many(
            session, [f"a{i:02}" for i in range(30)], trigger="t", now=NOW
        )
        assert len(rated) == 30
        assert {r.score for a, r in rated.items() if int(a[1:]) % 2} == {20}
        assert len(rating.current_many(session, ["a01", "a02", "zz"])) == 2


@pytest.mark.parametrize("bad", ["", "x" * 300])
def test_a_signal_is_bounded_before_it_is_stored(engine: Engine, bad: str) -> None:
    with unit_of_work(session_factory(engine)) as session:
        sig = rating.Signal("acc-1", SignalKind.ALERT, bad or "r", 1000, bad, NOW)
        rating.record_signals(session, [sig])
        stored = session.scalars(select(AccountSignal)).one()
        assert stored.severity == 100 and len(stored.detail) <= 256 and len(stored.ref) <= 256
