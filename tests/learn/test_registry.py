"""The model registry: a version's life (draft -> shadow -> live -> retired), one live and
one shadow at a time, rollback, refused moves, the permission, the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from riskops.audit.models import AuditEntry
from riskops.auth.permissions import Principal, Role
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from riskops.learn import registry

AUTHOR = Principal.for_user(1, "ana", Role.RULE_AUTHOR)
ANALYST = Principal.for_user(2, "bo", Role.ANALYST)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _trained(threshold: float = 0.5) -> registry.Trained:
    return registry.Trained(
        artifact=b"model bytes",
        threshold=threshold,
        span_first=T0,
        span_last=datetime(2026, 2, 1, tzinfo=UTC),
        metrics={"test": {"f1": 0.8}},
    )


def _statuses(engine: Engine) -> dict[int, str]:
    with unit_of_work(session_factory(engine)) as s:
        return {v.version: v.status for v in registry.list_models(s, "aml")}


def test_life_cycle_one_live_and_one_shadow_at_a_time(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as s:
        first = registry.register(s, AUTHOR, "aml", _trained(0.4))
        second = registry.register(s, AUTHOR, "aml", _trained(0.6))
        assert (first.version, first.status, second.version) == (1, "draft", 2)
        assert first.trained_by == "ana" and first.span_first == T0
        assert registry.running(s) == []
    with unit_of_work(sessions) as s:
        registry.set_status(s, AUTHOR, "aml", 1, "shadow", "looks right")
        registry.set_status(s, AUTHOR, "aml", 1, "live", "shadow week ok")
        registry.set_status(s, AUTHOR, "aml", 2, "shadow", "next candidate")
    assert _statuses(engine) == {1: "live", 2: "shadow"}
    with unit_of_work(sessions) as s:
        registry.set_status(s, AUTHOR, "aml", 2, "live", "better F1")
    assert _statuses(engine) == {1: "retired", 2: "live"}
    with unit_of_work(sessions) as s:
        [running] = registry.running(s)
        assert (running.version, running.status, running.artifact) == (2, "live", b"model bytes")
        registry.rollback(s, AUTHOR, "aml", 1, "v2 alerts too much")
    assert _statuses(engine) == {1: "live", 2: "retired"}
    with unit_of_work(sessions) as s:
        moves = [(e.from_status, e.to_status, e.by) for e in registry.history(s, "aml", 1)]
        assert moves == [
            (None, "draft", "ana"),
            ("draft", "shadow", "ana"),
            ("shadow", "live", "ana"),
            ("live", "retired", "ana"),
            ("retired", "live", "ana"),
        ]
        audited = s.scalars(
            select(AuditEntry.detail).where(AuditEntry.action == "model.status")
        ).all()
        assert len(audited) == 5  # one per set_status; the retired ones are in the history
        assert audited[-1] == {"from": "retired", "to": "live", "why": "v2 alerts too much"}


def test_refused_moves(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as s:
        registry.register(s, AUTHOR, "aml", _trained())
        registry.set_status(s, AUTHOR, "aml", 1, "live", "go")
    with unit_of_work(sessions) as s:
        with pytest.raises(Conflict):
            registry.set_status(s, AUTHOR, "aml", 1, "shadow", "back to shadow")
        with pytest.raises(ValidationFailed):
            registry.set_status(s, AUTHOR, "aml", 1, "retired", "   ")
        with pytest.raises(ValidationFailed):
            registry.set_status(s, AUTHOR, "aml", 1, "gone", "why")
        with pytest.raises(ValidationFailed):
            registry.rollback(s, AUTHOR, "aml", 1, "it is live, not retired")
        with pytest.raises(NotFound):
            registry.set_status(s, AUTHOR, "aml", 9, "live", "no such version")
        with pytest.raises(ValidationFailed):
            registry.register(s, AUTHOR, "Bad Id!", _trained())
        with pytest.raises(ValidationFailed):
            registry.register(s, AUTHOR, "m" * 49, _trained())
    assert _statuses(engine) == {1: "live"}


def test_permissions_are_checked_in_the_service(engine: Engine) -> None:
    sessions = session_factory(engine)
    with unit_of_work(sessions) as s:
        with pytest.raises(Forbidden):
            registry.register(s, ANALYST, "aml", _trained())
        registry.register(s, AUTHOR, "aml", _trained())
    with unit_of_work(sessions) as s, pytest.raises(Forbidden):
        registry.set_status(s, ANALYST, "aml", 1, "live", "I want it")
    assert _statuses(engine) == {1: "draft"}


def test_list_models_pages(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as s:
        for _ in range(5):
            registry.register(s, AUTHOR, "aml", _trained())
        registry.register(s, AUTHOR, "fraud", _trained())
        page = registry.list_models(s, limit=2, offset=1)
        assert [(v.model_id, v.version) for v in page] == [("aml", 4), ("aml", 3)]
        assert registry.count_models(s) == 6 and registry.count_models(s, "fraud") == 1
        assert registry.get_version(s, "fraud", 1).threshold == 0.5
