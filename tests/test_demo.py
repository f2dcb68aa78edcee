"""``riskops demo`` is workable: the held-withdrawal backlog it opens fits the analysts on
shift (what they can clear inside the queue's SLA, from the demo's own settings), the
month's earlier cases were worked and left no withdrawal held, and the overview's backlog
and breaches move as the analysts on shift work their cases. On SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path

from rich.console import Console
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from riskops import demo_casework as casework
from riskops.auth.permissions import Principal
from riskops.auth.service import user_principal
from riskops.authoring import promotions
from riskops.authoring.models import SubjectKind
from riskops.cases import decisions
from riskops.cases.holds import held_withdrawals
from riskops.cases.models import ActionKind, CaseStatus
from riskops.cases.schemas import DecisionIn, HoldChoice, NoteSections
from riskops.cases.service import QueueStats, list_queue_cases, my_cases, queue_overview
from riskops.cases.shifts import on_shift
from riskops.demo import DEMO_MODEL, DemoOptions, prepare
from riskops.kernel.clock import utcnow
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory, unit_of_work
from riskops.learn import registry
from riskops.monitor import repository as monitor_repo
from riskops.monitor.models import HoldStatus
from riskops.reports import detection
from riskops.reports import repository as report_repo
from riskops.sim import load_labels

HELD = casework.HELD_QUEUE
SYSTEM = Principal.system("tests")
NOTE = NoteSections(
    summary="Held withdrawal reviewed.",
    evidence="Alerts, the 30-day timeline.",
    findings="Usual behaviour of the customer.",
    decision="Release.",
    rationale="No sign of the typology.",
)


def _held(session: Session, at: datetime) -> QueueStats:
    return next(q for q in queue_overview(session, SYSTEM, at) if q.key == HELD)


def _open_cases_holds(session: Session) -> set[int]:
    ids: set[int] = set()
    for queue in queue_overview(session, SYSTEM):
        for case in list_queue_cases(session, SYSTEM, queue.key, limit=500):
            ids |= {h.id for h in held_withdrawals(session, SYSTEM, case.id)}
    return ids


def test_the_demo_backlog_fits_the_shift_and_recovers_as_it_is_worked(
    engine: Engine, tmp_path: Path
) -> None:
    # Small enough to be quick, large enough that the shift on duty inherits held withdrawals.
    options = DemoOptions(accounts=2000, days=7, serve=False, data_dir=tmp_path)
    printed = io.StringIO()
    settings = Settings(data_dir=tmp_path, database_url="")
    _, seeded = prepare(Console(file=printed, width=200), settings, engine, options)
    sim = tmp_path / "sim"
    worked = seeded.history
    assert worked is not None

    with unit_of_work(session_factory(engine)) as session:
        now = utcnow()
        held = _held(session, now)
        analysts = on_shift(session, now)
        # The load fits: what is open is at most what the analysts on shift clear inside
        # the SLA, at the demo's minutes per held withdrawal.
        per_analyst = held.sla_minutes // casework.HOLD_REVIEW_MINUTES
        assert len(analysts) >= 2, "every shift of the demo rota has two people"
        assert per_analyst >= 1, "the SLA leaves time for a held withdrawal"
        assert 0 < held.open <= len(analysts) * per_analyst
        assert held.breached == 0
        assert worked.capacity == len(analysts) * per_analyst
        assert sorted(seeded.on_shift) == sorted(u.username for u in analysts)
        text = " ".join(printed.getvalue().split())  # as printed, without rich's wrapping
        assert f"clears {worked.capacity} held withdrawals inside the SLA" in text
        # The detection table is scored on every alert of the month, after the case work
        # too: working cases changes no alert, so recall and precision are not gamed.
        report = detection.score_detection(report_repo.alert_refs(session), *load_labels(sim))
        assert report.alerts > 0
        assert f"│ all │ │ │ │ │ {report.alerts:,} │ {detection.pct(report.precision)} │" in text
        # The model of another month is live, made so by two people (four-eyes), and it
        # alerted on this month with its reasons.
        running = registry.running(session)
        assert [(m.model_id, m.status) for m in running] == [(DEMO_MODEL, "live")]
        asked = promotions.subject_requests(session, SYSTEM, SubjectKind.MODEL, DEMO_MODEL)
        assert [(r.requested_by, r.decided_by, r.status) for r in asked] == [
            ("rui", "lena", "approved")
        ]
        model_alerts = [
            a for a in report_repo.alert_refs(session) if a.rule_id.startswith("MODEL:")
        ]
        assert model_alerts
        assert (
            f"model {DEMO_MODEL} v1 (" in text and "live after Rui asked and Lena approved" in text
        )
        # The month's earlier cases were worked, and left no withdrawal held behind them.
        assert worked.cases > held.open and worked.released + worked.rejected > 0
        still_held = {h.id for h in monitor_repo.list_holds(session, HoldStatus.HELD, 10**6, 0)}
        assert still_held and still_held <= _open_cases_holds(session)

        # Unworked, every open held withdrawal breaches once the SLA runs out; each one the
        # shift works leaves the backlog and the breaches.
        past_sla = now + timedelta(minutes=held.sla_minutes + 1)
        unworked = _held(session, past_sla)
        assert unworked.breached == held.open
        done = 0
        for user in analysts:
            analyst = user_principal(user)
            for case in my_cases(session, analyst):
                if case.queue_key != HELD or done == held.open - 1:
                    continue  # leave one, so the count is not merely zeroed
                choices = [
                    HoldChoice(hold_id=h.id, resolution="release")
                    for h in held_withdrawals(session, analyst, case.id)
                ]
                body = DecisionIn(
                    action=ActionKind.DISMISS,
                    reason_code="false_positive",
                    note=NOTE,
                    holds=choices,
                )
                decisions.decide(session, analyst, case.id, body, now=now)
                assert case.status is CaseStatus.CLOSED
                done += 1
        assert done >= 1 or held.open == 1
        assert _held(session, now).open == held.open - done
        assert _held(session, past_sla).breached == unworked.breached - done

        # Issue 11's parts are in the demo: a SAR approved with a valid export, customers
        # contacted through the outbox, QA samples waiting, a month of trends rolled up.
        from sqlalchemy import func, select

        from riskops.contact.models import ContactMessage
        from riskops.outbound.models import OutboundMessage
        from riskops.qa.models import Sample, SampleStatus
        from riskops.reports.models import ReportDaily
        from riskops.sar.models import SarExport, SarReport, SarStatus

        approved = session.scalars(
            select(SarReport.id).where(SarReport.status == SarStatus.APPROVED)
        ).all()
        assert approved, "the demo leaves a SAR approved"
        exported = session.scalar(
            select(func.count()).select_from(SarExport).where(SarExport.sar_id.in_(approved))
        )
        assert exported, "the approved SAR has a validated export"
        contacted = session.scalar(select(func.count()).select_from(ContactMessage))
        queued = session.scalar(
            select(func.count())
            .select_from(OutboundMessage)
            .where(OutboundMessage.case_id.is_not(None))
        )
        assert contacted and queued and queued >= contacted
        waiting = session.scalar(
            select(func.count()).select_from(Sample).where(Sample.status == SampleStatus.WAITING)
        )
        assert waiting, "QA samples wait for a reviewer"
        days = session.scalar(select(func.count(func.distinct(ReportDaily.day))))
        assert days is not None and days >= 28, f"a month of trends, not {days} days"
