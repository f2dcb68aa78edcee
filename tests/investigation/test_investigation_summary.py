"""The account 360: profile from identity events, 30-day flows, restrictions, cases, alerts,
the audit entry of a view, and the timeline (filter, paging, the monitor's decision)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import msgspec
import pytest
from monitor_fakes import FakeEvaluator
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from riskops.accounts import service as accounts
from riskops.accounts.models import RestrictionKind
from riskops.audit.models import AuditEntry
from riskops.auth.permissions import Principal, Role
from riskops.cases.alert_intake import ensure_default_queues, raise_alert
from riskops.cases.models import AlertSource
from riskops.cases.schemas import AlertIn
from riskops.events import schemas as s
from riskops.events.models import EventRecord
from riskops.events.service import ingest
from riskops.intake.repository import known_accounts
from riskops.investigation.service import account_summary
from riskops.investigation.timeline import timeline
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.errors import Forbidden, ValidationFailed
from riskops.monitor import repository as monitor_repo
from riskops.monitor import service as monitor
from riskops.monitor.engine import Monitor
from riskops.monitor.models import AccountEvent, Decision, DecisionOutcome
from riskops.monitor.service import resolve_hold

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ANALYST = Principal.for_user(1, "ana", Role.ANALYST)
RULE_AUTHOR = Principal.for_user(2, "rita", Role.RULE_AUTHOR)
SENIOR = Principal.for_user(3, "sam", Role.SENIOR_ANALYST)


def _events(account: str) -> list[s.Event]:
    t = NOW - timedelta(days=40)
    return [
        s.AccountCreated(
            event_id=f"{account}-created",
            account_id=account,
            occurred_at=t,
            email="ana@example.com",
            phone="+447700900123",
            country="GB",
        ),
        s.KycDecided(
            event_id=f"{account}-kyc",
            account_id=account,
            occurred_at=t + timedelta(hours=1),
            level=2,
            result=s.KycResult.APPROVED,
            full_name="Ana Example",
        ),
        # outside the 30-day window: not counted
        s.Deposit(
            event_id=f"{account}-dep-old",
            account_id=account,
            occurred_at=NOW - timedelta(days=31),
            asset="BTC",
            amount=Decimal("1"),
            usd_value=Decimal("60000.00"),
            rail=s.Rail.CRYPTO,
        ),
        s.Deposit(
            event_id=f"{account}-dep-1",
            account_id=account,
            occurred_at=NOW - timedelta(days=3),
            asset="USDT",
            amount=Decimal("100.10"),
            usd_value=Decimal("100.10"),
            rail=s.Rail.CRYPTO,
            source_address="TXsource",
        ),
        s.Deposit(
            event_id=f"{account}-dep-2",
            account_id=account,
            occurred_at=NOW - timedelta(days=2),
            asset="USDT",
            amount=Decimal("0.2"),
            usd_value=Decimal("0.20"),
            rail=s.Rail.CRYPTO,
        ),
        s.Login(
            event_id=f"{account}-login",
            account_id=account,
            occurred_at=NOW - timedelta(days=1),
            success=False,
            ip="203.0.113.9",
            ip_country="NG",
            device_id="dev-9",
        ),
        s.WithdrawalRequested(
            event_id=f"{account}-wd",
            account_id=account,
            occurred_at=NOW - timedelta(hours=1),
            asset="BTC",
            amount=Decimal("0.005"),
            usd_value=Decimal("300.05"),
            address="bc1qdest",
        ),
    ]


def _monitor_through(session: Session, seq: int) -> None:
    """The monitor's batch over the log up to ``seq`` (it writes the account timeline)."""
    done = monitor_repo.get_checkpoint(session, "default")
    if seq <= done:
        return
    records = monitor_repo.log_after(session, done, seq - done)
    monitor.process_batch(session, Monitor(FakeEvaluator()), records, now=NOW)


# Readers find an account's events in the monitor's timeline up to its checkpoint and in
# the log's tail after it; every test runs with the monitor not started, and with acc-1's
# events split between the two.
@pytest.fixture(params=["log tail only", "timeline and tail"])
def seeded(engine: Engine, request: pytest.FixtureRequest) -> Engine:
    with unit_of_work(session_factory(engine)) as session:
        ensure_default_queues(session)
        ingest(session, [(None, e) for e in _events("acc-1")], source="api")
        ingest(session, [(None, e) for e in _events("acc-2")], source="api")
        if request.param == "timeline and tail":
            _monitor_through(session, 4)  # acc-1's first four events, before its withdrawal
        accounts.restrict(
            session, ANALYST, "acc-1", RestrictionKind.WITHDRAWAL_LOCK, "case 1", now=NOW
        )
        lifted = accounts.restrict(
            session, ANALYST, "acc-1", RestrictionKind.TRADING_LOCK, "case 1", now=NOW
        )
        accounts.lift(session, SENIOR, "acc-1", lifted.id, "appeal upheld", now=NOW)
        raise_alert(
            session,
            AlertIn(
                source=AlertSource.EMAIL,
                source_ref="msg-1",
                account_id="acc-1",
                kind="email",
                title="Customer says it was not them",
                severity=60,
            ),
            now=NOW,
        )
        session.add(
            Decision(
                event_id="acc-1-wd",
                row=0,
                account_id="acc-1",
                seq=7,
                event_type="withdrawal.requested",
                outcome=DecisionOutcome.HOLD,
                score=80,
                reasons=[],
                rule_ids=["SIM-001"],
                decided_at=NOW,
                latency_us=10,
            )
        )
    return engine


def test_summary_reads_profile_flows_restrictions_and_case(seeded: Engine) -> None:
    with unit_of_work(session_factory(seeded)) as session:
        summary = account_summary(session, ANALYST, "acc-1", now=NOW)
    assert summary.known
    assert summary.profile.email == "ana@example.com"
    assert summary.profile.country == "GB"
    assert summary.profile.kyc_level == 2 and summary.profile.kyc_result == "approved"
    assert summary.profile.full_name == "Ana Example"
    # two deposits in 30 days (the 31-day-old one is outside), exact to the cent
    assert (summary.deposits_30d.count, summary.deposits_30d.usd) == (2, Decimal("100.30"))
    assert (summary.withdrawals_30d.count, summary.withdrawals_30d.usd) == (1, Decimal("300.05"))
    assert [r.kind for r in summary.restrictions] == ["withdrawal_lock"]  # lifted one gone
    assert summary.open_case is not None and summary.open_case.status == "new"
    assert [a.kind for a in summary.alerts] == ["email"]


def test_summary_of_another_account_is_separate_and_unknown_is_said(seeded: Engine) -> None:
    with unit_of_work(session_factory(seeded)) as session:
        other = account_summary(session, ANALYST, "acc-2", now=NOW)
        unknown = account_summary(session, ANALYST, "acc-404", now=NOW)
    assert other.restrictions == [] and other.open_case is None
    assert not unknown.known and unknown.deposits_30d.count == 0


def test_a_view_is_audited_and_needs_account_view(seeded: Engine) -> None:
    with unit_of_work(session_factory(seeded)) as session:
        account_summary(session, ANALYST, "acc-1", now=NOW)
    with unit_of_work(session_factory(seeded)) as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "account.view")
        ).all()
        assert [(e.actor, e.subject_id) for e in entries] == [("ana", "acc-1")]
        nobody = Principal.for_user(9, "x", Role.ANALYST)
        object.__setattr__(nobody, "permissions", frozenset())
        with pytest.raises(Forbidden):
            account_summary(session, nobody, "acc-1")
        with pytest.raises(Forbidden):
            timeline(session, nobody, "acc-1")
    # a rule author may look (account:view) without acting
    with unit_of_work(session_factory(seeded)) as session:
        assert account_summary(session, RULE_AUTHOR, "acc-1", now=NOW).known


def test_timeline_is_newest_first_with_details_and_the_monitor_decision(seeded: Engine) -> None:
    with unit_of_work(session_factory(seeded)) as session:
        page = timeline(session, ANALYST, "acc-1")
    assert [r.type for r in page.rows][:2] == ["withdrawal.requested", "login"]
    assert page.next_before_seq is None and len(page.rows) == 7
    wd, login = page.rows[0], page.rows[1]
    assert (wd.amount, wd.asset, wd.usd_value, wd.address) == (
        Decimal("0.005"),
        "BTC",
        Decimal("300.05"),
        "bc1qdest",
    )
    assert wd.verdict is not None and wd.verdict.outcome == "hold"
    assert wd.verdict.rules == ["SIM-001"]
    assert (login.ip, login.ip_country, login.device) == ("203.0.113.9", "NG", "dev-9")
    assert login.summary == "login failed" and login.verdict is None
    assert all(r.occurred_at.tzinfo is not None for r in page.rows)


def test_timeline_filters_by_type_and_pages_back(seeded: Engine) -> None:
    with unit_of_work(session_factory(seeded)) as session:
        deposits = timeline(session, ANALYST, "acc-1", types=["deposit"])
        assert [r.event_id for r in deposits.rows] == [
            "acc-1-dep-2",
            "acc-1-dep-1",
            "acc-1-dep-old",
        ]
        first = timeline(session, ANALYST, "acc-1", limit=3)
        assert len(first.rows) == 3 and first.next_before_seq == first.rows[-1].seq
        rest = timeline(session, ANALYST, "acc-1", limit=5, before_seq=first.next_before_seq)
        assert rest.next_before_seq is None
        seen = [r.event_id for r in first.rows + rest.rows]
        assert len(seen) == len(set(seen)) == 7
        with pytest.raises(ValidationFailed):
            timeline(session, ANALYST, "acc-1", types=["nonsense"])
        with pytest.raises(ValidationFailed):
            timeline(session, ANALYST, "acc-1", limit=0)


def test_lifting_needs_a_reason_and_resolving_a_hold_needs_the_permission(seeded: Engine) -> None:
    with unit_of_work(session_factory(seeded)) as session:
        restriction = account_summary(session, ANALYST, "acc-1", now=NOW).restrictions[0]
        with pytest.raises(ValidationFailed):
            accounts.lift(session, ANALYST, "acc-1", restriction.id, " ")
        accounts.lift(session, ANALYST, "acc-1", restriction.id, "customer verified")
        assert account_summary(session, ANALYST, "acc-1").restrictions == []
        with pytest.raises(Forbidden):
            resolve_hold(session, RULE_AUTHOR, 1, "release", "ok")


def test_payload_decoding_tolerates_every_event_type(seeded: Engine) -> None:
    """Each event type's row renders (no KeyError on fields a type lacks)."""
    events = [
        s.SecurityChange(
            event_id="sec-1",
            account_id="acc-3",
            occurred_at=NOW,
            change=s.SecurityChangeKind.TWO_FA_RESET,
            channel="sms",
        ),
        s.ProviderSignal(
            event_id="sig-1", account_id="acc-3", occurred_at=NOW, signal=s.SignalKind.SIM_SWAP
        ),
        s.P2POrder(
            event_id="p2p-1",
            account_id="acc-3",
            occurred_at=NOW,
            asset="USDT",
            amount=Decimal("50"),
            usd_value=Decimal("50.00"),
            side=s.Side.SELL,
            counterparty_id="acc-9",
            counterparty_name="Bob",
        ),
    ]
    with unit_of_work(session_factory(seeded)) as session:
        ingest(session, [(None, e) for e in events], source="api")
    with unit_of_work(session_factory(seeded)) as session:
        rows = {r.type: r for r in timeline(session, ANALYST, "acc-3").rows}
    assert rows["security.change"].summary == "2fa_reset via sms"
    assert rows["provider.signal"].summary == "sim_swap"
    assert rows["p2p.order"].counterparty == "Bob (acc-9)"
    assert msgspec.json.encode(rows["p2p.order"].usd_value) == b'"50.00"'


def test_each_event_is_found_once_however_far_the_monitor_has_read(seeded: Engine) -> None:
    with unit_of_work(session_factory(seeded)) as session:
        everything = [(r.seq, r.event_id) for r in timeline(session, ANALYST, "acc-1").rows]
        assert len(everything) == 7
        last = session.scalar(select(func.max(EventRecord.seq))) or 0
        for seq in range(1, last + 1):
            _monitor_through(session, seq)
            found = [(r.seq, r.event_id) for r in timeline(session, ANALYST, "acc-1").rows]
            assert found == everything  # the monitor's decisions join in; the events stay
            assert known_accounts(session, ["acc-1", "acc-2", "acc-404"]) == {"acc-1", "acc-2"}
        timeline_rows = session.scalar(select(func.count()).select_from(AccountEvent))
        assert timeline_rows == last
