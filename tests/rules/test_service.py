"""Rule versions in the database: drafts, promotion, the sets that run."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.errors import Conflict, NotFound, ValidationFailed
from riskops.rules import repository as repo
from riskops.rules import service
from riskops.rules.types import RuleStatus

from .helpers import rule

DOC = rule(["login"], {"field": "success", "eq": False}, id="CS-9")


def test_save_promote_and_list(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as s:
        assert service.save_drafts(s, [DOC], "ana") == [service.Saved("CS-9", 1, True)]
        assert service.save_drafts(s, [dict(DOC, version=7)], "ana") == [
            service.Saved("CS-9", 1, False)
        ]  # unchanged: the store owns the version number
        assert service.running_rules(s) == []
    with unit_of_work(sessions) as s:
        service.promote(s, "CS-9", 1, "shadow", "ana")
        [shadow] = service.running_rules(s)
        assert shadow.status is RuleStatus.SHADOW and shadow.version == 1
        assert service.live_rules(s) == []
        service.promote(s, "CS-9", 1, RuleStatus.LIVE, "bo", why="backtest ok")
    with unit_of_work(sessions) as s:
        changed = dict(DOC, score=20)
        assert service.save_drafts(s, [changed], "ana") == [service.Saved("CS-9", 2, True)]
        service.promote(s, "CS-9", 2, "live", "bo")
        statuses = {(v.version, v.status) for v in service.list_versions(s, "CS-9")}
        assert statuses == {(1, "retired"), (2, "live")}
        [live] = service.live_rules(s)
        assert (live.version, live.score) == (2, 20)
        events = [(e.version, e.from_status, e.to_status) for e in repo.list_events(s, "CS-9")]
        assert events == [
            (1, None, "draft"),
            (1, "draft", "shadow"),
            (1, "shadow", "live"),
            (2, None, "draft"),
            (1, "live", "retired"),
            (2, "draft", "live"),
        ]
    assert [r.version for r in service.monitor_rules(engine)] == [2]


def test_refusals(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as s:
        service.save_drafts(s, [DOC], "ana")
        with pytest.raises(NotFound):
            service.promote(s, "CS-9", 5, "live", "ana")
        service.promote(s, "CS-9", 1, "live", "ana")
        with pytest.raises(Conflict):
            service.promote(s, "CS-9", 1, "draft", "ana")
        with pytest.raises(ValidationFailed) as info:
            service.save_drafts(s, [dict(DOC, score=500)], "ana")
        assert info.value.details == ["rules[0].score: expected an integer in 0..100"]


def test_transitions_are_a_pure_rule() -> None:
    service.check_transition(RuleStatus.DRAFT, RuleStatus.SHADOW)
    service.check_transition(RuleStatus.RETIRED, RuleStatus.LIVE)  # rollback
    with pytest.raises(Conflict):
        service.check_transition(RuleStatus.LIVE, RuleStatus.SHADOW)


def test_seeding_installs_the_pack_once_at_its_statuses(engine: Engine) -> None:
    from riskops.monitor.evaluators import monitor_rules
    from riskops.rules.definition import load_default_pack

    pack = {r.id: r.status for r in load_default_pack()}
    sessions = session_factory(engine)
    with unit_of_work(sessions) as s:
        assert service.seed_default_pack(s) == len(pack)
        assert service.seed_default_pack(s) == 0  # the store is no longer empty
        running = {r.id: r.status for r in service.running_rules(s)}
    assert running == {i: st for i, st in pack.items() if st is not RuleStatus.DRAFT}
    # Changing one rule leaves the rest of the pack running as before.
    with unit_of_work(sessions) as s:
        service.promote(s, "SX-001", 1, "retired", "ana", why="replaced by a vendor feed")
    ids = {r.id for r in monitor_rules(engine)}
    assert ids == set(running) - {"SX-001"}
