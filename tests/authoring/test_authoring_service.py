"""The workbench's services on a real database: four-eyes promotion (refused for the same
person and without ``rule:promote``, audited, rollback), hit counts and TP rates from case
outcomes, the editor's validation and drafts, shadow vs live, and a backtest of a draft
against the stored history (the alerts it adds and removes against the live version)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from workbench_seed import seed_history

from riskops.audit.models import AuditEntry
from riskops.auth.permissions import Principal, Role
from riskops.authoring import backtests, promotions, service
from riskops.authoring.models import RequestStatus
from riskops.kernel.clock import utcnow
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from riskops.learn import labels, registry
from riskops.rules import repository as rules_repo
from riskops.rules.service import to_rule

RUI = Principal.for_user(1, "rui", Role.RULE_AUTHOR)
RITA = Principal.for_user(2, "rita", Role.RULE_AUTHOR)
ANA = Principal.for_user(3, "ana", Role.ANALYST)


def _status(session: Session, rule_id: str, version: int) -> str:
    row = rules_repo.get_version(session, rule_id, version)
    assert row is not None
    return row.status


def _audit(session: Session, action: str) -> list[AuditEntry]:
    session.flush()
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_promotion_needs_a_second_person_and_is_audited(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as s:
        h = seed_history(s, "fe", utcnow())
        asked = promotions.request_promotion(s, RUI, "rule", h.rule_id, 2, "live", "better recall")
        assert _status(s, h.rule_id, 2) == "draft"  # nothing changes on a request
        with pytest.raises(Forbidden, match="four-eyes"):
            promotions.approve(s, RUI, asked.id)
        with pytest.raises(Forbidden):
            promotions.approve(s, ANA, asked.id)
        with pytest.raises(Forbidden):
            promotions.request_promotion(s, ANA, "rule", h.rule_id, 2, "live", "x")
        with pytest.raises(Conflict, match="already waiting"):
            promotions.request_promotion(s, RITA, "rule", h.rule_id, 2, "live", "again")
        done = promotions.approve(s, RITA, asked.id, "backtest looks right")
        assert done.status == RequestStatus.APPROVED and done.decided_by == "rita"
        assert _status(s, h.rule_id, 2) == "live"
        assert _status(s, h.rule_id, 1) == "retired"
        with pytest.raises(Conflict, match="already approved"):
            promotions.approve(s, RITA, asked.id)
        (request_entry,) = _audit(s, "promotion.request")
        (approve_entry,) = _audit(s, "promotion.approve")
        assert request_entry.actor == "rui" and approve_entry.actor == "rita"
        assert approve_entry.detail["requested_by"] == "rui"
        events = rules_repo.list_events(s, h.rule_id)
        assert events[-1].by == "rita" and "request #" in events[-1].why


def test_rollback_brings_an_earlier_version_back_and_rejection_needs_a_reason(
    engine: Engine,
) -> None:
    with unit_of_work(session_factory(engine)) as s:
        h = seed_history(s, "rb", utcnow())
        first = promotions.request_promotion(s, RUI, "rule", h.rule_id, 2, "live", "ship v2")
        promotions.approve(s, RITA, first.id)
        with pytest.raises(Conflict, match="cannot become live"):
            promotions.request_promotion(s, RITA, "rule", h.rule_id, 2, "live", "no", rollback=True)
        back = promotions.request_promotion(
            s, RITA, "rule", h.rule_id, 1, "live", "v2 floods the queue", rollback=True
        )
        assert back.rollback
        with pytest.raises(ValidationFailed):
            promotions.reject(s, RUI, back.id, "  ")
        promotions.approve(s, RUI, back.id)
        assert (_status(s, h.rule_id, 1), _status(s, h.rule_id, 2)) == ("live", "retired")
        # A request made against a status that changed meanwhile is not applied.
        stale = promotions.request_promotion(s, RUI, "rule", h.rule_id, 2, "shadow", "watch it")
        other = promotions.request_promotion(s, RUI, "rule", h.rule_id, 2, "live", "or ship it")
        promotions.approve(s, RITA, other.id)
        with pytest.raises(Conflict, match="is live now"):
            promotions.approve(s, RITA, stale.id)
        refused = promotions.reject(s, RITA, stale.id, "overtaken")
        assert refused.status == RequestStatus.REJECTED
        assert _audit(s, "promotion.reject")[0].detail["why"] == "overtaken"
        assert promotions.pending_requests(s, RUI, 10)[1] == 0


def test_list_counts_alerts_and_true_positive_rates_from_case_outcomes(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as s:
        h = seed_history(s, "st", utcnow())
        found = service.listing(s, RUI, q=h.rule_id.lower())
        (row,) = found.rules
        # live alerts: 12k (restricted), 15k (dismissed), 25k (undecided)
        assert (row.live.alerts, row.live.true, row.live.false) == (3, 1, 1)
        assert row.live.tp_rate == 0.5
        assert row.with_status("live") == [1] and row.with_status("draft") == [2]
        assert service.listing(s, RUI, q=h.rule_id, state="shadow").total == 0
        assert service.listing(s, RUI, q=h.rule_id, typology="structuring").total == 1
        with pytest.raises(ValidationFailed):
            service.listing(s, RUI, state="sideways")
        with pytest.raises(Forbidden):
            service.listing(s, ANA)
        assert found.models == [] or found.models_available


def test_the_editor_names_each_bad_field_and_saves_a_draft(engine: Engine) -> None:
    broken = service.NEW_RULE.replace("action: review", "action: maybe").replace(
        "window: 24h", "window: 24y"
    )
    fields = {p.field for p in service.check_document(broken).problems}
    assert fields == {"action", "features.deposits_24h.window"}
    assert service.check_document("id: [").problems[0].field.startswith("line ")
    assert not service.check_document("- a\n- b").valid
    with unit_of_work(session_factory(engine)) as s:
        with pytest.raises(ValidationFailed) as refused:
            service.save_draft(s, RUI, broken)
        assert {d["field"] for d in refused.value.details} == fields
        saved = service.save_draft(s, RUI, service.NEW_RULE)
        assert (saved.rule_id, saved.version, saved.created) == ("NEW-001", 1, True)
        assert not service.save_draft(s, RUI, service.NEW_RULE).created
        assert _audit(s, "rule.draft")[0].subject_id == "NEW-001"
        with pytest.raises(Forbidden):
            service.save_draft(s, ANA, service.NEW_RULE)


def test_shadow_vs_live_counts_overlap_and_outcomes(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as s:
        h = seed_history(s, "sh", utcnow(), shadow=True)
        c = service.compare_shadow(s, RUI, h.rule_id, 30)
        assert (c.shadow.alerts, c.live.alerts, c.overlap) == (2, 3, 0)
        assert c.only_shadow == [h.event_ids[1], h.event_ids[2]]
        assert c.only_live == h.event_ids[3:]
        assert (c.live.true, c.live.false) == (1, 1)
        # the 7k deposit: restricted on another rule's alert, found by the shadow only
        assert (c.shadow.true, c.shadow.false) == (1, 0)
        with pytest.raises(ValidationFailed):
            service.compare_shadow(s, RUI, h.rule_id, 0)
        # The list counts the shadow version's alerts by their events' cases too.
        (row,) = service.listing(s, RUI, q=h.rule_id).rules
        assert (row.shadow.alerts, row.shadow.true, row.shadow.false) == (2, 1, 0)
        assert (row.live.alerts, row.live.true, row.live.false) == (3, 1, 1)
        view = service.rule_view(s, RUI, h.rule_id)
        shadow = view.current("shadow")
        assert shadow is not None and shadow.shadow_rate.true == 1


def test_backtest_of_a_draft_on_stored_history_adds_and_removes_against_live(
    engine: Engine,
) -> None:
    now = utcnow()
    with unit_of_work(session_factory(engine)) as s:
        h = seed_history(s, "bt", now)
        draft = rules_repo.get_version(s, h.rule_id, 2)
        live = rules_repo.get_version(s, h.rule_id, 1)
        assert draft is not None and live is not None
        out = backtests.run_backtest(
            s, to_rule(draft), to_rule(live), now - timedelta(days=30), now
        )
        assert out.added == [h.event_ids[1], h.event_ids[2]] and out.removed == []
        assert (out.draft.hits, out.draft.true, out.draft.false) == (5, 2, 1)
        # the 7k deposit was restricted on another rule's alert: live misses it
        assert out.live is not None and (out.live.true, out.live.positives) == (1, 2)
        assert out.draft.recall == 1.0 and out.live.recall == 0.5
        assert not out.capped
        assert out.label_count == 0 and out.draft_labelled.precision is None
        # learn's labels: the 2k deposit was laundering (no rule flags it), the 25k was not
        labels.write(
            s,
            [
                labels.LabelIn("event", h.event_ids[0], 1, now),
                labels.LabelIn("event", h.event_ids[5], 0, now),
                labels.LabelIn("event", h.event_ids[3], 1, now),
            ],
            "import",
            "tests",
        )
        out = backtests.run_backtest(
            s, to_rule(draft), to_rule(live), now - timedelta(days=30), now
        )
        assert out.label_count == 3
        assert (out.draft_labelled.true, out.draft_labelled.false) == (1, 1)
        assert out.draft_labelled.recall == 0.5 and out.draft_labelled.precision == 0.5
        # Swapped (the live version as the draft): it removes what the draft added.
        back = backtests.run_backtest(
            s, to_rule(live), to_rule(draft), now - timedelta(days=30), now
        )
        assert back.removed == [h.event_ids[1], h.event_ids[2]]
        capped = backtests.run_backtest(
            s, to_rule(draft), None, now - timedelta(days=30), now, cap=2
        )
        assert capped.capped and capped.events == 2


def test_a_backtest_job_runs_in_the_background(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as s:
        h = seed_history(s, "jb", utcnow())
    jobs = backtests.Jobs()
    with unit_of_work(sessions) as s:
        with pytest.raises(ValidationFailed):
            jobs.start(s, sessions, RUI, h.rule_id, 2, days=0)
        with pytest.raises(Forbidden):
            jobs.start(s, sessions, ANA, h.rule_id, 2)
        job = jobs.start(s, sessions, RUI, h.rule_id, 2)
    deadline = time.monotonic() + 60
    while jobs.get(RUI, job.id).state in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert job.state == "done", job.error
    assert job.result is not None and job.result.added == [h.event_ids[1], h.event_ids[2]]


def test_a_model_version_is_promoted_only_with_a_second_person(engine: Engine) -> None:
    now = utcnow()
    trained = registry.Trained(b"artifact", 0.5, now - timedelta(days=9), now, {"f1": 0.8})
    with unit_of_work(session_factory(engine)) as s:
        registry.register(s, RUI, "wb-model", trained)
        asked = promotions.request_promotion(s, RUI, "model", "wb-model", 1, "shadow", "watch")
        with pytest.raises(Forbidden, match="four-eyes"):
            promotions.approve(s, RUI, asked.id)
        found = service.listing(s, RUI)
        assert [(v.model_id, v.status) for v in found.models] == [("wb-model", "draft")]
        assert found.models_pending == {"wb-model"}
        promotions.approve(s, RITA, asked.id)
        assert registry.get_version(s, "wb-model", 1).status == "shadow"
        events = registry.history(s, "wb-model", 1)
        assert events[-1].by == "rita" and "request #" in events[-1].why
        with pytest.raises(NotFound):
            promotions.request_promotion(s, RUI, "model", "wb-model", 7, "live", "none")
